"""Recovery: the forgotten identifier and password, the reset link, and "ce n'était pas moi".

The forms a stranger may post answer alike whether or not an account matches; the service
words the answer, these views only show it.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import logout as auth_logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods

from .... import texts
from ....flow import Refused, reset_checks_answer
from ....model import LinkPurpose
from ..conf import get_service
from ..session import clear_session, client_ip, user_agent
from ._common import (
    PAGE_METHODS,
    current_lang,
    form_field,
    keep_form,
    kept_form,
    member_language,
    page,
    t,
    url,
)
from ._links import link_page, link_view, posted_token


@member_language
@never_cache
@csrf_protect
@require_http_methods(PAGE_METHODS)
def forgotten_password(request: HttpRequest) -> HttpResponse:
    """"Mot de passe oublié ?": the same answer whether or not the member exists."""
    template = "cegema_onboarding/forgotten_password.html"
    if request.method != "POST":
        return page(request, template, kept_form(request, "forgotten_password"))
    number = form_field(request, "identifier")
    result = get_service().forgot_password(number, ip=client_ip(request),
                                           user_agent=user_agent(request))
    if isinstance(result, Refused):
        return keep_form(request, "forgotten_password", result, identifier=number)
    return keep_form(request, "forgotten_password",
                     done=result.notice or "notice.forgotten_password_sent")


@member_language
@never_cache
@csrf_protect
@require_http_methods(PAGE_METHODS)
def forgotten_identifier(request: HttpRequest) -> HttpResponse:
    """"Identifiant oublié ?": the member number goes to the address, if it is known."""
    template = "cegema_onboarding/forgotten_identifier.html"
    if request.method != "POST":
        return page(request, template, kept_form(request, "forgotten_identifier"))
    address = form_field(request, "email")
    result = get_service().forgot_identifier(address, ip=client_ip(request),
                                             user_agent=user_agent(request))
    if isinstance(result, Refused):
        return keep_form(request, "forgotten_identifier", result, email_value=address)
    return keep_form(request, "forgotten_identifier",
                     done=result.notice or "notice.forgotten_identifier_sent")


# ---------------------------------------------------------------------------- the links


@member_language
@never_cache
@csrf_protect
@require_http_methods(PAGE_METHODS)
@link_view
def reset_link(request: HttpRequest) -> HttpResponse:
    """The password-reset link: GET shows the form, POST sets the new password."""
    service = get_service()
    template = "cegema_onboarding/reset.html"
    extra = {"ask_answer": reset_checks_answer(service.settings),
             "password_rules": texts.text(
                 "notice.password_rules", current_lang(),
                 min_length=service.settings.password_policy.min_length)}
    if request.method != "POST":
        return link_page(request, LinkPurpose.RESET_PASSWORD, template, extra,
                         kept=kept_form(request, "reset_link"))
    token = posted_token(request)
    answer = form_field(request, "answer") if extra["ask_answer"] else None
    result = service.complete_reset(token, form_field(request, "password"),
                                    form_field(request, "confirmation"), answer=answer,
                                    ip=client_ip(request), user_agent=user_agent(request))
    if isinstance(result, Refused):
        # The form stays usable while the link is: a wrong answer or a weak password.
        return keep_form(request, "reset_link", result)
    # Every session ended with the reset, this one included: the member logs in again.
    auth_logout(request)
    clear_session(request)
    messages.success(request, t(result.notice or "notice.password_reset_done"))
    return redirect(url("login"))


@member_language
@never_cache
@csrf_protect
@require_http_methods(PAGE_METHODS)
@link_view
def not_me_link(request: HttpRequest) -> HttpResponse:
    """"Ce n'était pas moi": GET explains, POST locks the account and starts recovery."""
    template = "cegema_onboarding/not_me.html"
    if request.method != "POST":
        return link_page(request, LinkPurpose.NOT_ME, template,
                         kept=kept_form(request, "not_me_link"))
    result = get_service().confirm_not_me(posted_token(request), ip=client_ip(request),
                                          user_agent=user_agent(request))
    if isinstance(result, Refused):
        return keep_form(request, "not_me_link", result)
    auth_logout(request)
    clear_session(request)
    messages.success(request, t(result.notice or "notice.not_me_done"))
    return redirect(url("login"))
