"""The member-facing views: the first-connection journey and the account-life routes.

Views are thin: they read the form, call one :class:`OnboardingService` method and render
its result. Texts come from :mod:`cegema_onboarding.texts` in Django's active language
(French by default). Every form is CSRF-protected; a link opened with GET only shows a
confirmation page, and only the member's POST spends it. Link URLs in mails are built by
the service from the configured base URL, so nothing here reads the Host header.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.encoding import escape_uri_path
from django.utils.translation import get_language
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods, require_POST

from ... import texts
from ...flow import Reason, Refused, reset_checks_answer
from ...model import Channel, LinkPurpose, Session, Step
from ...service import Ok, OnboardingService, ProfileView, Screen, describe
from .._web import (
    LINK_COOKIE_MAX_AGE,
    LINK_PARAM,
    host_cookie,
    link_cookie,
    query_without_token,
    storable_token,
)
from .backends import OnboardingBackend, user_for_account
from .conf import cookies_secure, get_service, option
from .session import (
    BACKEND_PATH,
    clear_session,
    client_ip,
    load_session,
    store_session,
    user_agent,
)

_TEMPLATES: dict[Step, str] = {
    Step.EMAIL: "cegema_onboarding/email.html",
    Step.CHECK_MAILBOX: "cegema_onboarding/check_mailbox.html",
    Step.AWAITING_ACTIVATION: "cegema_onboarding/awaiting_activation.html",
    Step.PASSWORD: "cegema_onboarding/password.html",
    Step.QUESTION: "cegema_onboarding/question.html",
}
# Form fields are bounded well before the library's own limits reject them.
_MAX_FIELD = 4096
#: The remember-me cookie, prefixed like the Flask extension's whenever it is Secure.
REMEMBER_COOKIE = host_cookie("cegema_remember", secure=True)
#: Its name without Secure (DEBUG), and before the prefix: read for one more release, so
#: that browsers remembered under it stay remembered; each use rewrites it under the new one.
PLAIN_REMEMBER_COOKIE = "cegema_remember"
_View = Callable[..., HttpResponse]


def _lang() -> str:
    return texts.resolve_lang(get_language())


def _t(key: str, **params: Any) -> str:
    params.setdefault("brand", get_service().settings.mail.brand)
    return texts.text(key, _lang(), **params)


def _field(request: HttpRequest, name: str) -> str:
    return str(request.POST.get(name, ""))[:_MAX_FIELD]


def _url(name: str) -> str:
    return reverse(f"cegema_onboarding:{name}")


def _page(request: HttpRequest, template: str, context: dict[str, Any] | None = None,
          status: int = 200) -> HttpResponse:
    service = get_service()
    base: dict[str, Any] = {"brand": service.settings.mail.brand, "lang": _lang()}
    base.update(context or {})
    response = render(request, template, base, status=status)
    # Pages that may carry a token in their URL must not leak it to other sites.
    response["Referrer-Policy"] = "no-referrer"
    return response


def _to_login(request: HttpRequest, refused: Refused | None = None) -> HttpResponseRedirect:
    clear_session(request)
    if refused is not None:
        messages.error(request, describe(refused, _lang()))
    return redirect(_url("login"))


def _member(request: HttpRequest) -> Session | None:
    return load_session(request)


def _grant(request: HttpRequest, session: Session, *, new_login: bool) -> None:
    """Keep a session the service granted; log the Django user in once the journey is done."""
    if new_login:
        # A fresh key at every privilege change: no session fixation.
        request.session.cycle_key()
    store_session(request, session)


def _complete(request: HttpRequest, session: Session) -> None:
    """The journey is complete: the member becomes a logged-in Django user."""
    if not option("CREATE_USERS"):
        return
    user = user_for_account(session.account_id)
    if user is None:
        return
    if getattr(request, "user", None) != user:
        auth_login(request, user, backend=BACKEND_PATH)
    # login() may flush the session: store the journey session after it.
    store_session(request, session)


def _after(request: HttpRequest, result: Ok | Refused,
           error_context: dict[str, Any] | None = None) -> HttpResponse:
    """Render one service result: on success redirect (PRG), on refusal show the screen."""
    if isinstance(result, Refused):
        if result.reason is Reason.SESSION_EXPIRED:
            return _to_login(request, result)
        member = _member(request)
        if member is None:
            return _to_login(request, result)
        context = dict(error_context or {})
        context["error"] = describe(result, _lang())
        context["error_field"] = result.field
        return _screen(request, member, context)
    if result.session is not None:
        store_session(request, result.session)
        if result.step is Step.PROFILE:
            _complete(request, result.session)
    if result.notice:
        messages.success(request, _t(result.notice))
    return redirect(_url("journey"))


def _screen(request: HttpRequest, member: Session,
            extra: dict[str, Any] | None = None) -> HttpResponse:
    service = get_service()
    screen = service.resume(member)
    if isinstance(screen, Refused):
        return _to_login(request, screen)
    if screen.step is Step.PROFILE:
        _complete(request, member)
        return redirect(_url("profile"))
    if screen.step not in _TEMPLATES:
        return _to_login(request)
    context = _step_context(service, screen)
    context.update(extra or {})
    return _page(request, _TEMPLATES[screen.step], context)


def _step_context(service: OnboardingService, screen: Screen) -> dict[str, Any]:
    lang = _lang()
    settings = service.settings
    context: dict[str, Any] = {"screen": screen, "name": screen.name,
                               "email_value": screen.prefill_email or ""}
    if screen.step is Step.CHECK_MAILBOX:
        hours = int(settings.link_lifetime.total_seconds() // 3600)
        unit = "unit.hours.one" if hours == 1 else "unit.hours.other"
        context["check_body"] = texts.text(
            "screen.check_mailbox.body", lang, address=screen.prefill_email or "",
            duration=texts.text(unit, lang, count=hours))
    if screen.step is Step.EMAIL and screen.rejection:
        context["rejection_body"] = texts.text("screen.activation_rejected.body", lang,
                                               reason=screen.rejection)
    if screen.step is Step.PASSWORD:
        context["password_rules"] = texts.text(
            "notice.password_rules", lang, min_length=settings.password_policy.min_length)
    if screen.step is Step.QUESTION:
        context["questions"] = [(q.id, q.label(lang)) for q in settings.questions]
    return context


# ---------------------------------------------------------------------------- remember me


def _app_root() -> str:
    # Where the app is mounted: the plain cookie's path, as it always was.
    return _url("login").rsplit("/", 2)[0] + "/"


def _remembered_token(request: HttpRequest) -> str | None:
    """This browser's remember-me token, under the current name or the plain one."""
    name = host_cookie("cegema_remember", cookies_secure())
    value = request.COOKIES.get(name) or request.COOKIES.get(PLAIN_REMEMBER_COOKIE)
    return value[:_MAX_FIELD] if value else None


