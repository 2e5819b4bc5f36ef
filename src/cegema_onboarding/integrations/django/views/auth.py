"""Logging in and out, and remember-me ("Se souvenir de moi").

A remembered browser holds a remember-me token in a cookie; :func:`remembered` logs it in
on a page load and rotates the token, and logging out revokes this browser's series.
"""

from __future__ import annotations

import functools
from typing import Any

from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods, require_POST

from ....flow import Reason, Refused
from ....model import Step
from ....service import Ok
from ..._web import REMEMBER_COOKIE_NAME, host_cookie
from ..backends import OnboardingBackend
from ..conf import cookies_secure, get_service, option
from ..session import (
    BACKEND_PATH,
    clear_session,
    client_ip,
    load_session,
    store_session,
    user_agent,
)
from ._common import (
    MAX_FIELD,
    NEXT_KEY,
    PAGE_METHODS,
    View,
    complete,
    current_member,
    form_field,
    grant,
    keep_form,
    kept_form,
    member_language,
    page,
    safe_next,
    url,
)

#: The remember-me cookie, prefixed like the Flask extension's whenever it is Secure.
REMEMBER_COOKIE = host_cookie(REMEMBER_COOKIE_NAME, secure=True)
#: Its name without Secure (DEBUG), and before the prefix: read for one more release, so
#: that browsers remembered under it stay remembered; each use rewrites it under the new one.
PLAIN_REMEMBER_COOKIE = REMEMBER_COOKIE_NAME


# ---------------------------------------------------------------------------- remember me


def _app_root() -> str:
    # Where the app is mounted: the plain cookie's path, as it always was.
    return url("login").rsplit("/", 2)[0] + "/"


def remembered_token(request: HttpRequest) -> str | None:
    """This browser's remember-me token, under the current name or the plain one."""
    name = host_cookie(REMEMBER_COOKIE_NAME, cookies_secure())
    value = request.COOKIES.get(name) or request.COOKIES.get(PLAIN_REMEMBER_COOKIE)
    return value[:MAX_FIELD] if value else None


def set_remember_cookie(request: HttpRequest, response: HttpResponse, token: str) -> None:
    """Keep ``token`` in this browser for the configured remember-me lifetime."""
    lifetime = get_service().settings.remember_lifetime
    secure = cookies_secure()
    # __Host- needs Secure, Path=/ and no Domain (Django sets no Domain unless asked).
    response.set_cookie(
        host_cookie(REMEMBER_COOKIE_NAME, secure), token, max_age=int(lifetime.total_seconds()),
        secure=secure, httponly=True, samesite="Lax", path="/" if secure else _app_root())
    if secure and PLAIN_REMEMBER_COOKIE in request.COOKIES:
        # Moved under the prefixed name: the old cookie goes.
        response.delete_cookie(PLAIN_REMEMBER_COOKIE, path=_app_root(), samesite="Lax")


def forget_cookie(request: HttpRequest, response: HttpResponse) -> None:
    """This browser is remembered no more, under either name."""
    secure = cookies_secure()
    response.delete_cookie(host_cookie(REMEMBER_COOKIE_NAME, secure),
                           path="/" if secure else _app_root(), samesite="Lax")
    if secure and PLAIN_REMEMBER_COOKIE in request.COOKIES:
        response.delete_cookie(PLAIN_REMEMBER_COOKIE, path=_app_root(), samesite="Lax")


def remembered(view: View) -> View:
    """Log a remembered browser in from its cookie before the view runs; rotate the cookie."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        cookie = remembered_token(request)
        # Only page loads log in from the cookie: a POST carries its own credentials.
        if request.method != "GET" or not cookie or load_session(request) is not None:
            return view(request, *args, **kwargs)
        result = get_service().login_with_token(cookie, ip=client_ip(request),
                                                user_agent=user_agent(request))
        if isinstance(result, Ok) and result.session is not None:
            grant(request, result.session, new_login=True)
            if result.step is Step.PROFILE:
                complete(request, result.session)
            response = view(request, *args, **kwargs)
            # Written again even when not rotated: a cookie under the old name moves.
            set_remember_cookie(request, response, result.remember_token or cookie)
            return response
        response = view(request, *args, **kwargs)
        forget_cookie(request, response)
        return response

    return wrapper


# ---------------------------------------------------------------------------- login


@member_language
@never_cache
@csrf_protect
@require_http_methods(PAGE_METHODS)
@remembered
def login(request: HttpRequest) -> HttpResponse:
    """Initial login: member number and the initial (or chosen) password.

    A safe ``next`` (a path on this site, as ``@login_required`` adds) is where a member
    whose journey is complete goes; a member still in the journey goes on with it, and
    there once it is done.
    """
    if request.method != "POST":
        if load_session(request) is not None:
            return redirect(url("journey"))
        context = {"next": safe_next(request.GET.get("next")), **kept_form(request, "login")}
        return page(request, "cegema_onboarding/login.html", context)
    next_url = safe_next(request.POST.get("next"))
    member_number = form_field(request, "identifier")
    password = form_field(request, "password")
    remember = bool(request.POST.get("remember"))
    user = OnboardingBackend().authenticate(request, member_number=member_number,
                                            password=password, remember=remember)
    result: Ok | Refused | None = getattr(request, "cegema_result", None)
    if not isinstance(result, Ok) or result.session is None:
        reason = result if isinstance(result, Refused) else Refused(Reason.BAD_CREDENTIALS)
        # The same page for unknown numbers and wrong passwords: the typed number is
        # echoed in both cases, and the reason text is the generic one.
        return keep_form(request, "login", reason, member_number=member_number, next=next_url)
    if user is not None:
        auth_login(request, user, backend=BACKEND_PATH)
    else:
        grant(request, result.session, new_login=True)
    store_session(request, result.session)
    if not remember:
        # Without "Se souvenir de moi" the session ends with the browser.
        request.session.set_expiry(0)
    if result.step is Step.PROFILE:
        response = (HttpResponseRedirect(next_url) if next_url
                    else redirect(option("LOGIN_REDIRECT_URL") or url("profile")))
    else:
        # Kept for when the journey is done: the page asked for comes after it.
        if next_url:
            request.session[NEXT_KEY] = next_url
        response = redirect(url("journey"))
    if result.remember_token:
        set_remember_cookie(request, response, result.remember_token)
    return response


@member_language
@require_POST
@csrf_protect
def logout(request: HttpRequest) -> HttpResponse:
    """Log out: the Django session, the journey session and this browser's remember-me."""
    member = current_member(request)
    cookie = remembered_token(request)
    if member is not None and cookie:
        service = get_service()
        claims = service.env.crypto.remember.parse(cookie)
        if claims is not None and claims.account_id == member.account_id:
            service.revoke_remembered(member, claims.series_id, ip=client_ip(request))
    auth_logout(request)
    clear_session(request)
    response = redirect(url("login"))
    forget_cookie(request, response)
    return response
