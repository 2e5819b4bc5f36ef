"""The Flask extension: one blueprint that turns requests into service calls.

Every view does three things: read the form, call one :class:`OnboardingService` method,
and turn the result into a response (:class:`Ok` → redirect to the next screen,
``Refused`` → the same form with the reason next to its field, ``Screen`` → the page).
No rule of the journey lives here.

This module only wires: it reads ``app.config``, builds the blueprint from :mod:`.views`
and hangs the per-request hooks on it. The helpers the views use live in
:mod:`._context`, which imports neither the views nor this module, so the imports run one
way: ``extension -> views -> _context``. The helpers are re-exported here under their old
names, for hosts that imported them from this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import ExitStack
from datetime import timedelta
from typing import Any, cast

from flask import Blueprint, Flask, Response, abort, g, request
from werkzeug.wrappers import Response as WerkzeugResponse

from ...config import Settings
from ...errors import ConfigurationError
from ...model import Session
from ...ports import HeldConnection
from ...service import OnboardingService
from ..logfilter import redact_tokens_in
from . import views
from ._context import BLUEPRINT as BLUEPRINT
from ._context import EXTENSION_KEY as EXTENSION_KEY
from ._context import STEP_ENDPOINTS as STEP_ENDPOINTS
from ._context import FormErrors as FormErrors
from ._context import WebConfig as WebConfig
from ._context import client_ip as client_ip
from ._context import config as config
from ._context import current_screen as current_screen
from ._context import follow as follow
from ._context import forget_remembered as forget_remembered
from ._context import form_errors as form_errors
from ._context import go as go
from ._context import go_step as go_step
from ._context import lang as lang
from ._context import link_token as link_token
from ._context import link_view as link_view
from ._context import refused_redirect as refused_redirect
from ._context import render as render
from ._context import restore_remembered as restore_remembered
from ._context import service as service
from ._context import session_lost as session_lost
from ._context import state as state
from ._context import t as t
from ._context import translator as translator
from ._context import user_agent as user_agent
from .csp import header as csp_header
from .csp import nonce as csp_nonce
from .csp import read_policy
from .health import install_request_ids
from .members import Member, current_member, member_required, template_context, use_flask_login
from .websession import CookieCodec, WebState


class Onboarding:
    """The Flask extension: ``Onboarding(app, service=...)`` or ``init_app`` later.

    Without ``service``, one is read from ``app.config["CEGEMA_ONBOARDING_SERVICE"]``; if
    that is absent too, the extension builds one from the ``CEGEMA_ONBOARDING_*`` keys
    (see docs/flask.md).
    """

    def __init__(self, app: Flask | None = None, service: OnboardingService | None = None
                 ) -> None:
        self._service = service
        if app is not None:
            self.init_app(app)

    # ------------------------------------------------------------------ wiring

    def init_app(self, app: Flask) -> None:
        """Register the blueprint and the cookie handling on ``app``."""
        service = self._service or app.config.get("CEGEMA_ONBOARDING_SERVICE")
        if service is None:
            service = _build_service(app)
        if not isinstance(service, OnboardingService):
            raise ConfigurationError("CEGEMA_ONBOARDING_SERVICE must be an OnboardingService")
        key = (app.config.get("CEGEMA_ONBOARDING_SESSION_KEY") or app.config.get("SECRET_KEY")
               or _shared("CEGEMA_SESSION_KEY"))
        if not key or len(key) < 32:
            raise ConfigurationError("set SECRET_KEY, CEGEMA_ONBOARDING_SESSION_KEY or the "
                                     "CEGEMA_SESSION_KEY variable (32 characters or more)")
        lifetime = _seconds(app.config.get("CEGEMA_ONBOARDING_SESSION_LIFETIME", 1800))
        secure_default = not (app.debug or app.testing)
        secure = bool(app.config.get("CEGEMA_ONBOARDING_COOKIE_SECURE", secure_default))
        prefix = str(app.config.get("CEGEMA_ONBOARDING_URL_PREFIX", "")).rstrip("/")
        profile_context = app.config.get("CEGEMA_ONBOARDING_PROFILE_CONTEXT")
        layout = app.config.get("CEGEMA_ONBOARDING_LAYOUT")
        if layout is not None and not (isinstance(layout, str) and layout):
            raise ConfigurationError("CEGEMA_ONBOARDING_LAYOUT must be a template name")
        cfg = WebConfig(
            service=service,
            codec=CookieCodec(key, int(lifetime.total_seconds())),
            secure=secure,
            url_prefix=prefix,
            session_lifetime=lifetime,
            brand=str(app.config.get("CEGEMA_ONBOARDING_BRAND", service.settings.mail.brand)),
            tagline=str(app.config.get("CEGEMA_ONBOARDING_TAGLINE", "")),
            profile_context=profile_context if callable(profile_context) else None,
            csp=read_policy(app.config.get("CEGEMA_ONBOARDING_CSP")),
            layout=layout,
        )
        app.extensions[EXTENSION_KEY] = cfg
        root = bool(app.config.get("CEGEMA_ONBOARDING_ROOT_REDIRECT", False))
        app.register_blueprint(_build_blueprint(service.settings, root),
                               url_prefix=prefix or None)
        app.after_request(_save_state)
        # One database connection per request (SqlStorage on PostgreSQL), checked out at
        # the first storage call and given back at the end: see OnboardingService.request.
        # Storages that hold nothing skip both hooks on every request.
        if isinstance(service.storage, HeldConnection):
            app.before_request(_hold_connection)
            app.teardown_request(_release_connection)
        # current_member in the host's templates too, so a layout can greet the member.
        app.context_processor(template_context)
        # Werkzeug's server logs each request line, the first GET of a link included.
        redact_tokens_in("werkzeug")
        install_request_ids(app)

    # ------------------------------------------------------------------ helpers for hosts

    @staticmethod
    def current_session() -> Session | None:
        """The onboarding session of the current request (None when not logged in)."""
        return state().session

    @staticmethod
    def current_member() -> Member | None:
        """The logged-in member (``onboarded`` once the journey is done), or ``None``."""
        return current_member()

    #: Decorator for a host view: onboarded members only (see :func:`.members.member_required`).
    member_required = staticmethod(member_required)

    @staticmethod
    def use_flask_login(login_manager: Any) -> None:
        """Give Flask-Login's ``current_user`` the onboarded member (opt-in)."""
        use_flask_login(login_manager)

    @staticmethod
    def csrf_token() -> str:
        """The CSRF token to put in a host form that posts to a protected view."""
        return state().csrf

    @staticmethod
    def check_csrf() -> None:
        """Abort with 400 unless the request's form carries this session's CSRF token."""
        if not state().csrf_ok(request.form.get("csrf_token")):
            abort(400)

