"""System checks (``manage.py check``) that flag unsafe onboarding settings."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.shortcuts import resolve_url
from django.urls import NoReverseMatch, reverse

from .conf import SETTING_NAME, library_settings, option, raw_config
from .environ import BACKEND

#: Keys shorter than this work but are flagged: 32 is the hard floor, 50 what Django asks.
RECOMMENDED_KEY_LENGTH = 50


#: The URL name ``LOGIN_URL`` should name, so that ``@login_required`` reaches the login.
LOGIN_URL_NAME = "cegema_onboarding:login"


def register() -> None:
    """Register the checks (called from the app's ``ready``)."""
    checks.register(check_settings)
    checks.register(check_wiring)
    checks.register(check_login_url, checks.Tags.urls)


def check_settings(app_configs: Sequence[Any] | None = None,
                   **kwargs: object) -> list[checks.CheckMessage]:
    """The checks that run on every ``manage.py check`` and server start."""
    return _check()


def _check() -> list[checks.CheckMessage]:
    out: list[checks.CheckMessage] = []
    try:
        raw = raw_config()
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="cegema_onboarding.E001")]
    if not raw.get("BASE_URL"):
        out.append(checks.Error(
            f"{SETTING_NAME}['BASE_URL'] is missing: links in mails need a configured base "
            "URL, never the request's Host header.",
            hint="Set it to the public https URL where this app's URLs are served.",
            id="cegema_onboarding.E002"))
    try:
        lib = library_settings()
    except ImproperlyConfigured as exc:
        if raw.get("BASE_URL"):
            out.append(checks.Error(str(exc), id="cegema_onboarding.E001"))
        return out
    if urlsplit(lib.base_url).scheme != "https" and not settings.DEBUG:
        out.append(checks.Warning(
            f"{SETTING_NAME}['BASE_URL'] is not https while DEBUG is off: links would "
            "carry tokens in clear.", id="cegema_onboarding.W001"))
    keys = list(lib.secret_keys) + [k for _, k in lib.pepper_keys]
    if any(len(k) < RECOMMENDED_KEY_LENGTH for k in keys):
        out.append(checks.Warning(
            f"a key in {SETTING_NAME} is shorter than {RECOMMENDED_KEY_LENGTH} characters.",
            hint="Generate keys with secrets.token_urlsafe(48).", id="cegema_onboarding.W002"))
    django_key = getattr(settings, "SECRET_KEY", None)
    if django_key and django_key in keys:
        out.append(checks.Warning(
            f"a key in {SETTING_NAME} is Django's SECRET_KEY: the pepper must live outside "
            "the settings that sign sessions, and keys must not be shared between uses.",
            id="cegema_onboarding.W003"))
    stated = option("RECOVERY_POLICY")
    if lib.secret_questions and not stated:
        out.append(checks.Warning(
            "secret questions are on without a stated recovery policy: knowledge-based "
            "recovery is below ASVS L1 on its own.",
            hint=f"Set {SETTING_NAME}['RECOVERY_POLICY'] to {lib.recovery_policy.value!r} "
                 "to state that a reset needs the emailed link and the answer, or set "
                 "SECRET_QUESTIONS to False.",
            id="cegema_onboarding.W005"))
    elif stated and str(getattr(stated, "value", stated)) != lib.recovery_policy.value:
        out.append(checks.Error(
            f"{SETTING_NAME}['RECOVERY_POLICY'] says {str(getattr(stated, 'value', stated))!r} "
            f"but the settings give {lib.recovery_policy.value!r}.",
            hint="SECRET_QUESTIONS decides the policy: link and answer when on, link only "
                 "when off.",
            id="cegema_onboarding.E003"))
    if not settings.USE_TZ:
        out.append(checks.Warning(
            "USE_TZ is off: onboarding times are stored as UTC wall-clock values.",
            id="cegema_onboarding.W006"))
    middleware = getattr(settings, "MIDDLEWARE", []) or []
    epoch = "cegema_onboarding.integrations.django.middleware.SessionEpochMiddleware"
    if option("CREATE_USERS") and epoch not in middleware:
        out.append(checks.Warning(
            "SessionEpochMiddleware is not installed: a password change would not end the "
            "member's other logged-in sessions.",
            hint=f"Add {epoch!r} after AuthenticationMiddleware.",
            id="cegema_onboarding.W007"))
    if not settings.DEBUG:
        # Django's own warnings for these (security.W012, W016) only run with --deploy;
        # the member's session and CSRF cookies must not travel over plain http.
        for name in ("SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE"):
            if not getattr(settings, name, False):
                out.append(checks.Warning(
                    f"{name} is off while DEBUG is off: the browser would send that cookie "
                    "over plain http too, where anyone on the way can read it.",
                    hint=f"Set {name} = True in the settings (the site is served over "
                         "https).",
                    id="cegema_onboarding.W008"))
    return out


def check_wiring(app_configs: Sequence[Any] | None = None,
                 **kwargs: object) -> list[checks.CheckMessage]:
    """The host settings the app leans on: its database alias and its auth backend."""
    out: list[checks.CheckMessage] = []
    try:
        alias = option("DATABASE")
    except ImproperlyConfigured:
        return out  # check_settings reports a malformed CEGEMA_ONBOARDING
    databases = getattr(settings, "DATABASES", {}) or {}
    if alias not in databases:
        # Caught here rather than at the first request, as a 500.
        out.append(checks.Error(
            f"{SETTING_NAME}['DATABASE'] is {alias!r}, which is not a key of "
            f"settings.DATABASES ({', '.join(sorted(map(repr, databases))) or 'none'}).",
            hint=f"Set {SETTING_NAME}['DATABASE'] to one of the DATABASES aliases, or leave "
                 "it out to use 'default'.",
            id="cegema_onboarding.E004"))
    backends = getattr(settings, "AUTHENTICATION_BACKENDS", []) or []
    if option("CREATE_USERS") and BACKEND not in backends:
        # Without it, django.contrib.auth cannot load the user the app logged in, so the
        # journey completes and request.user stays anonymous.
        out.append(checks.Warning(
            "OnboardingBackend is not in AUTHENTICATION_BACKENDS: members who complete the "
            "journey would not be logged in as Django users (request.user stays anonymous).",
            hint=f"Add {BACKEND!r} to AUTHENTICATION_BACKENDS, or set "
                 f"{SETTING_NAME}['CREATE_USERS'] to False.",
            id="cegema_onboarding.W009"))
    return out


def check_login_url(app_configs: Sequence[Any] | None = None,
                    **kwargs: object) -> list[checks.CheckMessage]:
    """``LOGIN_URL`` leads to the onboarding login, so ``@login_required`` reaches it."""
    try:
        login = reverse(LOGIN_URL_NAME)
    except NoReverseMatch:
        return [checks.Warning(
            "the onboarding URLs are not included in the URLconf: members cannot log in.",
            hint='Add path("", include("cegema_onboarding.integrations.django.urls")) to '
                 "the project's urls.py.",
            id="cegema_onboarding.W011")]
    configured = str(getattr(settings, "LOGIN_URL", "") or "")
    try:
        target = resolve_url(configured)
    except NoReverseMatch:
        target = configured
    if urlsplit(str(target)).path == login:
        return []
    return [checks.Warning(
        f"LOGIN_URL is {configured!r}, not the onboarding login ({login}): @login_required "
        "would send members elsewhere (a 404 in a new project).",
        hint=f"Set LOGIN_URL = {LOGIN_URL_NAME!r}, or silence cegema_onboarding.W010 if "
             "members log in elsewhere on purpose.",
        id="cegema_onboarding.W010")]