def _remember_cookie(request: HttpRequest, response: HttpResponse, token: str) -> None:
    lifetime = get_service().settings.remember_lifetime
    secure = cookies_secure()
    # __Host- needs Secure, Path=/ and no Domain (Django sets no Domain unless asked).
    response.set_cookie(
        host_cookie("cegema_remember", secure), token, max_age=int(lifetime.total_seconds()),
        secure=secure, httponly=True, samesite="Lax", path="/" if secure else _app_root())
    if secure and PLAIN_REMEMBER_COOKIE in request.COOKIES:
        # Moved under the prefixed name: the old cookie goes.
        response.delete_cookie(PLAIN_REMEMBER_COOKIE, path=_app_root(), samesite="Lax")


def _forget_cookie(request: HttpRequest, response: HttpResponse) -> None:
    secure = cookies_secure()
    response.delete_cookie(host_cookie("cegema_remember", secure),
                           path="/" if secure else _app_root(), samesite="Lax")
    if secure and PLAIN_REMEMBER_COOKIE in request.COOKIES:
        response.delete_cookie(PLAIN_REMEMBER_COOKIE, path=_app_root(), samesite="Lax")


def remembered(view: _View) -> _View:
    """Log a remembered browser in from its cookie before the view runs; rotate the cookie."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        cookie = _remembered_token(request)
        # Only page loads log in from the cookie: a POST carries its own credentials.
        if request.method != "GET" or not cookie or load_session(request) is not None:
            return view(request, *args, **kwargs)
        result = get_service().login_with_token(cookie, ip=client_ip(request),
                                                user_agent=user_agent(request))
        if isinstance(result, Ok) and result.session is not None:
            _grant(request, result.session, new_login=True)
            if result.step is Step.PROFILE:
                _complete(request, result.session)
            response = view(request, *args, **kwargs)
            # Written again even when not rotated: a cookie under the old name moves.
            _remember_cookie(request, response, result.remember_token or cookie)
            return response
        response = view(request, *args, **kwargs)
        _forget_cookie(request, response)
        return response

    return wrapper


# ---------------------------------------------------------------------------- login


@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
@remembered
def login(request: HttpRequest) -> HttpResponse:
    """Initial login: member number and the initial (or chosen) password."""
    if request.method == "GET":
        if load_session(request) is not None:
            return redirect(_url("journey"))
        return _page(request, "cegema_onboarding/login.html")
    member_number = _field(request, "member_number")
    password = _field(request, "password")
    remember = bool(request.POST.get("remember_me"))
    user = OnboardingBackend().authenticate(request, member_number=member_number,
                                            password=password, remember=remember)
    result: Ok | Refused | None = getattr(request, "cegema_result", None)
    if not isinstance(result, Ok) or result.session is None:
        reason = result if isinstance(result, Refused) else Refused(Reason.BAD_CREDENTIALS)
        # The same page for unknown numbers and wrong passwords: the typed number is
        # echoed in both cases, and the reason text is the generic one.
        return _page(request, "cegema_onboarding/login.html",
                     {"error": describe(reason, _lang()), "member_number": member_number})
    if user is not None:
        auth_login(request, user, backend=BACKEND_PATH)
    else:
        _grant(request, result.session, new_login=True)
    store_session(request, result.session)
    if not remember:
        # Without "Se souvenir de moi" the session ends with the browser.
        request.session.set_expiry(0)
    if result.step is Step.PROFILE:
        response = redirect(option("LOGIN_REDIRECT_URL") or _url("profile"))
    else:
        response = redirect(_url("journey"))
    if result.remember_token:
        _remember_cookie(request, response, result.remember_token)
    return response


@require_POST
@csrf_protect
def logout(request: HttpRequest) -> HttpResponse:
    """Log out: the Django session, the journey session and this browser's remember-me."""
    member = _member(request)
    cookie = _remembered_token(request)
    if member is not None and cookie:
        service = get_service()
        claims = service.env.crypto.remember.parse(cookie)
        if claims is not None and claims.account_id == member.account_id:
            service.revoke_remembered(member, claims.series_id, ip=client_ip(request))
    auth_logout(request)
    clear_session(request)
    response = redirect(_url("login"))
    _forget_cookie(request, response)
    return response


