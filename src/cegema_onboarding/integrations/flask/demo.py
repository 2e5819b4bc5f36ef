"""The demo portal: the guide's screens in a browser, a local mailbox, and a staff page.

``cegema-onboarding portal`` (``make demo``) serves it on 127.0.0.1 with SQLite
in ``.demo/`` and a mailbox folder that keeps every sent mail. It prints the URL, a demo
member's number and initial password, and (with ``--staff``) the staff password.

Everything here is for demonstration: the keys and the demo member's initial password are
kept in ``.demo/`` so that a restart can print them again. A real portal keeps its keys
in a secret store and prints initial passwords on contracts.
"""

from __future__ import annotations

import hmac
import html
import json
import logging
import os
import re
import secrets
import sys
import threading
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from flask import Flask, Response, abort, redirect, request, url_for
from markupsafe import Markup
from werkzeug.wrappers import Response as WerkzeugResponse

from ...adapters.mailbox import FileMailbox, text_part
from ...adapters.memory import MemoryNotifier
from ...bootstrap import build_service, demo_storage, local_mailbox, throwaway_settings
from ...config import Settings
from ...errors import DuplicateAccount, InvalidInput
from ...flow import Reason, Refused
from ...journey.screens import notice_channel
from ...model import Adviser, Stage
from ...normalize import normalize_member_number
from ...ports import Clock
from ...service import Ok, OnboardingService
from .._web import local_time
from ._context import lang
from ._prg import keep, kept_form
from .extension import Onboarding, render, state

DEMO_MEMBER = "100234567"
DEMO_NAME = "Marie Dupont"
DEMO_NO_EMAIL_MEMBER = "100234568"
DEMO_NO_EMAIL_NAME = "Jean Martin"
TAGLINE = "L'ASSURANCE DU MEILLEUR"
# The agency block of the guide's profile page: host data, set once for the demo members.
DEMO_ADVISER = Adviser(name="CEGEMA",
                       address="679 AVENUE DU DOCTEUR LEFEBVRE\nBP 189\n"
                               "06272\nVILLENEUVE LOUBET CX",
                       orias="07001328", more_info_url="https://www.orias.fr")
_DEMO_ADDRESS = "12 rue des Lilas\n06270 Villeneuve-Loubet"

log = logging.getLogger("cegema_onboarding.demo")
_URL = re.compile(r"https?://[^\s<>\"']+")
_STAFF_ID = "demo-staff"


# ---------------------------------------------------------------------- the app


def create_app(service: OnboardingService, mailbox: FileMailbox, *, secret_key: str,
               staff_password: str | None = None, testing: bool = False) -> Flask:
    """The demo Flask app: the onboarding blueprint, ``/mailbox``, and ``/staff`` if enabled.

    The staff page exists only when ``staff_password`` is given.
    """
    # No folders of its own: every template and static file is the blueprint's.
    app = Flask(__name__, static_folder=None, template_folder=None)
    app.config.update(
        SECRET_KEY=secret_key,
        TESTING=testing,
        CEGEMA_ONBOARDING_TAGLINE=TAGLINE,
        # The demo runs on plain http://127.0.0.1: a Secure cookie would never come back.
        CEGEMA_ONBOARDING_COOKIE_SECURE=False,
        # The demo is the portal: "/" sends a member to where they stopped.
        CEGEMA_ONBOARDING_ROOT_REDIRECT=True,
    )
    Onboarding(app, service=service)

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers.setdefault("X-Frame-Options", "DENY")
        return response

    @app.get("/mailbox")
    def mailbox_list() -> Response:
        # Forgotten-password and identifier mails are only queued by the request (so that
        # known and unknown accounts look alike); the demo delivers them when you look.
        service.deliver_due()
        messages = [
            {"name": name, "subject": str(m["Subject"] or ""), "to": str(m["To"] or ""),
             "date": str(m["Date"] or "")}
            for name, m in reversed(mailbox.messages())
        ]
        return _demo_headers(render("demo/mailbox.html", messages=messages))

    @app.get("/mailbox/<name>")
    def mailbox_message(name: str) -> Response:
        message = mailbox.get(name)
        if message is None:
            abort(404)
        return _demo_headers(render(
            "demo/message.html", name=name, subject=str(message["Subject"] or ""),
            sender=str(message["From"] or ""), to=str(message["To"] or ""),
            date=str(message["Date"] or ""), body=_linkify(text_part(message)),
            html_part=_html_part(message)))

    if staff_password:
        _add_staff(app, service, staff_password)
    return app


def _demo_headers(response: Response) -> Response:
    # The mail's own HTML is shown in a sandboxed iframe (no scripts, no same origin);
    # links in it may only navigate the top page after a click.
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "frame-src 'self' about:; frame-ancestors 'none'; form-action 'self'; "
        "base-uri 'none'; object-src 'none'")
    return response


