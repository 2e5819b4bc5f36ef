"""Per-request helpers of the Flask integration: what the views and the extension share.

The current app's configuration and service, this browser's session state, its language
and texts, rendering with form errors, the redirects that follow a result, remember-me
and the mailed links' token cookie. Nothing here imports the views or the extension: the
arrows go ``extension -> views -> _context`` (as authlib's ``flask_helpers``), so each
view module reads its helpers from here and the extension only wires them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any, Final
from urllib.parse import quote, urlencode

import attrs
from flask import Response, current_app, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from ... import texts
from ...errors import ConfigurationError
from ...flow import Reason, Refused
from ...model import Step
from ...service import Ok, OnboardingService, Screen, refusal_text, retry_after
from .._web import (
    LANG_COOKIE_NAME,
    LINK_COOKIE_MAX_AGE,
    LINK_PARAM,
    REMEMBER_COOKIE_NAME,
    SESSION_COOKIE_NAME,
    STEP_SCREENS,
    host_cookie,
    link_cookie,
    query_without_token,
    refusal_field,
    storable_token,
)
from .csp import DEFAULT_CSP, nonce
from .websession import CookieCodec, WebState

EXTENSION_KEY: Final = "cegema_onboarding"
BLUEPRINT: Final = "cegema_onboarding"

#: The screen endpoint of each step.
STEP_ENDPOINTS: Final[Mapping[Step, str]] = STEP_SCREENS

#: What a view returns: a page, or a redirect.
View = Response | WerkzeugResponse

# Inputs longer than this are cut before they reach the service, which refuses over-long
# values itself; the cut only bounds what the web layer copies around.
_MAX_FIELD = 8192


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
    #: The Content-Security-Policy of the blueprint's pages, before the nonce.
    csp: Mapping[str, tuple[str, ...]] = attrs.field(factory=lambda: dict(DEFAULT_CSP))
    #: The host template the screens extend instead of the standalone page, if any.
    layout: str | None = None

    @property
    def session_cookie(self) -> str:
        """``__Host-`` needs Secure, path / and no Domain: all three hold when secure."""
        return host_cookie(SESSION_COOKIE_NAME, self.secure)

    @property
    def remember_cookie(self) -> str:
        """The remember-me cookie's name, prefixed like the session cookie."""
        return host_cookie(REMEMBER_COOKIE_NAME, self.secure)

    @property
    def lang_cookie(self) -> str:
        """The language preference cookie's name."""
        return host_cookie(LANG_COOKIE_NAME, self.secure)

    @property
    def link_cookie(self) -> str:
        """The cookie that carries a mailed link's token from its redirect to its page."""
        return link_cookie(self.secure)



# ---------------------------------------------------------------------- per-request state


def config() -> WebConfig:
    """The extension's configuration for the current app."""
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


def lang() -> str:
    """The member's language: ``?lang=`` (the switch), then its cookie, then the default.

    Never Accept-Language: the portal speaks the guide's French unless the member asks
    otherwise, and a browser set to English (headless Chromium is) still gets French.
    """
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
            chosen = texts.resolve_lang(service().settings.default_lang)
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

def field(name: str) -> str:
    """A posted form field, bounded; "" when absent."""
    value = request.form.get(name, "")
    return value[:_MAX_FIELD]


# ---------------------------------------------------------------------- rendering


@attrs.frozen
class FormErrors:
    """Refusal messages: per field (shown next to it) and for the whole form."""

    fields: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict)
    form: tuple[str, ...] = ()
    #: A rate-limit refusal's wait in whole seconds: the page answers 429 with Retry-After.
    retry_after: int | None = None

    def __bool__(self) -> bool:
        return bool(self.fields or self.form)


def form_errors(refused: Refused, field_map: Mapping[str, str] | None = None) -> FormErrors:
    """The messages of a refusal, attached to the form field it names (if any)."""
    language = lang()
    messages = tuple(t(key, **params) for key, params in (
        refusal_text(refused, r, language) for r in (refused.reason, *refused.others)))
    name = refusal_field(refused, field_map)
    wait = retry_after(refused)
    if name is None:
        return FormErrors(form=messages, retry_after=wait)
    return FormErrors(fields={name: messages}, retry_after=wait)


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
        other_lang_url=f"{request.path}?{urlencode(args)}",
        csrf_token=current.csrf,
        brand=cfg.brand,
        tagline=cfg.tagline,
        logged_in=current.account_id is not None or current.staff,
        notice=t(notice_key) if notice_key else None,
        errors=errors or FormErrors(),
        has=_has_endpoint,
        csp_nonce=nonce(),
        cegema_layout=cfg.layout,
        logout_url=url_for(f"{BLUEPRINT}.logout"),
        **context,
    )
    response = Response(body, status=status, mimetype="text/html")
    if errors is not None and errors.retry_after is not None and status == 200:
        # A limit refusal: 429 with the wait, on the GET that the refused POST's redirect
        # leads to (Post/Redirect/Get kept): Back and reload land on a GET, never on a
        # POST's response, and clients that read Retry-After know when to come back.
        response.status_code = 429
        response.headers["Retry-After"] = str(errors.retry_after)
    return response


def _has_endpoint(name: str) -> bool:
    return f"{BLUEPRINT}.{name}" in current_app.view_functions


def go(endpoint: str, **values: Any) -> WerkzeugResponse:
    """303 redirect to one of the blueprint's views (PRG)."""
    return redirect(url_for(f"{BLUEPRINT}.{endpoint}", **values), code=303)


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


def go_step(step: Step) -> WerkzeugResponse:
    """Redirect to the screen of ``step``; an onboarded member to the page they asked for.

    A page asked for before logging in (``?next=`` of the login page, or a host page behind
    ``member_required``) waits in the session cookie until the journey is done.
    """
    current = state()
    if step is Step.PROFILE and current.next_url is not None:
        wanted, current.next_url = current.next_url, None
        if current.notice == "screen.connected.title":
            # The welcome belongs to the profile page, not to a later visit of it.
            current.flash(None)
        return redirect(wanted, code=303)
    return go(STEP_ENDPOINTS.get(step, "login"))


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


def link_view(view: Callable[[], View]) -> Callable[[], View]:
    """Wrap a mailed link's view so that the token leaves the URL at once (see ``_web``).

    ``GET ...?token=`` gets a 303 to the same path without the token, which goes into a
    short-lived cookie scoped to that path; the view then reads it with :func:`link_token`.
    A POST that moves on (303) has spent the link, so its cookie goes; one refused (also
    303, Post/Redirect/Get) keeps it, for the form shown again after the redirect.
    """

    @functools.wraps(view)
    def wrapper() -> View:
        if request.method != "POST" and LINK_PARAM in request.args:
            return _stash_link_token()
        response = view()
        if request.method == "POST" and response.status_code == 303 and state().form is None:
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

