"""The Flask extension: one blueprint that turns requests into service calls.

Every view does three things: read the form, call one :class:`OnboardingService` method,
and turn the result into a response (:class:`Ok` → redirect to the next screen,
``Refused`` → the same form with the reason next to its field, ``Screen`` → the page).
No rule of the journey lives here.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any, Final, cast
from urllib.parse import quote

import attrs
from flask import Blueprint, Flask, Response, abort, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from ... import texts
from ...config import Settings
from ...errors import ConfigurationError
from ...flow import Reason, Refused
from ...model import Session, Step
from ...service import Ok, OnboardingService, Screen
from .._web import (
    LINK_COOKIE_MAX_AGE,
    LINK_PARAM,
    host_cookie,
    link_cookie,
    query_without_token,
    storable_token,
)
from ..logfilter import redact_tokens_in
from .websession import CookieCodec, WebState

EXTENSION_KEY: Final = "cegema_onboarding"
BLUEPRINT: Final = "cegema_onboarding"

#: The screen endpoint of each step.
STEP_ENDPOINTS: Final[Mapping[Step, str]] = {
    Step.EMAIL: "email",
    Step.CHECK_MAILBOX: "check_mailbox",
    Step.AWAITING_ACTIVATION: "awaiting",
    Step.PASSWORD: "password",
    Step.QUESTION: "question",
    Step.PROFILE: "profile",
}



@attrs.frozen
class WebConfig:
    """What the extension read from ``app.config`` for one app."""

    service: OnboardingService
    codec: CookieCodec
    secure: bool
    url_prefix: str
    session_lifetime: timedelta
    brand: str
    tagline: str
    profile_context: Callable[[str], Mapping[str, Any]] | None

    @property
    def session_cookie(self) -> str:
        """``__Host-`` needs Secure, path / and no Domain: all three hold when secure."""
        return host_cookie("cegema_session", self.secure)

    @property
    def remember_cookie(self) -> str:
        """The remember-me cookie's name, prefixed like the session cookie."""
        return host_cookie("cegema_remember", self.secure)

    @property
    def lang_cookie(self) -> str:
        """The language preference cookie's name."""
        return host_cookie("cegema_lang", self.secure)

    @property
    def link_cookie(self) -> str:
        """The cookie that carries a mailed link's token from its redirect to its page."""
        return link_cookie(self.secure)


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
            service = _service_from_config(app.config)
        if not isinstance(service, OnboardingService):
            raise ConfigurationError("CEGEMA_ONBOARDING_SERVICE must be an OnboardingService")
        key = app.config.get("CEGEMA_ONBOARDING_SESSION_KEY") or app.config.get("SECRET_KEY")
        if not key or len(key) < 32:
            raise ConfigurationError(
                "set SECRET_KEY or CEGEMA_ONBOARDING_SESSION_KEY (32 characters or more)")
        lifetime = _seconds(app.config.get("CEGEMA_ONBOARDING_SESSION_LIFETIME", 1800))
        secure_default = not (app.debug or app.testing)
        secure = bool(app.config.get("CEGEMA_ONBOARDING_COOKIE_SECURE", secure_default))
        prefix = str(app.config.get("CEGEMA_ONBOARDING_URL_PREFIX", "")).rstrip("/")
        profile_context = app.config.get("CEGEMA_ONBOARDING_PROFILE_CONTEXT")
        cfg = WebConfig(
            service=service,
            codec=CookieCodec(key, int(lifetime.total_seconds())),
            secure=secure,
            url_prefix=prefix,
            session_lifetime=lifetime,
            brand=str(app.config.get("CEGEMA_ONBOARDING_BRAND", service.settings.mail.brand)),
            tagline=str(app.config.get("CEGEMA_ONBOARDING_TAGLINE", "")),
            profile_context=profile_context if callable(profile_context) else None,
        )
        app.extensions[EXTENSION_KEY] = cfg
        app.register_blueprint(_build_blueprint(service.settings), url_prefix=prefix or None)
        app.after_request(_save_state)
        # Werkzeug's server logs each request line, the first GET of a link included.
        redact_tokens_in("werkzeug")

    # ------------------------------------------------------------------ helpers for hosts

    @staticmethod
    def current_session() -> Session | None:
        """The onboarding session of the current request (None when not logged in)."""
        return state().session

    @staticmethod
    def csrf_token() -> str:
        """The CSRF token to put in a host form that posts to a protected view."""
        return state().csrf

    @staticmethod
    def check_csrf() -> None:
        """Abort with 400 unless the request's form carries this session's CSRF token."""
        if not state().csrf_ok(request.form.get("csrf_token")):
            abort(400)


