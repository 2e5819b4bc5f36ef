"""What every view module shares: the language, the texts, the page, the journey's screens.

Private to the views package; the names carry no underscore because the modules beside this
one import them. The views stay thin: they read the form, call one service method and hand
its result to :func:`after` or :func:`page`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, Final

from django.conf import settings as django_settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import get_language

from .... import texts
from ....flow import Reason, Refused
from ....model import Session, Step
from ....service import Ok, OnboardingService, Screen, describe, retry_after
from ..._web import query_without_token, refusal_field
from ..._web import safe_next as web_safe_next
from ..backends import user_for_account
from ..conf import cookies_secure, get_service, option
from ..member import current_member as member_of
from ..session import BACKEND_PATH, clear_session, load_session, store_session
from ..signals import journey_completed

_TEMPLATES: dict[Step, str] = {
    Step.EMAIL: "cegema_onboarding/email.html",
    Step.CHECK_MAILBOX: "cegema_onboarding/check_mailbox.html",
    Step.AWAITING_ACTIVATION: "cegema_onboarding/awaiting_activation.html",
    Step.PASSWORD: "cegema_onboarding/password.html",
    Step.QUESTION: "cegema_onboarding/question.html",
}
#: Form fields (and cookies) are bounded well before the library's own limits reject them.
MAX_FIELD = 4096
# A page with a form: shown on GET and HEAD (uptime probes, mail scanners), submitted on
# POST only; the views test ``request.method != "POST"``, never ``== "GET"``.
PAGE_METHODS: Final = ["GET", "HEAD", "POST"]
View = Callable[..., HttpResponse]


def current_lang() -> str:
    """Django's active language, as one the texts have (French when unknown)."""
    return texts.resolve_lang(get_language())


def member_language(view: View) -> View:
    """Run ``view`` in the member's language: the switch's ``?lang=``, then the remembered
    choice, then the settings' default (French), never the browser's Accept-Language.

    The portal speaks the guide's language unless the member asks otherwise: a browser set
    to English (headless Chromium is) still gets French. The choice goes into Django's own
    language cookie, so ``set_language`` and this switch agree.
    """

    if getattr(view, "cegema_member_language", False):
        return view

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        cookie_name = django_settings.LANGUAGE_COOKIE_NAME
        asked = request.GET.get("lang")
        chosen = asked if asked in texts.LANGS else None
        remembered = request.COOKIES.get(cookie_name)
        lang = chosen or (remembered if remembered in texts.LANGS else None) or (
            texts.resolve_lang(get_service().settings.default_lang))
        with translation.override(lang):
            response = view(request, *args, **kwargs)
        if chosen is not None:
            # As Django's set_language writes it, Secure too whenever the app's cookies are.
            response.set_cookie(cookie_name, chosen,
                                max_age=django_settings.LANGUAGE_COOKIE_AGE or 365 * 24 * 3600,
                                path=django_settings.LANGUAGE_COOKIE_PATH,
                                domain=django_settings.LANGUAGE_COOKIE_DOMAIN,
                                samesite=django_settings.LANGUAGE_COOKIE_SAMESITE or "Lax",
                                secure=(django_settings.LANGUAGE_COOKIE_SECURE
                                        or cookies_secure() or request.is_secure()),
                                httponly=True)
        response["Content-Language"] = lang
        return response

    # Applied once per view, whether by its decorator or by the app's URLconf.
    wrapper.cegema_member_language = True  # type: ignore[attr-defined]
    return wrapper


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
    wait = base.get("retry_after")
    if isinstance(wait, int) and status == 200:
        # A limit refusal: 429 with the wait, on the GET that the refused POST's redirect
        # leads to (Post/Redirect/Get kept): Back and reload land on a GET, never on a
        # POST's response, and clients that read Retry-After know when to come back.
        status = 429
    response = render(request, template, base, status=status)
    if status == 429 and isinstance(wait, int):
        response["Retry-After"] = str(wait)
    # Nothing of a page's address goes to other sites. Not "no-referrer": browsers then
    # send "Origin: null" with the page's own forms, which Django's CSRF check refuses
    # (every POST of a real browser failed with 403). The mailed links' token never
    # reaches a page's address: their redirect (see _links) sends no referrer at all.
    response["Referrer-Policy"] = "same-origin"
    return response


#: The confirmation a screen shows as a pop-up (<dialog>) once, after a redirect.
DIALOG_KEY = "cegema_onboarding.dialog"
#: Where a refused form waits for the page its redirect shows (Post/Redirect/Get).
FORM_KEY = "cegema_onboarding.form"
#: Where a login's safe ``next`` waits for the end of the journey.
NEXT_KEY = "cegema_onboarding.next"
# Bounds on what a refused form keeps in the session: a few values, each address-sized.
_MAX_KEPT_VALUES = 4
_MAX_KEPT_VALUE = 320
_REASONS = {r.value: r for r in Reason}