# ---------------------------------------------------------------------------- journey


@never_cache
@require_http_methods(["GET"])
@remembered
def journey(request: HttpRequest) -> HttpResponse:
    """The member's current screen, wherever they stopped."""
    member = _member(request)
    if member is None:
        return _to_login(request)
    return _screen(request, member)


def _journey_post(request: HttpRequest) -> Session | HttpResponse:
    member = _member(request)
    if member is None:
        return _to_login(request, Refused(Reason.SESSION_EXPIRED))
    return member


@never_cache
@csrf_protect
@require_POST
def submit_email(request: HttpRequest) -> HttpResponse:
    """PREMIÈRE CONNEXION – ENTREZ VOTRE ADRESSE MAIL: send the validation link."""
    member = _journey_post(request)
    if isinstance(member, HttpResponse):
        return member
    email, confirmation = _field(request, "email"), _field(request, "email_confirm")
    result = get_service().submit_email(member, email, confirmation, ip=client_ip(request))
    return _after(request, result, {"email_value": email, "email_confirm_value": confirmation})


@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def no_email(request: HttpRequest) -> HttpResponse:
    """"Vous n'avez pas d'adresse email ?": GET explains, POST joins the staff queue."""
    member = _journey_post(request)
    if isinstance(member, HttpResponse):
        return member
    if request.method == "GET":
        return _page(request, "cegema_onboarding/no_email.html")
    return _after(request, get_service().declare_no_email(member, ip=client_ip(request)))


@never_cache
@csrf_protect
@require_POST
def resend_link(request: HttpRequest) -> HttpResponse:
    """Send the validation link again; the previous one stops working."""
    member = _journey_post(request)
    if isinstance(member, HttpResponse):
        return member
    return _after(request, get_service().resend_link(member, ip=client_ip(request)))


@never_cache
@csrf_protect
@require_POST
def change_email(request: HttpRequest) -> HttpResponse:
    """Back to the email step; the pending link stops working."""
    member = _journey_post(request)
    if isinstance(member, HttpResponse):
        return member
    return _after(request, get_service().change_email(member, ip=client_ip(request)))


