"""Mailed links: the token leaves the URL at once, and a GET only shows a page.

``GET <link path>?token=...`` is answered with a 303 to the same path without the token,
which goes into a short-lived cookie scoped to that path (see :mod:`..._web`); the page
reads it there and its form posts it back. The link views themselves live with their area
(:mod:`.journey`, :mod:`.recovery`, :mod:`.account`).
"""

from __future__ import annotations

import functools
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.encoding import escape_uri_path

from ....model import LinkPurpose
from ....service import describe
from ..._web import (
    LINK_COOKIE_MAX_AGE,
    LINK_PARAM,
    dead_link,
    link_cookie,
    query_without_token,
    storable_token,
)
from ..conf import cookies_secure, get_service
from ._common import FORM_KEY, MAX_FIELD, View, current_lang, page


def posted_token(request: HttpRequest) -> str:
    """The token the link page's form posted."""
    return str(request.POST.get("token", ""))[:MAX_FIELD]


def link_view(view: View) -> View:
    """Wrap a mailed link's view so that the token leaves the URL at once (see ``_web``).

    ``GET ...?token=`` gets a 303 to the same path without the token, which goes into a
    short-lived cookie scoped to that path; the page reads it there. A POST that moves on
    (a redirect) has spent the link, so its cookie goes.
    """

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # HEAD too: a mail scanner probing the link gets the same redirect, never a form.
        if request.method in ("GET", "HEAD") and LINK_PARAM in request.GET:
            return _stash_link_token(request)
        response = view(request, *args, **kwargs)
        # A refused form (kept for its page, PRG) still needs the token; a spent one not.
        if (request.method == "POST" and isinstance(response, HttpResponseRedirect)
                and FORM_KEY not in request.session):
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


def link_page(request: HttpRequest, purpose: LinkPurpose, template: str,
              extra: dict[str, Any] | None = None, *,
              kept: dict[str, Any] | None = None) -> HttpResponse:
    """GET on a link: a page with a button (POST), or the reason it cannot be used.

    ``kept`` is what a refused POST of this page left (:func:`._common.kept_form`): its
    error is shown, above the form while the link still works, alone once it is dead.
    """
    token = storable_token(request.COOKIES.get(link_cookie(cookies_secure()))) or ""
    check = get_service().open_link(token, purpose)
    if not check.valid:
        error = (kept or {}).get("error") or describe(dead_link(check.reason), current_lang())
        return page(request, template, {"error": error})
    return page(request, template, {"token": token, **(extra or {}), **(kept or {})})