def keep_form(request: HttpRequest, view_name: str, refused: Refused | None = None, *,
              done: str | None = None, form: str | None = None,
              **values: str) -> HttpResponseRedirect:
    """Answer a POST with a redirect to ``view_name``, keeping what its next GET shows.

    A refusal is kept by its reasons (the page says them in its own language), with the
    typed values that are not secrets: passwords, answers and codes are never kept. ``done``
    is a text key for a page that answers a request by replacing its form. ``form`` names
    which of a page's forms was refused (``error_form``), when it has several with the
    same field names (the profile's password and address forms). Back then never lands
    on a POST's response, so it never asks to send a form again.
    """
    kept: dict[str, Any] = {"view": view_name, "done": done, "form": form, "values": {
        k: str(v)[:_MAX_KEPT_VALUE] for k, v in list(values.items())[:_MAX_KEPT_VALUES]}}
    if refused is not None:
        kept.update(reasons=[r.value for r in (refused.reason, *refused.others)],
                    field=refused.field,
                    params=[[k, v] for k, v in refused.params if isinstance(v, int | str)])
    request.session[FORM_KEY] = kept
    # 303: the browser follows with a GET, whatever the POST was.
    return HttpResponseRedirect(url(view_name), status=303)


def kept_form(request: HttpRequest, view_name: str) -> dict[str, Any]:
    """The context a redirected form left for ``view_name``: its error and typed values.

    Taken once: a reload shows the clean form. Empty when nothing was kept for this page.
    """
    kept = request.session.pop(FORM_KEY, None)
    if not isinstance(kept, dict) or kept.get("view") != view_name:
        return {}
    context: dict[str, Any] = {}
    values = kept.get("values")
    if isinstance(values, dict):
        context.update({str(k): str(v) for k, v in values.items()})
    done = kept.get("done")
    if isinstance(done, str) and done in texts.KEYS:
        context["done"] = t(done)
    names = kept.get("reasons")
    if isinstance(names, list) and names and all(n in _REASONS for n in names):
        field = kept.get("field")
        raw = kept.get("params")
        params = tuple((str(p[0]), p[1]) for p in raw if isinstance(p, list) and len(p) == 2
                       and isinstance(p[1], int | str)) if isinstance(raw, list) else ()
        refused = Refused(_REASONS[names[0]], field=field if isinstance(field, str) else None,
                          others=tuple(_REASONS[n] for n in names[1:]), params=params)
        context["error"] = describe(refused, current_lang())
        context["error_field"] = refusal_field(refused, IDENTIFIER)
        form = kept.get("form")
        context["error_form"] = form if isinstance(form, str) else None
        if (wait := retry_after(refused)) is not None:
            context["retry_after"] = wait
    return context


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
          error_context: dict[str, str] | None = None) -> HttpResponse:
    """Answer one service result with a redirect (PRG): on success to the next screen, on
    refusal to the same screen, which shows the error and ``error_context``'s values."""
    if isinstance(result, Refused):
        if result.reason is Reason.SESSION_EXPIRED:
            return to_login(request, result)
        member = current_member(request)
        if member is None:
            return to_login(request, result)
        # Shown on the member's screen after the redirect, with what they typed.
        return keep_form(request, "journey", result, **(error_context or {}))
    if result.session is not None:
        store_session(request, result.session)
    session = result.session or load_session(request)
    if result.step is Step.PROFILE and session is not None:
        complete(request, session)
        # Only the journey's last step (password or question) leads here, once per
        # account: the host's hook. The member it carries costs storage reads: only when
        # someone listens.
        if journey_completed.has_listeners(after):
            journey_completed.send(sender=after, request=request, member=member_of(request))
        # The page a login's ``next`` asked for, kept through the journey (checked then).
        kept_next = safe_next(request.session.pop(NEXT_KEY, None))
        if kept_next:
            return HttpResponseRedirect(kept_next)
    if result.notice == "notice.link_sent" and result.step is Step.CHECK_MAILBOX:
        # The guide's step 4 is a pop-up over the screen: the page shows it as a <dialog>.
        request.session[DIALOG_KEY] = result.notice
    elif result.notice:
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
    dialog = request.session.pop(DIALOG_KEY, None)
    if screen.step is Step.CHECK_MAILBOX and dialog == "notice.link_sent":
        context["sent"] = t(dialog)
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
    if screen.step is Step.AWAITING_ACTIVATION and screen.notice_channel is not None:
        # How staff's answer will reach the member: the guide's "Un conseiller vous
        # tiendra informé", made concrete.
        context["channel_text"] = texts.text(
            f"screen.awaiting_activation.channel.{screen.notice_channel.value}", lang)
    return context


def safe_next(value: object) -> str:
    """``value`` when it is a path on this site (``next`` after login); else ``""``.

    The rule both integrations share (:func:`cegema_onboarding.integrations._web.safe_next`):
    only paths from the root, never ``//evil.example``, ``https://evil.example`` or
    ``/\\evil``, which browsers read as another site; then Django's own check too.
    """
    path = web_safe_next(value) if isinstance(value, str) else None
    if path is None or not url_has_allowed_host_and_scheme(path, allowed_hosts=set(),
                                                           require_https=True):
        return ""
    return path
