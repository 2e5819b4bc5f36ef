"""The Content-Security-Policy of the onboarding pages, and its per-request nonce.

The policy is a setting of the extension (``CEGEMA_ONBOARDING_CSP``: a mapping of
directive to sources) with a safe default. Every response of the blueprint gets a fresh
nonce, added to ``script-src`` and ``style-src``: a host layout that wraps the screens
marks its own inline ``<script>`` or ``<style>`` with ``nonce="{{ csp_nonce }}"`` and
keeps the policy strict, rather than loosening it with ``'unsafe-inline'``.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Final

from flask import g

from ...errors import ConfigurationError

#: The default policy: the site's own files only, no plugin, no framing, forms posted
#: to the site only.
DEFAULT_CSP: Final[Mapping[str, tuple[str, ...]]] = {
    "default-src": ("'self'",),
    "img-src": ("'self'", "data:"),
    "frame-ancestors": ("'none'",),
    "form-action": ("'self'",),
    "base-uri": ("'none'",),
    "object-src": ("'none'",),
}

# The directives the nonce goes into; when the policy has none of its own, each starts
# from default-src, which is what a browser would have applied to it.
_NONCED: Final = ("script-src", "style-src")
# What may not appear in a source: it would end the directive or the header.
_FORBIDDEN: Final = frozenset(";,\r\n")


def read_policy(value: object) -> Mapping[str, tuple[str, ...]]:
    """The policy set in ``CEGEMA_ONBOARDING_CSP``, checked once at ``init_app``."""
    if value is None:
        return DEFAULT_CSP
    if not isinstance(value, Mapping) or not value:
        raise ConfigurationError(
            "CEGEMA_ONBOARDING_CSP must be a non-empty mapping of directive to sources, "
            "such as {\"default-src\": [\"'self'\"]}")
    policy: dict[str, tuple[str, ...]] = {}
    for directive, sources in value.items():
        if isinstance(sources, str) or not all(isinstance(s, str) for s in sources):
            raise ConfigurationError(
                f"CEGEMA_ONBOARDING_CSP[{directive!r}] must be a list of sources, "
                "each a string")
        items = tuple(sources)
        text = str(directive) + "".join(items)
        if not isinstance(directive, str) or any(c in _FORBIDDEN for c in text):
            raise ConfigurationError(
                f"CEGEMA_ONBOARDING_CSP[{directive!r}] holds ';', ',' or a line break")
        policy[directive.strip().lower()] = items
    return policy


def nonce() -> str:
    """This request's nonce, made on first use (128 random bits)."""
    current = g.get("cegema_csp_nonce")
    if isinstance(current, str):
        return current
    made = secrets.token_urlsafe(16)
    g.cegema_csp_nonce = made
    return made


def header(policy: Mapping[str, tuple[str, ...]], request_nonce: str) -> str:
    """The header's value: ``policy`` with the nonce in ``script-src`` and ``style-src``."""
    directives = {name: list(sources) for name, sources in policy.items()}
    fallback = directives.get("default-src", [])
    for name in _NONCED:
        sources = directives.setdefault(name, list(fallback))
        # 'none' with another source is invalid: the nonce replaces it.
        directives[name] = [s for s in sources if s != "'none'"] + [f"'nonce-{request_nonce}'"]
    return "; ".join(" ".join([name, *sources]) for name, sources in directives.items())
