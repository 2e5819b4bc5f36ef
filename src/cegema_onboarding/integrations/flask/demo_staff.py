"""The demo portal's staff page: the no-email activation queue, unlock and re-issue.

Staff see, for each member awaiting activation, how the activation notice will reach them
(post, SMS or phone) and at which address or number, and after activating they are told
what happened. Each form is answered with a redirect (Post/Redirect/Get); what an
activation did is named in the redirect's query (``?activated=<account id>``) and said
again from the account, so that reloading the page never activates twice.
"""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import Any

from flask import Flask, Response, redirect, request, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from ...errors import InvalidInput, UnknownAccount
from ...flow import Reason, Refused
from ...model import Channel, Stage
from ...normalize import normalize_member_number
from ...service import ActivationRequest, Ok, OnboardingService
from .._web import local_time
from ._context import lang
from ._prg import keep, kept_form
from .extension import Onboarding, render, state, t

__all__ = ["add_staff", "demo_headers"]

_STAFF_ID = "demo-staff"


def demo_headers(response: Response) -> Response:
    """The demo pages' Content-Security-Policy."""
    # The mail's own HTML is shown in a sandboxed iframe (no scripts, no same origin);
    # links in it may only navigate the top page after a click.
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "frame-src 'self' about:; frame-ancestors 'none'; form-action 'self'; "
        "base-uri 'none'; object-src 'none'")
    return response


def add_staff(app: Flask, service: OnboardingService, password: str) -> None:
    """Add ``/staff`` and its actions to the demo app, behind ``password``."""
    expected = password.encode()

    def staff_only() -> WerkzeugResponse | None:
        if not state().staff:
            return redirect(url_for("staff"), code=303)
        return None

    def check_csrf() -> None:
        Onboarding.check_csrf()

    @app.route("/staff", methods=["GET", "POST"])
    def staff() -> Response | WerkzeugResponse:
        current = state()
        if request.method == "POST":
            check_csrf()
            typed = request.form.get("password", "")[:256].encode()
            if hmac.compare_digest(typed, expected):
                current.staff = True
                return redirect(url_for("staff"), code=303)
            # Post/Redirect/Get, as the member's forms: Back never posts the password again.
            keep(Refused(Reason.BAD_CREDENTIALS, field="password"), "staff")
            return redirect(url_for("staff"), code=303)
        kept = kept_form("staff")[0]
        if not current.staff:
            return demo_headers(render("demo/staff_login.html", failed=kept is not None))
        return _staff_page(service, errors=kept,
                           activated=_activated(service, request.args.get("activated")))

    @app.post("/staff/activate/<account_id>")
    def staff_activate(account_id: str) -> Response | WerkzeugResponse:
        check_csrf()
        denied = staff_only()
        if denied is not None:
            return denied
        result = service.staff.activate(account_id, staff_id=_STAFF_ID, ip=request.remote_addr)
        if isinstance(result, Ok):
            return redirect(url_for("staff", activated=account_id), code=303)
        return _staff_done(service, result)

    @app.post("/staff/reject/<account_id>")
    def staff_reject(account_id: str) -> Response | WerkzeugResponse:
        check_csrf()
        denied = staff_only()
        if denied is not None:
            return denied
        reason = request.form.get("reason", "").strip()[:300] or "-"
        result = service.staff.reject(account_id, reason, staff_id=_STAFF_ID,
                                      ip=request.remote_addr)
        return _staff_done(service, result, "ui.demo.staff.rejected")

    def member_from_form() -> str | None:
        try:
            number = normalize_member_number(request.form.get("member_number", "")[:64])
        except InvalidInput:
            return None
        account = service.storage.find_by_member_number(number)
        return account.account_id if account is not None else None

    def one_account() -> str | WerkzeugResponse:
        """What unlock and re-issue check first: the CSRF token, a staff session, then the
        member number typed; the member's account id, or the answer that ends the request
        (an unknown number is refused like a malformed one)."""
        check_csrf()
        denied = staff_only()
        if denied is not None:
            return denied
        account_id = member_from_form()
        if account_id is None:
            return _staff_done(service, Refused(Reason.INPUT_INVALID, field="member_number"))
        return account_id

    @app.post("/staff/unlock")
    def staff_unlock() -> Response | WerkzeugResponse:
        account_id = one_account()
        if not isinstance(account_id, str):
            return account_id
        return _staff_done(service, service.staff.unlock(account_id, staff_id=_STAFF_ID,
                                                         ip=request.remote_addr))

    @app.post("/staff/reissue")
    def staff_reissue() -> Response | WerkzeugResponse:
        account_id = one_account()
        if not isinstance(account_id, str):
            return account_id
        issued = service.staff.reissue_credentials(account_id, staff_id=_STAFF_ID,
                                                   ip=request.remote_addr)
        if isinstance(issued, Refused):
            return _staff_done(service, issued)
        # Shown once, as the print shop would print it on a new contract (demo only).
        return _staff_page(service, reissued=(issued.member_number, issued.initial_password))


def _staff_page(service: OnboardingService, status: int = 200, **context: Any) -> Response:
    queue = [
        {"id": r.account_id, "number": r.member_number, "name": r.name,
         "since": _when(r.requested_at, service), "channel": t(f"label.channel.{r.channel.value}"),
         "recipient": r.recipient or ""}
        for r in service.staff.activation_requests()
    ]
    return demo_headers(render("demo/staff.html", status, queue=queue, can_unlock=True,
                               **context))


def _staff_done(service: OnboardingService, result: Ok | Refused,
                notice: str = "ui.saved") -> Response | WerkzeugResponse:
    if isinstance(result, Ok):
        state().flash(notice)
    else:
        keep(result, "staff")
    return redirect(url_for("staff"), code=303)


def _activated(service: OnboardingService, account_id: str | None) -> str | None:
    """What an activation did, said to staff: how and where the member will be told."""
    if not account_id or len(account_id) > 64:
        return None
    try:
        request_ = service.staff.activation_request(account_id)
        account = service.storage.get(account_id)
    except UnknownAccount:
        return None
    # Only once the account has left the queue: the query alone activates nothing.
    if account is None or account.stage in (Stage.AWAITING_ACTIVATION, Stage.EMAIL_REQUIRED,
                                            Stage.PROVISIONED):
        return None
    return activation_message(request_)


def activation_message(done: ActivationRequest) -> str:
    """"Compte activé ; le membre sera informé par courrier à ..." in the page's language."""
    if not done.recipient:
        return t("ui.demo.staff.activated.unreachable")
    recipient = done.recipient
    if done.channel is Channel.POST:
        # An address on one line, as a sentence quotes it.
        recipient = ", ".join(line.strip() for line in recipient.splitlines() if line.strip())
    return t(f"ui.demo.staff.activated.{done.channel.value}", recipient=recipient)


def _when(at: datetime | None, service: OnboardingService) -> str:
    # In the portal's time zone, with its abbreviation, as the mails write it.
    return local_time(at, service.settings.mail.timezone, lang()) if at else ""