# ---------------------------------------------------------------------- per-request state


def config() -> WebConfig:
    """The extension's configuration for the current app."""
    from flask import current_app

    cfg = current_app.extensions.get(EXTENSION_KEY)
    if not isinstance(cfg, WebConfig):
        raise ConfigurationError("Onboarding.init_app was not called on this app")
    return cfg


def service() -> OnboardingService:
    """The service of the current app."""
    return config().service


def state() -> WebState:
    """This browser's session state, read from its cookie once per request."""
    current = g.get("cegema_state")
    if isinstance(current, WebState):
        return current
    cfg = config()
    loaded = cfg.codec.load(request.cookies.get(cfg.session_cookie))
    g.cegema_state = loaded
    return loaded


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


def lang() -> str:
    """The member's language: ``?lang=``, then the cookie, then Accept-Language; French."""
    cached = g.get("cegema_lang")
    if isinstance(cached, str):
        return cached
    asked = request.args.get("lang")
    chosen: str
    if asked in texts.LANGS:
        chosen = str(asked)
        g.cegema_set_lang = chosen
    else:
        cookie = request.cookies.get(config().lang_cookie)
        if cookie in texts.LANGS:
            chosen = str(cookie)
        else:
            best = request.accept_languages.best_match(texts.LANGS)
            chosen = best if best in texts.LANGS else texts.DEFAULT_LANG
    g.cegema_lang = chosen
    return chosen


def t(key: str, /, **params: object) -> str:
    """A text in the member's language; ``{brand}`` is filled in when the text needs it."""
    return translator(lang(), config().brand)(key, **params)


def translator(language: str, brand: str) -> Callable[..., str]:
    """:func:`t` bound to one language and brand: what a template calls, many times."""

    def translate(key: str, /, **params: object) -> str:
        try:
            if "brand" not in params and "brand" in texts.placeholders(key):
                params["brand"] = brand
            return texts.text(key, language, **params)
        except KeyError:
            # An unknown key, or a reason whose parameters this refusal did not carry: say
            # it generically rather than fail the page.
            return texts.text("reason.input_invalid", language)

    return translate


def client_ip() -> str | None:
    """The client's address as the WSGI server sees it (put ProxyFix in front if proxied)."""
    return request.remote_addr


def user_agent() -> str | None:
    """The user agent, bounded (it goes to the audit trail)."""
    value = request.headers.get("User-Agent")
    return value[:256] if value else None


# ---------------------------------------------------------------------- rendering


@attrs.frozen
class FormErrors:
    """Refusal messages: per field (shown next to it) and for the whole form."""

    fields: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict)
    form: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.fields or self.form)


def form_errors(refused: Refused, field_map: Mapping[str, str] | None = None) -> FormErrors:
    """The messages of a refusal, attached to the form field it names (if any)."""
    params = dict(refused.params)
    messages = tuple(t(f"reason.{r.value}", **params) for r in (refused.reason, *refused.others))
    if refused.field is None:
        return FormErrors(form=messages)
    name = (field_map or {}).get(refused.field, refused.field)
    return FormErrors(fields={name: messages})


def render(template: str, status: int = 200, *, errors: FormErrors | None = None,
           **context: Any) -> Response:
    """Render one of the extension's templates (the host's own copy wins, if any)."""
    cfg = config()
    current = state()
    language = lang()
    other = "en" if language == "fr" else "fr"
    args = request.args.to_dict()
    args["lang"] = other
    notice_key = current.pop_notice()
    body = render_template(
        f"cegema_onboarding/{template}",
        t=translator(language, cfg.brand),
        lang=language,
        other_lang=other,
        other_lang_url=f"{request.path}?{_urlencode(args)}",
        csrf_token=current.csrf,
        brand=cfg.brand,
        tagline=cfg.tagline,
        logged_in=current.account_id is not None or current.staff,
        notice=t(notice_key) if notice_key else None,
        errors=errors or FormErrors(),
        has=_has_endpoint,
        **context,
    )
    response = Response(body, status=status, mimetype="text/html")
    return response


