"""The pure handlers of the journey, one module per part of it.

:mod:`cegema_onboarding.flow` is the public entry: it holds the table and the gate,
dispatches each event to its handler here, and re-exports the names callers use. These
modules import only the model, the settings and the leaf recipes (normalize, tokens,
credentials, remember, password_policy ...): never ports, the service, mail or adapters.
"""
