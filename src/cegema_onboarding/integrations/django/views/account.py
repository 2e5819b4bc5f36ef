"""Mon profil: the member's profile once the journey is complete, and its changes.

Changing the password, changing the address (the link sent to the new address is handled
here too) and forgetting every remembered browser. Each change is a POST from the profile
page, which it redirects back to.
"""

from __future__ import annotations

import re
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods, require_POST

from .... import texts
from ....flow import Reason, Refused
from ....model import LinkPurpose, Session, Step
from ....service import Ok, OnboardingService, ProfileView
from ..._web import PROFILE_CHANNELS, local_time, parse_channels, parse_pets
from ..conf import get_service
from ..session import client_ip, load_session, store_session, user_agent
from ._common import (
    PAGE_METHODS,
    current_lang,
    current_member,
    form_field,
    keep_form,
    kept_form,
    member_language,
    member_posting,
    page,
    t,
    to_login,
    url,
)
from ._links import link_page, link_view, posted_token
from .auth import forget_cookie, remembered


def _profile_context(service: OnboardingService, view: ProfileView,
                     member: Session) -> dict[str, Any]:
    lang = current_lang()
    chosen = set(view.profile.channels)
    return {
        "view": view,
        "name": view.name,
        "email": view.email,
        "completion": texts.text("label.profile_completion", lang, percent=view.completion),
        "channels": [(c.value, texts.text(f"label.channel.{c.value}", lang), c in chosen)
                     for c in PROFILE_CHANNELS],
        "pets": view.profile.pets,
        "missing": [texts.text("ui.completion.hint", lang, points=points,
                               item=texts.text(f"ui.completion.{item}", lang))
                    for item, points in view.missing],
        "interests": ", ".join(view.profile.interests),
        "comments": view.profile.comments,
        "adviser": view.profile.adviser,
        "devices": [(d, local_time(d.last_used_at, service.settings.mail.timezone, lang))
                    for d in view.devices],
        "password_rules": texts.text("notice.password_rules", lang,
                                     min_length=service.settings.password_policy.min_length),
    }


@member_language
@never_cache
@csrf_protect
@require_http_methods(PAGE_METHODS)
@remembered
def profile(request: HttpRequest) -> HttpResponse:
    """Mon profil et mes informations: shown once the journey is complete; POST saves it."""
    member = current_member(request)
    if member is None:
        return to_login(request)
    service = get_service()
    screen = service.resume(member)
    if isinstance(screen, Refused):
        return to_login(request, screen)
    if screen.step is not Step.PROFILE:
        return redirect(url("journey"))
    if request.method == "POST":
        # Bounded: the form has four boxes, a forged POST may send thousands.
        channels = parse_channels(request.POST.getlist("channels")[:8])
        pets = parse_pets(request.POST.get("pets"))
        interests = [i.strip() for i in re.split(r"[,\n]", form_field(request, "interests"))
                     if i.strip()]
        result = service.update_profile(member, channels=channels, pets=pets,
                                        interests=interests[:20],
                                        comments=form_field(request, "comments"),
                                        ip=client_ip(request))
        if isinstance(result, Ok):
            messages.success(request, t(result.notice or "notice.profile_saved"))
            return redirect(url("profile"))
        if result.reason is Reason.SESSION_EXPIRED:
            return to_login(request, result)
        return keep_form(request, "profile", result)
    view = service.profile(member)
    if isinstance(view, Refused):
        return to_login(request, view)
    context = _profile_context(service, view, member)
    context.update(kept_form(request, "profile"))
    return page(request, "cegema_onboarding/profile.html", context)


def _profile_refusal(request: HttpRequest, result: Refused, form: str | None = None,
                     **typed: str) -> HttpResponse:
    """Back to the profile, whose ``form`` shows the refusal tied to its field (Post/
    Redirect/Get), with the values typed that are not secrets."""
    if result.reason is Reason.SESSION_EXPIRED:
        return to_login(request, result)
    return keep_form(request, "profile", result, form=form, **typed)


@member_language
@never_cache
@csrf_protect
@require_POST
def change_password(request: HttpRequest) -> HttpResponse:
    """A logged-in member changes their password; every other session ends."""
    member = member_posting(request)
    if isinstance(member, HttpResponse):
        return member
    result = get_service().change_password(
        member, form_field(request, "current_password"), form_field(request, "password"),
        form_field(request, "confirmation"), ip=client_ip(request),
        user_agent=user_agent(request))
    if isinstance(result, Refused):
        return _profile_refusal(request, result, "password")
    if result.session is not None:
        # This browser keeps going with the new epoch; the others are logged out.
        request.session.cycle_key()
        store_session(request, result.session)
    messages.success(request, t(result.notice or "notice.password_changed"))
    return redirect(url("profile"))


@member_language
@never_cache
@csrf_protect
@require_POST
def request_email_change(request: HttpRequest) -> HttpResponse:
    """Change the address: re-type the password; a link goes to the new address."""
    member = member_posting(request)
    if isinstance(member, HttpResponse):
        return member
    address, confirmation = form_field(request, "email"), form_field(request, "confirmation")
    result = get_service().request_email_change(
        member, form_field(request, "current_password"), address, confirmation,
        ip=client_ip(request), user_agent=user_agent(request))
    if isinstance(result, Refused):
        # The page's own "email" is the member's address: the typed ones go under others.
        return _profile_refusal(request, result, "email", new_email=address,
                                new_email_confirm=confirmation)
    messages.success(request, t(result.notice or "notice.email_change_sent"))
    return redirect(url("profile"))


@member_language
@never_cache
@csrf_protect
@require_POST
def forget_devices(request: HttpRequest) -> HttpResponse:
    """Forget every remembered browser of the member."""
    member = member_posting(request)
    if isinstance(member, HttpResponse):
        return member
    result = get_service().revoke_remembered(member, None, ip=client_ip(request))
    if isinstance(result, Refused):
        return _profile_refusal(request, result)
    response = redirect(url("profile"))
    forget_cookie(request, response)
    return response


# ---------------------------------------------------------------------------- the link


@member_language
@never_cache
@csrf_protect
@require_http_methods(PAGE_METHODS)
@link_view
def email_change_link(request: HttpRequest) -> HttpResponse:
    """The link sent to a new address: GET shows a button, POST changes the address."""
    template = "cegema_onboarding/confirm_link.html"
    if request.method != "POST":
        return link_page(request, LinkPurpose.CHANGE_EMAIL, template,
                         {"action": "cegema_onboarding:email_change_link"},
                         kept=kept_form(request, "email_change_link"))
    # This browser's own session makes the new address a recovery channel at once.
    result = get_service().confirm_email_change(posted_token(request), ip=client_ip(request),
                                                session=load_session(request))
    if isinstance(result, Refused):
        return keep_form(request, "email_change_link", result)
    messages.success(request, t(result.notice or "notice.email_changed"))
    return redirect(url("profile"))