def _has_endpoint(name: str) -> bool:
    from flask import current_app

    return f"{BLUEPRINT}.{name}" in current_app.view_functions


def _urlencode(args: Mapping[str, str]) -> str:
    from urllib.parse import urlencode

    return urlencode(args)


def go(endpoint: str, **values: Any) -> WerkzeugResponse:
    """303 redirect to one of the blueprint's views (PRG)."""
    return redirect(url_for(f"{BLUEPRINT}.{endpoint}", **values), code=303)


def go_step(step: Step) -> WerkzeugResponse:
    """Redirect to the screen of ``step``."""
    return go(STEP_ENDPOINTS.get(step, "login"))


def follow(result: Ok) -> WerkzeugResponse:
    """After a successful action: keep the granted session, show the next screen."""
    current = state()
    if result.session is not None:
        current.log_in(result.session)
    if result.notice is not None:
        current.flash(result.notice)
    if result.remember_token is not None:
        g.cegema_remember = result.remember_token
    return go_step(result.step)


def restore_remembered() -> None:
    """A browser with no session but a remember-me cookie: log it in, rotating the token."""
    current = state()
    cfg = config()
    token = request.cookies.get(cfg.remember_cookie)
    if current.account_id is not None or not token:
        return
    result = cfg.service.login_with_token(token[:1024], ip=client_ip(), user_agent=user_agent())
    if isinstance(result, Ok) and result.session is not None:
        current.log_in(result.session)
        g.cegema_remember = result.remember_token or token
    else:
        # Expired, revoked or copied: drop it; the login form is shown.
        g.cegema_remember = ""


def forget_remembered() -> None:
    """Revoke this browser's remembered series and drop its cookie (logout)."""
    current = state()
    cfg = config()
    token = request.cookies.get(cfg.remember_cookie)
    session = current.session
    if token and session is not None:
        claims = cfg.service.env.crypto.remember.parse(token[:1024])
        if claims is not None:
            cfg.service.revoke_remembered(session, claims.series_id, ip=client_ip())
    g.cegema_remember = ""


def link_view(view: Callable[[], Response | WerkzeugResponse]
              ) -> Callable[[], Response | WerkzeugResponse]:
    """Wrap a mailed link's view so that the token leaves the URL at once (see ``_web``).

    ``GET ...?token=`` gets a 303 to the same path without the token, which goes into a
    short-lived cookie scoped to that path; the view then reads it with :func:`link_token`.
    A POST that moves on (303) has spent the link, so its cookie goes.
    """

    @functools.wraps(view)
    def wrapper() -> Response | WerkzeugResponse:
        if request.method == "GET" and LINK_PARAM in request.args:
            return _stash_link_token()
        response = view()
        if request.method == "POST" and response.status_code == 303:
            cfg = config()
            response.delete_cookie(cfg.link_cookie, path=_link_cookie_path(),
                                   secure=cfg.secure, httponly=True, samesite="Lax")
        return response

    return wrapper


def link_token() -> str:
    """The token of the link this page was opened from ("" when there is none)."""
    return storable_token(request.cookies.get(config().link_cookie)) or ""


def _link_cookie_path() -> str:
    return quote(request.script_root + request.path)


def _stash_link_token() -> WerkzeugResponse:
    cfg = config()
    path = _link_cookie_path()
    rest = query_without_token(request.args.items(multi=True))
    response = redirect(f"{path}?{rest}" if rest else path, code=303)
    token = storable_token(request.args.get(LINK_PARAM))
    if token is None:
        # Not a token any mail carries: the page says the link is invalid, rather than
        # showing a token an earlier link left behind.
        response.delete_cookie(cfg.link_cookie, path=path, secure=cfg.secure, httponly=True,
                               samesite="Lax")
    else:
        # SameSite=Lax, not Strict: the member opens the link from a webmail on another
        # site, and browsers withhold Strict cookies for the whole redirect chain of such a
        # navigation, so the page would never see the token.
        response.set_cookie(cfg.link_cookie, token, max_age=LINK_COOKIE_MAX_AGE, path=path,
                            secure=cfg.secure, httponly=True, samesite="Lax")
    return response


