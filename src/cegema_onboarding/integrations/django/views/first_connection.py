"""PREMIÈRE CONNEXION: the first-connection journey, screen by screen, and its mailed link.

Each POST calls one service method and hands the result to :func:`._common.after`, which
redirects to the member's current screen (Post/Redirect/Get), refusals included: the
screen shows the refusal once, kept for it by :func:`._common.keep_form`.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from ....flow import Reason, Refused
from ....model import LinkPurpose
from ..conf import get_service
from ..session import client_ip, load_session
from ._common import (
    PAGE_METHODS,
    after,
    current_member,
    form_field,
    grant,
    keep_form,
    kept_form,
    member_language,
    member_posting,
    page,
    show_screen,
    t,
    to_login,
    url,
)
from ._links import link_page, link_view, posted_token
from .auth import remembered


@member_language
@never_cache
@require_safe
@remembered
def journey(request: HttpRequest) -> HttpResponse:
    """The member's current screen, wherever they stopped."""
    member = current_member(request)
    if member is None:
        return to_login(request)
    return show_screen(request, member, kept_form(request, "journey"))


@member_language
@never_cache
@csrf_protect
@require_POST
def submit_email(request: HttpRequest) -> HttpResponse:
    """PREMIÈRE CONNEXION – ENTREZ VOTRE ADRESSE MAIL: send the validation link."""
    member = member_posting(request)
    if isinstance(member, HttpResponse):
        return member
    email, confirmation = form_field(request, "email"), form_field(request, "confirmation")
    result = get_service().submit_email(member, email, confirmation, ip=client_ip(request))
    return after(request, result, {"email_value": email, "email_confirm_value": confirmation})


@member_language
@never_cache
@csrf_protect
@require_http_methods(PAGE_METHODS)
def no_email(request: HttpRequest) -> HttpResponse:
    """"Vous n'avez pas d'adresse email ?": GET explains, POST joins the staff queue."""
    member = member_posting(request)
    if isinstance(member, HttpResponse):
        return member
    if request.method != "POST":
        return page(request, "cegema_onboarding/no_email.html")
    # A refusal shows on the member's screen (after), as every journey form's.
    return after(request, get_service().declare_no_email(member, ip=client_ip(request)))


@member_language
@never_cache
@csrf_protect
@require_POST
def resend_link(request: HttpRequest) -> HttpResponse:
    """Send the validation link again; the previous one stops working."""
    member = member_posting(request)
    if isinstance(member, HttpResponse):
        return member
    return after(request, get_service().resend_link(member, ip=client_ip(request)))


@member_language
@never_cache
@csrf_protect
@require_POST
def change_email(request: HttpRequest) -> HttpResponse:
    """Back to the email step; the pending link stops working."""
    member = member_posting(request)
    if isinstance(member, HttpResponse):
        return member
    return after(request, get_service().change_email(member, ip=client_ip(request)))


@member_language
@never_cache
@csrf_protect
@require_http_methods(PAGE_METHODS)
def submit_code(request: HttpRequest) -> HttpResponse:
    """The short code from the mail, for a member who reads mail on another device."""
    member = member_posting(request)
    if isinstance(member, HttpResponse):
        return member
    if request.method != "POST":
        return page(request, "cegema_onboarding/code.html", kept_form(request, "submit_code"))
    result = get_service().submit_code(member, form_field(request, "code"), ip=client_ip(request))
    if isinstance(result, Refused) and result.reason is not Reason.SESSION_EXPIRED:
        return keep_form(request, "submit_code", result)
    return after(request, result)


@member_language
@never_cache
@csrf_protect
@require_POST
def set_password(request: HttpRequest) -> HttpResponse:
    """Choose the new password (and confirm it)."""
    member = member_posting(request)
    if isinstance(member, HttpResponse):
        return member
    result = get_service().set_password(member, form_field(request, "password"),
                                        form_field(request, "confirmation"),
                                        ip=client_ip(request))
    return after(request, result)


@member_language
@never_cache
@csrf_protect
@require_POST
def set_question(request: HttpRequest) -> HttpResponse:
    """Mon profil: the secret question and its answer."""
    member = member_posting(request)
    if isinstance(member, HttpResponse):
        return member
    question_id = form_field(request, "question")
    result = get_service().set_secret_answer(member, question_id, form_field(request, "answer"),
                                             form_field(request, "confirmation"),
                                             ip=client_ip(request))
    return after(request, result, {"question_value": question_id})


# ---------------------------------------------------------------------------- the link


@member_language
@never_cache
@csrf_protect
@require_http_methods(PAGE_METHODS)
@link_view
def confirm_link(request: HttpRequest) -> HttpResponse:
    """The validation link: GET shows a confirmation page, POST spends the link."""
    template = "cegema_onboarding/confirm_link.html"
    if request.method != "POST":
        return link_page(request, LinkPurpose.VERIFY_EMAIL, template,
                         kept=kept_form(request, "confirm_link"))
    # Only this browser's own session opens the password step at once (see confirm_link).
    result = get_service().confirm_link(posted_token(request), ip=client_ip(request),
                                        session=load_session(request))
    if isinstance(result, Refused):
        return keep_form(request, "confirm_link", result)
    if result.session is None:
        messages.success(request, t(result.notice or "notice.email_verified_login"))
        return redirect(url("login"))
    grant(request, result.session, new_login=True)
    messages.success(request, t("screen.confirm_link.title"))
    return redirect(url("journey"))