@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def submit_code(request: HttpRequest) -> HttpResponse:
    """The short code from the mail, for a member who reads mail on another device."""
    member = _journey_post(request)
    if isinstance(member, HttpResponse):
        return member
    if request.method == "GET":
        return _page(request, "cegema_onboarding/code.html")
    result = get_service().submit_code(member, _field(request, "code"), ip=client_ip(request))
    if isinstance(result, Refused) and result.reason is not Reason.SESSION_EXPIRED:
        return _page(request, "cegema_onboarding/code.html",
                     {"error": describe(result, _lang())})
    return _after(request, result)


@never_cache
@csrf_protect
@require_POST
def set_password(request: HttpRequest) -> HttpResponse:
    """Choose the new password (and confirm it)."""
    member = _journey_post(request)
    if isinstance(member, HttpResponse):
        return member
    result = get_service().set_password(member, _field(request, "password"),
                                        _field(request, "password_confirm"),
                                        ip=client_ip(request))
    return _after(request, result)


@never_cache
@csrf_protect
@require_POST
def set_question(request: HttpRequest) -> HttpResponse:
    """Mon profil: the secret question and its answer."""
    member = _journey_post(request)
    if isinstance(member, HttpResponse):
        return member
    question_id = _field(request, "question")
    result = get_service().set_secret_answer(member, question_id, _field(request, "answer"),
                                             _field(request, "answer_confirm"),
                                             ip=client_ip(request))
    return _after(request, result, {"question_value": question_id})


# ---------------------------------------------------------------------------- links


def _token(request: HttpRequest) -> str:
    """The token the link page's form posted."""
    return str(request.POST.get("token", ""))[:_MAX_FIELD]


def link_view(view: _View) -> _View:
    """Wrap a mailed link's view so that the token leaves the URL at once (see ``_web``).

    ``GET ...?token=`` gets a 303 to the same path without the token, which goes into a
    short-lived cookie scoped to that path; the page reads it there. A POST that moves on
    (a redirect) has spent the link, so its cookie goes.
    """

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method == "GET" and LINK_PARAM in request.GET:
            return _stash_link_token(request)
        response = view(request, *args, **kwargs)
        if request.method == "POST" and isinstance(response, HttpResponseRedirect):
            response.delete_cookie(link_cookie(cookies_secure()),
                                   path=escape_uri_path(request.path), samesite="Lax")
        return response

    return wrapper


def _stash_link_token(request: HttpRequest) -> HttpResponse:
    path = escape_uri_path(request.path)
    rest = query_without_token((key, value) for key, values in request.GET.lists()
                               for value in values)
    response = HttpResponseRedirect(f"{path}?{rest}" if rest else path, status=303)
    # The redirect is a page of the link too: nothing may send its URL on.
    response["Referrer-Policy"] = "no-referrer"
    secure = cookies_secure()
    token = storable_token(request.GET.get(LINK_PARAM))
    if token is None:
        # Not a token any mail carries: the page says the link is invalid, rather than
        # showing a token an earlier link left behind.
        response.delete_cookie(link_cookie(secure), path=path, samesite="Lax")
    else:
        # SameSite=Lax, not Strict: the member opens the link from a webmail on another
        # site, and browsers withhold Strict cookies for the whole redirect chain of such a
        # navigation, so the page would never see the token.
        response.set_cookie(link_cookie(secure), token, max_age=LINK_COOKIE_MAX_AGE,
                            path=path, secure=secure, httponly=True, samesite="Lax")
    return response


def _link_page(request: HttpRequest, purpose: LinkPurpose, template: str,
               extra: dict[str, Any] | None = None) -> HttpResponse:
    """GET on a link: a page with a button (POST), or the reason it cannot be used."""
    token = storable_token(request.COOKIES.get(link_cookie(cookies_secure()))) or ""
    check = get_service().open_link(token, purpose)
    if not check.valid:
        reason = Refused(check.reason or Reason.LINK_INVALID)
        return _page(request, template, {"error": describe(reason, _lang())})
    return _page(request, template, {"token": token, **(extra or {})})


@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
@link_view
def confirm_link(request: HttpRequest) -> HttpResponse:
    """The validation link: GET shows a confirmation page, POST spends the link."""
    template = "cegema_onboarding/confirm_link.html"
    if request.method == "GET":
        return _link_page(request, LinkPurpose.VERIFY_EMAIL, template)
    # Only this browser's own session opens the password step at once (see confirm_link).
    result = get_service().confirm_link(_token(request), ip=client_ip(request),
                                        session=load_session(request))
    if isinstance(result, Refused):
        return _page(request, template, {"error": describe(result, _lang())})
    if result.session is None:
        messages.success(request, _t(result.notice or "notice.email_verified_login"))
        return redirect(_url("login"))
    _grant(request, result.session, new_login=True)
    messages.success(request, _t("screen.confirm_link.title"))
    return redirect(_url("journey"))


