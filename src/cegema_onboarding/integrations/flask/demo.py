"""The demo portal: the guide's screens in a browser, a local mailbox, and a staff page.

``cegema-onboarding portal`` (``make demo``) serves it on 127.0.0.1 with SQLite
in ``.demo/`` and a mailbox folder that keeps every sent mail. It prints the URL, a demo
member's number and initial password, and (with ``--staff``) the staff password.

Everything here is for demonstration: the keys and the demo member's initial password are
kept in ``.demo/`` so that a restart can print them again. A real portal keeps its keys
in a secret store and prints initial passwords on contracts.
"""

from __future__ import annotations

import html
import json
import logging
import os
import re
import secrets
import sys
import threading
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from flask import Flask, Response, abort
from markupsafe import Markup

from ...adapters.mailbox import FileMailbox, text_part
from ...adapters.notices import FileNotifier
from ...bootstrap import build_service, demo_storage, local_mailbox, throwaway_settings
from ...config import Settings
from ...errors import DuplicateAccount
from ...model import Adviser, Channel, Stage
from ...ports import Clock
from ...service import OnboardingService
from .._web import local_time
from ._context import lang
from .demo_staff import add_staff, demo_headers
from .extension import Onboarding, keep_lang, render

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
_DEMO_PHONE = "+33 4 93 00 00 00"

log = logging.getLogger("cegema_onboarding.demo")
_URL = re.compile(r"https?://[^\s<>\"']+")


# ---------------------------------------------------------------------- the app


def _local_date(message: EmailMessage, service: OnboardingService) -> str:
    """A mail's date as a webmail shows it: in the portal's time zone, with its
    abbreviation, as the mails write times (its header says UTC, for machines)."""
    header = str(message["Date"] or "")
    try:
        when = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return header
    if when.tzinfo is None:
        return header
    return local_time(when, service.settings.mail.timezone, lang())


def create_app(service: OnboardingService, mailbox: FileMailbox, *, secret_key: str,
               staff_password: str | None = None, testing: bool = False,
               notices: FileNotifier | None = None) -> Flask:
    """The demo Flask app: the onboarding blueprint, ``/mailbox``, and ``/staff`` if enabled.

    The mailbox page has three tabs: the mails of ``mailbox``, and the letters and the
    SMS or calls of ``notices`` (by default the post, SMS and phone notices kept in the
    mailbox's own folder, where :func:`build_demo`'s notifier writes them). The staff page
    exists only when ``staff_password`` is given.
    """
    offline = notices if notices is not None else FileNotifier(mailbox.directory)
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
        # The staff and mailbox pages are the app's, not the blueprint's: without this a
        # ?lang= chosen there was forgotten at the next page (the staff login's POST).
        return keep_lang(response)

    @app.get("/mailbox")
    def mailbox_list() -> Response:
        # Forgotten-password and identifier mails are only queued by the request (so that
        # known and unknown accounts look alike); the demo delivers them when you look.
        service.deliver_due()
        messages = [
            {"name": name, "subject": str(m["Subject"] or ""), "to": str(m["To"] or ""),
             "date": _local_date(m, service)}
            for name, m in reversed(mailbox.messages())
        ]
        return demo_headers(render("demo/mailbox.html", tab="emails", messages=messages))

    @app.get("/mailbox/courrier")
    def mailbox_letters() -> Response:
        service.deliver_due()
        return demo_headers(render("demo/mailbox.html", tab="letters",
                                   notices=_offline(offline, (Channel.POST,))))

    @app.get("/mailbox/sms")
    def mailbox_sms() -> Response:
        service.deliver_due()
        return demo_headers(render("demo/mailbox.html", tab="sms",
                                   notices=_offline(offline, (Channel.SMS, Channel.PHONE))))

    @app.get("/mailbox/<name>")
    def mailbox_message(name: str) -> Response:
        message = mailbox.get(name)
        if message is None:
            abort(404)
        return demo_headers(render(
            "demo/message.html", name=name, subject=str(message["Subject"] or ""),
            sender=str(message["From"] or ""), to=str(message["To"] or ""),
            date=_local_date(message, service), body=_linkify(text_part(message)),
            html_part=_html_part(message)))

    if staff_password:
        add_staff(app, service, staff_password)
    return app


def _offline(notices: FileNotifier, channels: tuple[Channel, ...]) -> list[dict[str, str]]:
    """The post, SMS or phone notices of some channels, newest first, as the tab shows them."""
    return [
        {"name": name, "channel": n.channel.value, "recipient": n.recipient,
         "date": n.created.strftime("%d/%m/%Y %H:%M"), "printed": n.printed}
        for name, n in reversed(notices.notices()) if n.channel in channels
    ]


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
    # Letters, SMS and calls go to the same folder as the mails: the mailbox page shows them.
    notifier = FileNotifier(mailbox.directory, clock=clock)
    service = build_service(settings, storage, mailbox, clock=clock, notifier=notifier)
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
    # The member without email has no phone either: staff tell them by letter, which the
    # mailbox page shows under "Courrier" with the address of its envelope.
    for number, name, phone in ((DEMO_MEMBER, DEMO_NAME, _DEMO_PHONE),
                                (DEMO_NO_EMAIL_MEMBER, DEMO_NO_EMAIL_NAME, None)):
        account = service.storage.find_by_member_number(number)
        if account is None:
            try:
                created = service.staff.provision(number, name, postal_address=_DEMO_ADDRESS,
                                                  phone=phone)
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

