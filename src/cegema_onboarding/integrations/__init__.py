"""Thin web-framework integrations. Each one is optional and imports its framework itself.

The core (:mod:`cegema_onboarding.flow`, :mod:`cegema_onboarding.service`) never imports
anything from here.
"""