@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
@link_view
def reset_link(request: HttpRequest) -> HttpResponse:
    """The password-reset link: GET shows the form, POST sets the new password."""
    service = get_service()
    template = "cegema_onboarding/reset.html"
    extra = {"ask_answer": reset_checks_answer(service.settings),
             "password_rules": texts.text(
                 "notice.password_rules", _lang(),
                 min_length=service.settings.password_policy.min_length)}
    if request.method == "GET":
        return _link_page(request, LinkPurpose.RESET_PASSWORD, template, extra)
    token = _token(request)
    answer = _field(request, "answer") if extra["ask_answer"] else None
    result = service.complete_reset(token, _field(request, "password"),
                                    _field(request, "password_confirm"), answer=answer,
                                    ip=client_ip(request), user_agent=user_agent(request))
    if isinstance(result, Refused):
        # The form stays usable while the link is: a wrong answer or a weak password.
        still = service.open_link(token, LinkPurpose.RESET_PASSWORD).valid
        return _page(request, template, {"error": describe(result, _lang()),
                                         "token": token if still else "", **extra})
    # Every session ended with the reset, this one included: the member logs in again.
    auth_logout(request)
    clear_session(request)
    messages.success(request, _t(result.notice or "notice.password_reset_done"))
    return redirect(_url("login"))


@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
@link_view
def not_me_link(request: HttpRequest) -> HttpResponse:
    """"Ce n'était pas moi": GET explains, POST locks the account and starts recovery."""
    template = "cegema_onboarding/not_me.html"
    if request.method == "GET":
        return _link_page(request, LinkPurpose.NOT_ME, template)
    result = get_service().confirm_not_me(_token(request), ip=client_ip(request),
                                          user_agent=user_agent(request))
    if isinstance(result, Refused):
        return _page(request, template, {"error": describe(result, _lang())})
    auth_logout(request)
    clear_session(request)
    messages.success(request, _t(result.notice or "notice.not_me_done"))
    return redirect(_url("login"))


@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
@link_view
def email_change_link(request: HttpRequest) -> HttpResponse:
    """The link sent to a new address: GET shows a button, POST changes the address."""
    template = "cegema_onboarding/confirm_link.html"
    if request.method == "GET":
        return _link_page(request, LinkPurpose.CHANGE_EMAIL, template,
                          {"action": "cegema_onboarding:email_change_link"})
    # This browser's own session makes the new address a recovery channel at once.
    result = get_service().confirm_email_change(_token(request), ip=client_ip(request),
                                                session=load_session(request))
    if isinstance(result, Refused):
        return _page(request, template, {"error": describe(result, _lang())})
    messages.success(request, _t(result.notice or "notice.email_changed"))
    return redirect(_url("profile"))


# ---------------------------------------------------------------------------- recovery


@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def forgotten_password(request: HttpRequest) -> HttpResponse:
    """"Mot de passe oublié ?": the same answer whether or not the member exists."""
    template = "cegema_onboarding/forgotten_password.html"
    if request.method == "GET":
        return _page(request, template)
    result = get_service().forgot_password(_field(request, "member_number"),
                                           ip=client_ip(request),
                                           user_agent=user_agent(request))
    if isinstance(result, Refused):
        return _page(request, template, {"error": describe(result, _lang())})
    return _page(request, template, {"done": _t(result.notice or
                                                "notice.forgotten_password_sent")})


@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def forgotten_identifier(request: HttpRequest) -> HttpResponse:
    """"Identifiant oublié ?": the member number goes to the address, if it is known."""
    template = "cegema_onboarding/forgotten_identifier.html"
    if request.method == "GET":
        return _page(request, template)
    result = get_service().forgot_identifier(_field(request, "email"), ip=client_ip(request),
                                             user_agent=user_agent(request))
    if isinstance(result, Refused):
        return _page(request, template, {"error": describe(result, _lang())})
    return _page(request, template, {"done": _t(result.notice or
                                                "notice.forgotten_identifier_sent")})


# ---------------------------------------------------------------------------- connected