# ---------------------------------------------------------------------- per-request hooks

def _hold_connection() -> None:
    held = ExitStack()
    held.enter_context(config().service.request())
    g.cegema_held = held


def _release_connection(_error: BaseException | None) -> None:
    held = g.pop("cegema_held", None)
    if isinstance(held, ExitStack):
        held.close()


def _save_state(response: Response) -> Response:
    current = g.get("cegema_state")
    if not isinstance(current, WebState):
        return response
    cfg = config()
    if cfg.codec.needs_dump(current):
        # Signed again when it changed, and once a minute otherwise, so that the idle
        # timeout slides without a new signature on every request.
        response.set_cookie(
            cfg.session_cookie, cfg.codec.dump(current), max_age=None, path="/",
            secure=cfg.secure, httponly=True, samesite="Lax")
    response.vary.add("Cookie")
    remember = g.get("cegema_remember")
    if isinstance(remember, str):
        if remember:
            response.set_cookie(
                cfg.remember_cookie, remember, path="/", secure=cfg.secure, httponly=True,
                samesite="Lax", max_age=int(cfg.service.settings.remember_lifetime.total_seconds()))
        else:
            response.delete_cookie(cfg.remember_cookie, path="/", secure=cfg.secure,
                                   httponly=True, samesite="Lax")
    return response

def _before() -> WerkzeugResponse | None:
    if request.method == "POST":
        if not state().csrf_ok(request.form.get("csrf_token")):
            return cast(WerkzeugResponse, render("message.html", 400, title=t("ui.csrf"),
                                                 message=t("ui.csrf"), back="index"))
    elif request.endpoint != f"{BLUEPRINT}.static":
        restore_remembered()
    return None

def _security_headers(response: Response) -> Response:
    # Link pages carry a token in their URL: no-referrer keeps it off third-party logs.
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    # The page's nonce: the one its template used, or a fresh one (a redirect has none).
    response.headers.setdefault("Content-Security-Policy",
                                csp_header(config().csp, csp_nonce()))
    return keep_lang(response)


def keep_lang(response: Response) -> Response:
    """Keep the language a ``?lang=`` chose (its cookie) and say the page's language.

    The blueprint's pages call it; app pages that call :func:`lang` (the demo's staff and
    mailbox pages) hang it on their responses too, or a choice made there would last one
    page. Once per response: the cookie is set only the first time.
    """
    chosen = g.pop("cegema_set_lang", None)
    if isinstance(chosen, str):
        cfg = config()
        response.set_cookie(cfg.lang_cookie, chosen, max_age=365 * 24 * 3600, path="/",
                            secure=cfg.secure, httponly=True, samesite="Lax")
    if g.get("cegema_lang"):
        response.headers["Content-Language"] = str(g.cegema_lang)
    return response