def _linkify(body: str) -> Markup:
    """Escape a plain-text mail and make its URLs clickable, as a mail client would."""
    out: list[str] = []
    last = 0
    for match in _URL.finditer(body):
        out.append(html.escape(body[last:match.start()]))
        url = match.group(0).rstrip(".,;)")
        rest = match.group(0)[len(url):]
        escaped = html.escape(url)
        out.append(f'<a href="{escaped}" rel="noreferrer">{escaped}</a>{html.escape(rest)}')
        last = match.end()
    out.append(html.escape(body[last:]))
    return Markup("".join(out))  # noqa: S704 - every piece above is escaped


def _html_part(message: EmailMessage) -> str | None:
    part = message.get_body(preferencelist=("html",))
    if part is None:
        return None
    content = part.get_content()
    if not isinstance(content, str):
        return None
    # Links open in the top page (the iframe is sandboxed and may not run anything).
    return content.replace("<head>", '<head><base target="_top">', 1)


# ---------------------------------------------------------------------- staff page


def _add_staff(app: Flask, service: OnboardingService, password: str) -> None:
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
            return _demo_headers(render("demo/staff_login.html", failed=kept is not None))
        return _staff_page(service, errors=kept)

    @app.post("/staff/activate/<account_id>")
    def staff_activate(account_id: str) -> Response | WerkzeugResponse:
        check_csrf()
        denied = staff_only()
        if denied is not None:
            return denied
        result = service.staff.activate(account_id, staff_id=_STAFF_ID, ip=request.remote_addr)
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
        return _staff_done(service, result)

    def member_from_form() -> str | None:
        try:
            number = normalize_member_number(request.form.get("member_number", "")[:64])
        except InvalidInput:
            return None
        account = service.storage.find_by_member_number(number)
        return account.account_id if account is not None else None

    @app.post("/staff/unlock")
    def staff_unlock() -> Response | WerkzeugResponse:
        check_csrf()
        denied = staff_only()
        if denied is not None:
            return denied
        account_id = member_from_form()
        if account_id is None:
            return _staff_done(service, Refused(Reason.INPUT_INVALID, field="member_number"))
        return _staff_done(service, service.staff.unlock(account_id, staff_id=_STAFF_ID,
                                          ip=request.remote_addr))

    @app.post("/staff/reissue")
    def staff_reissue() -> Response | WerkzeugResponse:
        check_csrf()
        denied = staff_only()
        if denied is not None:
            return denied
        account_id = member_from_form()
        if account_id is None:
            return _staff_done(service, Refused(Reason.INPUT_INVALID, field="member_number"))
        issued = service.staff.reissue_credentials(account_id, staff_id=_STAFF_ID,
                                             ip=request.remote_addr)
        if isinstance(issued, Refused):
            return _staff_done(service, issued)
        # Shown once, as the print shop would print it on a new contract (demo only).
        return _staff_page(service, reissued=(issued.member_number, issued.initial_password))


def _staff_page(service: OnboardingService, status: int = 200, **context: Any) -> Response:
    queue = [
        {"id": a.account_id, "number": a.member_number, "name": a.name,
         "since": _when(a.activation_requested_at, service), "phone": a.phone or "",
         "address": a.postal_address or "",
         # Where the activation notice will go, so that staff can check it first.
         "channel": f"label.channel.{notice_channel(a).value}"}
        for a in service.staff.activation_queue()
    ]
    return _demo_headers(render("demo/staff.html", status, queue=queue, can_unlock=True,
                                **context))


def _staff_done(service: OnboardingService, result: Ok | Refused
                ) -> Response | WerkzeugResponse:
    if isinstance(result, Ok):
        state().flash("ui.saved")
    else:
        keep(result, "staff")
    return redirect(url_for("staff"), code=303)


def _when(at: datetime | None, service: OnboardingService) -> str:
    return local_time(at, service.settings.mail.timezone, lang()) if at else ""


# ---------------------------------------------------------------------- the command


def _load_or_create(path: Path, make: dict[str, str]) -> dict[str, str]:
    if path.is_file():
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and all(isinstance(data.get(k), str) for k in make):
            return {k: str(v) for k, v in data.items()}
    path.write_text(json.dumps(make, indent=2), encoding="utf-8")
    os.chmod(path, 0o600)
    return make


def build_demo(data_dir: Path, port: int, *, clock: Clock | None = None,
               settings: Settings | None = None) -> tuple[OnboardingService, FileMailbox,
                                                           dict[str, str], str]:
    """The demo's service, mailbox and keys, under ``data_dir``."""
    data_dir.mkdir(parents=True, exist_ok=True)
    keys = _load_or_create(data_dir / "keys.json", {
        "secret_key": secrets.token_urlsafe(48),
        "pepper_key": secrets.token_urlsafe(48),
        "session_key": secrets.token_urlsafe(48),
        "staff_password": secrets.token_urlsafe(12),
    })
    storage, where = demo_storage(data_dir)
    mailbox = local_mailbox(data_dir / "mailbox")
    settings = settings or throwaway_settings(f"http://127.0.0.1:{port}",
                                              secret_key=keys["secret_key"],
                                              pepper_key=keys["pepper_key"])
    service = build_service(settings, storage, mailbox, clock=clock,
                            notifier=MemoryNotifier())
    return service, mailbox, keys, where