def session_lost() -> WerkzeugResponse:
    """The session ended (logout elsewhere, password changed): back to the login page."""
    current = state()
    current.log_out()
    current.flash("reason.session_expired")
    return go("login")


def current_screen(expected: Step | None) -> Screen | WerkzeugResponse:
    """The logged-in member's screen, or a redirect to where they belong."""
    session = state().session
    if session is None:
        return go("login")
    screen = service().resume(session)
    if isinstance(screen, Refused):
        return session_lost()
    if expected is not None and screen.step is not expected:
        return go_step(screen.step)
    return screen


def refused_redirect(refused: Refused) -> WerkzeugResponse | None:
    """Refusals that are answered by moving rather than by a message next to a field."""
    if refused.reason is Reason.SESSION_EXPIRED:
        return session_lost()
    if refused.reason is Reason.INVALID_STEP:
        # A stale tab or a double submit: show where the member actually is.
        screen = current_screen(None)
        return go_step(screen.step) if isinstance(screen, Screen) else screen
    return None


def _seconds(value: object) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return timedelta(seconds=float(value))
    raise ConfigurationError("CEGEMA_ONBOARDING_SESSION_LIFETIME must be positive seconds")


def _service_from_config(conf: Mapping[str, Any]) -> OnboardingService:
    # Built by the package's one composition root, like every other service.
    from ...bootstrap import build_service, settings_from_keys

    storage = conf.get("CEGEMA_ONBOARDING_STORAGE")
    mailer = conf.get("CEGEMA_ONBOARDING_MAILER")
    if storage is None or mailer is None:
        raise ConfigurationError(
            "give Onboarding a service, or set CEGEMA_ONBOARDING_SERVICE, or set "
            "CEGEMA_ONBOARDING_STORAGE and CEGEMA_ONBOARDING_MAILER with the settings keys")
    settings = conf.get("CEGEMA_ONBOARDING_SETTINGS")
    if settings is None:
        secret_keys = conf.get("CEGEMA_ONBOARDING_SECRET_KEYS")
        pepper_keys = conf.get("CEGEMA_ONBOARDING_PEPPER_KEYS")
        base_url = conf.get("CEGEMA_ONBOARDING_BASE_URL")
        if not (secret_keys and pepper_keys and base_url):
            raise ConfigurationError(
                "set CEGEMA_ONBOARDING_SECRET_KEYS, CEGEMA_ONBOARDING_PEPPER_KEYS and "
                "CEGEMA_ONBOARDING_BASE_URL (or CEGEMA_ONBOARDING_SETTINGS)")
        settings = settings_from_keys(secret_keys, pepper_keys, str(base_url))
    if not isinstance(settings, Settings):
        raise ConfigurationError("CEGEMA_ONBOARDING_SETTINGS must be a Settings")
    return build_service(settings, storage, mailer,
                         clock=conf.get("CEGEMA_ONBOARDING_CLOCK"),
                         notifier=conf.get("CEGEMA_ONBOARDING_NOTIFIER"),
                         rate_limiter=conf.get("CEGEMA_ONBOARDING_RATE_LIMITER"))


# ---------------------------------------------------------------------- the blueprint


def _build_blueprint(settings: Settings) -> Blueprint:
    from . import views

    bp = Blueprint(BLUEPRINT, __name__, template_folder="templates", static_folder="static",
                   static_url_path="/static/cegema-onboarding")
    bp.before_request(_before)
    bp.after_request(_security_headers)
    views.register(bp, settings)
    return bp


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
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
        "form-action 'self'; base-uri 'none'; object-src 'none'")
    chosen = g.get("cegema_set_lang")
    if isinstance(chosen, str):
        cfg = config()
        response.set_cookie(cfg.lang_cookie, chosen, max_age=365 * 24 * 3600, path="/",
                            secure=cfg.secure, httponly=True, samesite="Lax")
    if g.get("cegema_lang"):
        response.headers["Content-Language"] = str(g.cegema_lang)
    return response