# ---------------------------------------------------------------------- configuration

def _seconds(value: object) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return timedelta(seconds=float(value))
    raise ConfigurationError("CEGEMA_ONBOARDING_SESSION_LIFETIME must be positive seconds")

def _build_service(app: Flask) -> OnboardingService:
    """The service built from the app's config and the shared ``CEGEMA_*`` configuration.

    What the app's config does not give is read where the commands read it (the
    environment, or the file ``CEGEMA_CONFIG`` names): ``CEGEMA_DATABASE_URL``, the keys
    and the base URL (:func:`~cegema_onboarding.bootstrap.portal_settings_from_env`) and
    the SMTP server. A key given both ways must be the same, or the portal and the commands
    would disagree on it without a word: every printed initial password refused.
    """
    # Built by the package's one composition root, like every other service.
    from ...bootstrap import (
        build_service,
        mailer_from,
        portal_settings_from_env,
        settings_from_keys,
        storage_from_url,
    )
    from ...environment import load_environment

    conf: Mapping[str, Any] = app.config
    shared = load_environment()
    storage = conf.get("CEGEMA_ONBOARDING_STORAGE")
    if storage is None and shared.get("CEGEMA_DATABASE_URL"):
        storage = storage_from_url(shared["CEGEMA_DATABASE_URL"])
    mailer = conf.get("CEGEMA_ONBOARDING_MAILER")
    if mailer is None and shared.get("CEGEMA_SMTP_HOST"):
        mailer = mailer_from("smtp", None, shared)
    if storage is None or mailer is None:
        raise ConfigurationError(
            "give Onboarding a service (or CEGEMA_ONBOARDING_SERVICE), or a storage "
            "(CEGEMA_ONBOARDING_STORAGE, or the CEGEMA_DATABASE_URL variable) and a mailer "
            "(CEGEMA_ONBOARDING_MAILER, or the CEGEMA_SMTP_* variables)")
    settings = conf.get("CEGEMA_ONBOARDING_SETTINGS")
    if settings is None:
        given: dict[str, Any] = {name: conf.get(f"CEGEMA_ONBOARDING_{name}")
                 for name in ("SECRET_KEYS", "PEPPER_KEYS", "BASE_URL")}
        if not any(given.values()):
            settings = portal_settings_from_env()
        elif not all(given.values()):
            raise ConfigurationError(
                "set all of CEGEMA_ONBOARDING_SECRET_KEYS, CEGEMA_ONBOARDING_PEPPER_KEYS and "
                "CEGEMA_ONBOARDING_BASE_URL, or none and the CEGEMA_* variables the "
                "commands read (or CEGEMA_ONBOARDING_SETTINGS)")
        else:
            settings = settings_from_keys(given["SECRET_KEYS"], given["PEPPER_KEYS"],
                                          str(given["BASE_URL"]))
            _same_as_shared(settings, shared)
    if not isinstance(settings, Settings):
        raise ConfigurationError("CEGEMA_ONBOARDING_SETTINGS must be a Settings")
    return build_service(settings, storage, mailer,
                         clock=conf.get("CEGEMA_ONBOARDING_CLOCK"),
                         notifier=conf.get("CEGEMA_ONBOARDING_NOTIFIER"),
                         rate_limiter=conf.get("CEGEMA_ONBOARDING_RATE_LIMITER"))


def _shared(name: str) -> str | None:
    from ...environment import load_environment

    return load_environment().get(name)


def _same_as_shared(settings: Settings, shared: Mapping[str, str]) -> None:
    """Refuse app-config keys that contradict the shared ``CEGEMA_*`` ones."""
    from ...environment import pepper_keys_from, secret_keys_from
    from ...errors import SettingsConflict

    keys, peppers = secret_keys_from(shared), pepper_keys_from(shared)
    clash = [name for name, mine, theirs in (
        ("CEGEMA_SECRET_KEYS", settings.secret_keys, keys),
        ("CEGEMA_PEPPER_KEYS", settings.pepper_keys, peppers),
        ("CEGEMA_BASE_URL", settings.base_url, shared.get("CEGEMA_BASE_URL")),
    ) if theirs is not None and mine != theirs]
    if clash:
        raise SettingsConflict(tuple(clash), "the app's CEGEMA_ONBOARDING_* config and these "
                               "variables disagree: keep one (the variables are what the "
                               "commands read)")


# ---------------------------------------------------------------------- the blueprint

def _build_blueprint(settings: Settings, root: bool) -> Blueprint:
    bp = Blueprint(BLUEPRINT, __name__, template_folder="templates", static_folder="static",
                   static_url_path="/static/cegema-onboarding")
    bp.before_request(_before)
    bp.after_request(_security_headers)
    views.register(bp, settings, root=root)
    return bp