def provision_demo_members(service: OnboardingService, data_dir: Path
                           ) -> dict[str, str | None]:
    """Create the demo members once; return their numbers and initial passwords if known."""
    path = data_dir / "members.json"
    known: dict[str, Any] = {}
    if path.is_file():
        loaded = json.loads(path.read_text(encoding="utf-8"))
        known = loaded if isinstance(loaded, dict) else {}
    out: dict[str, str | None] = {}
    for number, name in ((DEMO_MEMBER, DEMO_NAME), (DEMO_NO_EMAIL_MEMBER, DEMO_NO_EMAIL_NAME)):
        account = service.storage.find_by_member_number(number)
        if account is None:
            try:
                created = service.staff.provision(number, name, postal_address=_DEMO_ADDRESS,
                                            phone="+33 4 93 00 00 00")
            except DuplicateAccount:
                out[number] = known.get(number) if isinstance(known.get(number), str) else None
                continue
            known[number] = created.initial_password
            service.staff.set_adviser(created.account_id, DEMO_ADVISER)
            out[number] = created.initial_password
        else:
            value = known.get(number)
            # Once the member has chosen a password the printed one is dead: do not show it.
            alive = account.stage in (Stage.PROVISIONED, Stage.EMAIL_REQUIRED,
                                      Stage.EMAIL_PENDING, Stage.AWAITING_ACTIVATION,
                                      Stage.PASSWORD_REQUIRED)
            out[number] = value if isinstance(value, str) and alive else None
    path.write_text(json.dumps(known, indent=2), encoding="utf-8")
    os.chmod(path, 0o600)
    return out


def _deliver_loop(service: OnboardingService, stop: threading.Event) -> None:
    # The outbox worker a real portal would run: retries and queued-only mails.
    while not stop.wait(2.0):
        try:
            service.deliver_due()
        except Exception:  # the demo keeps serving even if one round fails
            log.exception("delivery round failed")


def forget_demo(data_dir: Path) -> None:
    """Delete what the demo keeps in ``data_dir`` (and only that), to start again."""
    names = ("keys.json", "members.json", "portal.sqlite3", "portal.sqlite3-wal",
             "portal.sqlite3-shm", "portal.sqlite3-journal")
    for name in names:
        (data_dir / name).unlink(missing_ok=True)
    mailbox = data_dir / "mailbox"
    if mailbox.is_dir():
        for item in mailbox.iterdir():
            if item.is_file():
                item.unlink()


def serve(data_dir: Path, port: int, *, staff: bool, fresh: bool = False) -> int:
    """Build the demo, print how to use it, and run Flask's development server."""
    if fresh:
        forget_demo(data_dir)
    service, mailbox, keys, where = build_demo(data_dir, port)
    members = provision_demo_members(service, data_dir)
    app = create_app(service, mailbox, secret_key=keys["session_key"],
                     staff_password=keys["staff_password"] if staff else None)
    url = f"http://127.0.0.1:{port}/"
    out = sys.stdout
    print(f"Portail de démonstration {service.settings.mail.brand} : {url}", file=out)
    print(f"  stockage : {where}", file=out)
    print(f"  boîte mail locale : {url}mailbox", file=out)
    for number, label in ((DEMO_MEMBER, "adhérent de démonstration"),
                          (DEMO_NO_EMAIL_MEMBER, "adhérent sans email")):
        password = members.get(number)
        print(f"  {label} : identifiant {number}, mot de passe initial "
              f"{password or '(déjà remplacé par le mot de passe choisi)'}", file=out)
    if not all(members.values()):
        print("  pour repartir de zéro avec de nouveaux adhérents : make demo FRESH=1 "
              "(ou --fresh)", file=out)
    if staff:
        print(f"  page conseiller : {url}staff (mot de passe {keys['staff_password']})",
              file=out)
    else:
        print("  page conseiller : désactivée (relancez avec make demo STAFF=1, ou --staff)",
              file=out)
    print("Arrêt : Ctrl+C", file=out, flush=True)
    # Werkzeug's request lines (the first GET of a link carries its token) go through
    # RedactTokens: Onboarding(app) installed it on the "werkzeug" logger.
    stop = threading.Event()
    threading.Thread(target=_deliver_loop, args=(service, stop), daemon=True).start()
    app.run(host="127.0.0.1", port=port, debug=False, use_reloader=False)
    return 0

