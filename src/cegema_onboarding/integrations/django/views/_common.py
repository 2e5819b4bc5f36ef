"""What every view module shares: the language, the texts, the page, the journey's screens.

Private to the views package; the names carry no underscore because the modules beside this
one import them. The views stay thin: they read the form, call one service method and hand
its result to :func:`after` or :func:`page`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, Final

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import get_language

from .... import texts
from ....flow import Reason, Refused
from ....model import Session, Step
from ....service import Ok, OnboardingService, Screen, describe
from ..._web import query_without_token, refusal_field
from ..backends import user_for_account
from ..conf import cookies_secure, get_service, option
from ..member import current_member as member_of
from ..session import BACKEND_PATH, clear_session, load_session, store_session

_TEMPLATES: dict[Step, str] = {
    Step.EMAIL: "cegema_onboarding/email.html",
    Step.CHECK_MAILBOX: "cegema_onboarding/check_mailbox.html",
    Step.AWAITING_ACTIVATION: "cegema_onboarding/awaiting_activation.html",
    Step.PASSWORD: "cegema_onboarding/password.html",
    Step.QUESTION: "cegema_onboarding/question.html",
}
#: Form fields (and cookies) are bounded well before the library's own limits reject them.
MAX_FIELD = 4096
View = Callable[..., HttpResponse]


def current_lang() -> str:
    """Django's active language, as one the texts have (French when unknown)."""
    return texts.resolve_lang(get_language())


def t(key: str, **params: Any) -> str:
    """The text of ``key`` in the active language; ``{brand}`` is filled in by default."""
    params.setdefault("brand", get_service().settings.mail.brand)
    return texts.text(key, current_lang(), **params)


def form_field(request: HttpRequest, name: str) -> str:
    """A posted field, bounded; missing fields read as empty."""
    return str(request.POST.get(name, ""))[:MAX_FIELD]


#: The login forms call the member number "identifier" (as the guide's label does).
IDENTIFIER: Final[Mapping[str, str]] = {"member_number": "identifier"}


def url(name: str) -> str:
    """The path of one of the app's routes."""
    return reverse(f"cegema_onboarding:{name}")


def page(request: HttpRequest, template: str, context: dict[str, Any] | None = None,
         status: int = 200) -> HttpResponse:
    """Render ``template`` with what every page has, under the Flask integration's names.

    ``brand``, ``lang``, ``other_lang`` and ``other_lang_url`` (this page in the other
    language), ``notice`` (the confirmations of this request, or ``None``), ``csp_nonce``
    (the request's nonce when the site sets one, as django-csp does; else ``""``) and
    ``current_member`` (see :mod:`..member`).
    """
    service = get_service()
    lang = current_lang()
    other = "en" if lang == "fr" else "fr"
    query = [(k, v) for k, values in request.GET.lists() for v in values if k != "lang"]
    notices = [str(m) for m in messages.get_messages(request)]
    base: dict[str, Any] = {
        "brand": service.settings.mail.brand,
        "lang": lang,
        "other_lang": other,
        "other_lang_url": f"{request.path}?{query_without_token([*query, ('lang', other)])}",
        # Iterating the messages keeps them for this request: {{ messages }} still works.
        "notice": " ".join(notices) or None,
        "csp_nonce": str(getattr(request, "csp_nonce", "") or ""),
        "current_member": member_of(request),
    }
    base.update(context or {})
    response = render(request, template, base, status=status)
    # A Referer never carries a page's path or query, only the site's origin. Not
    # no-referrer: browsers then send "Origin: null" with every POST, which Django's CSRF
    # check refuses (pages' URLs hold no token: links move it out with a 303 first).
    response["Referrer-Policy"] = "strict-origin"
    return response


def to_login(request: HttpRequest, refused: Refused | None = None) -> HttpResponseRedirect:
    """End the journey session and go to the login page, saying why when there is a reason."""
    clear_session(request)
    if refused is not None:
        messages.error(request, describe(refused, current_lang()))
    return redirect(url("login"))


def current_member(request: HttpRequest) -> Session | None:
    """This browser's journey session, if any."""
    return load_session(request)