def _profile_context(service: OnboardingService, view: ProfileView,
                     member: Session) -> dict[str, Any]:
    lang = _lang()
    chosen = set(view.profile.channels)
    return {
        "view": view,
        "name": view.name,
        "email": view.email,
        "completion": texts.text("label.profile_completion", lang, percent=view.completion),
        "channels": [(c.value, texts.text(f"label.channel.{c.value}", lang), c in chosen)
                     for c in (Channel.PHONE, Channel.EMAIL, Channel.SMS, Channel.POST)],
        "pets": view.profile.pets,
        "interests": ", ".join(view.profile.interests),
        "comments": view.profile.comments,
        "adviser": view.profile.adviser,
        "devices": view.devices,
        "password_rules": texts.text("notice.password_rules", lang,
                                     min_length=service.settings.password_policy.min_length),
    }


@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
@remembered
def profile(request: HttpRequest) -> HttpResponse:
    """Mon profil et mes informations: shown once the journey is complete; POST saves it."""
    member = _member(request)
    if member is None:
        return _to_login(request)
    service = get_service()
    screen = service.resume(member)
    if isinstance(screen, Refused):
        return _to_login(request, screen)
    if screen.step is not Step.PROFILE:
        return redirect(_url("journey"))
    error: str | None = None
    if request.method == "POST":
        channels = []
        for value in request.POST.getlist("channels")[:8]:
            try:
                channels.append(Channel(value))
            except ValueError:
                continue
        pets_raw = request.POST.get("pets")
        pets = None if pets_raw not in ("yes", "no") else pets_raw == "yes"
        interests = [i.strip() for i in re.split(r"[,\n]", _field(request, "interests"))
                     if i.strip()]
        result = service.update_profile(member, channels=channels, pets=pets,
                                        interests=interests[:20],
                                        comments=_field(request, "comments"),
                                        ip=client_ip(request))
        if isinstance(result, Ok):
            messages.success(request, _t(result.notice or "notice.profile_saved"))
            return redirect(_url("profile"))
        if result.reason is Reason.SESSION_EXPIRED:
            return _to_login(request, result)
        error = describe(result, _lang())
    view = service.profile(member)
    if isinstance(view, Refused):
        return _to_login(request, view)
    context = _profile_context(service, view, member)
    context["error"] = error
    return _page(request, "cegema_onboarding/profile.html", context)


def _connected_post(request: HttpRequest) -> Session | HttpResponse:
    member = _member(request)
    if member is None:
        return _to_login(request, Refused(Reason.SESSION_EXPIRED))
    return member


def _profile_refusal(request: HttpRequest, result: Refused) -> HttpResponse:
    if result.reason is Reason.SESSION_EXPIRED:
        return _to_login(request, result)
    messages.error(request, describe(result, _lang()))
    return redirect(_url("profile"))


@never_cache
@csrf_protect
@require_POST
def change_password(request: HttpRequest) -> HttpResponse:
    """A logged-in member changes their password; every other session ends."""
    member = _connected_post(request)
    if isinstance(member, HttpResponse):
        return member
    result = get_service().change_password(
        member, _field(request, "current_password"), _field(request, "password"),
        _field(request, "password_confirm"), ip=client_ip(request),
        user_agent=user_agent(request))
    if isinstance(result, Refused):
        return _profile_refusal(request, result)
    if result.session is not None:
        # This browser keeps going with the new epoch; the others are logged out.
        request.session.cycle_key()
        store_session(request, result.session)
    messages.success(request, _t(result.notice or "notice.password_changed"))
    return redirect(_url("profile"))


@never_cache
@csrf_protect
@require_POST
def request_email_change(request: HttpRequest) -> HttpResponse:
    """Change the address: re-type the password; a link goes to the new address."""
    member = _connected_post(request)
    if isinstance(member, HttpResponse):
        return member
    result = get_service().request_email_change(
        member, _field(request, "current_password"), _field(request, "email"),
        _field(request, "email_confirm"), ip=client_ip(request),
        user_agent=user_agent(request))
    if isinstance(result, Refused):
        return _profile_refusal(request, result)
    messages.success(request, _t(result.notice or "notice.email_change_sent"))
    return redirect(_url("profile"))


@never_cache
@csrf_protect
@require_POST
def forget_devices(request: HttpRequest) -> HttpResponse:
    """Forget every remembered browser of the member."""
    member = _connected_post(request)
    if isinstance(member, HttpResponse):
        return member
    result = get_service().revoke_remembered(member, None, ip=client_ip(request))
    if isinstance(result, Refused):
        return _profile_refusal(request, result)
    response = redirect(_url("profile"))
    _forget_cookie(request, response)
    return response