def member_posting(request: HttpRequest) -> Session | HttpResponse:
    """The session a form was posted from, or the way to the login page when it has none."""
    member = current_member(request)
    if member is None:
        return to_login(request, Refused(Reason.SESSION_EXPIRED))
    return member


def grant(request: HttpRequest, session: Session, *, new_login: bool) -> None:
    """Keep a session the service granted; log the Django user in once the journey is done."""
    if new_login:
        # A fresh key at every privilege change: no session fixation.
        request.session.cycle_key()
    store_session(request, session)


def complete(request: HttpRequest, session: Session) -> None:
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


def after(request: HttpRequest, result: Ok | Refused,
          error_context: dict[str, Any] | None = None) -> HttpResponse:
    """Render one service result: on success redirect (PRG), on refusal show the screen."""
    if isinstance(result, Refused):
        if result.reason is Reason.SESSION_EXPIRED:
            return to_login(request, result)
        member = current_member(request)
        if member is None:
            return to_login(request, result)
        context = dict(error_context or {})
        context["error"] = describe(result, current_lang())
        context["error_field"] = refusal_field(result, IDENTIFIER)
        return show_screen(request, member, context)
    if result.session is not None:
        store_session(request, result.session)
        if result.step is Step.PROFILE:
            complete(request, result.session)
    if result.notice:
        messages.success(request, t(result.notice))
    return redirect(url("journey"))


def show_screen(request: HttpRequest, member: Session,
                extra: dict[str, Any] | None = None) -> HttpResponse:
    """The member's current journey screen, or the profile once the journey is complete."""
    service = get_service()
    screen = service.resume(member)
    if isinstance(screen, Refused):
        return to_login(request, screen)
    if screen.step is Step.PROFILE:
        complete(request, member)
        return redirect(url("profile"))
    if screen.step not in _TEMPLATES:
        return to_login(request)
    context = _step_context(service, screen)
    context.update(extra or {})
    return page(request, _TEMPLATES[screen.step], context)


def _step_context(service: OnboardingService, screen: Screen) -> dict[str, Any]:
    lang = current_lang()
    settings = service.settings
    context: dict[str, Any] = {"screen": screen, "name": screen.name,
                               "email_value": screen.prefill_email or ""}
    if screen.step is Step.CHECK_MAILBOX:
        # "qu'une heure", "24 heures": texts picks the unit, the plural and the elision.
        context["check_body"] = texts.text(
            "screen.check_mailbox.body", lang, address=screen.prefill_email or "",
            duration=texts.duration(settings.link_lifetime, lang))
    if screen.step is Step.EMAIL and screen.rejection:
        context["rejection_body"] = texts.text("screen.activation_rejected.body", lang,
                                               reason=screen.rejection)
    if screen.step is Step.PASSWORD:
        context["password_rules"] = texts.text(
            "notice.password_rules", lang, min_length=settings.password_policy.min_length)
    if screen.step is Step.QUESTION:
        context["questions"] = [(q.id, q.label(lang)) for q in settings.questions]
    return context


def asked_language(view: View) -> View:
    """Serve ``view`` in the language of ``?lang=`` (``fr``, ``en``) and remember it.

    The language switch of every page (``other_lang_url``) links here. The choice goes into
    Django's language cookie, which ``LocaleMiddleware`` reads on the next requests.
    """

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        asked = request.GET.get("lang")
        if asked not in texts.LANGS:
            return view(request, *args, **kwargs)
        with translation.override(asked):
            response = view(request, *args, **kwargs)
        # As Django's set_language writes it, Secure too whenever the app's cookies are.
        response.set_cookie(settings.LANGUAGE_COOKIE_NAME, asked,
                            max_age=settings.LANGUAGE_COOKIE_AGE,
                            path=settings.LANGUAGE_COOKIE_PATH,
                            domain=settings.LANGUAGE_COOKIE_DOMAIN,
                            samesite=settings.LANGUAGE_COOKIE_SAMESITE,
                            secure=settings.LANGUAGE_COOKIE_SECURE or cookies_secure(),
                            httponly=settings.LANGUAGE_COOKIE_HTTPONLY)
        return response

    return wrapper
