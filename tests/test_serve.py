"""`make serve` started as an operator would, and a member's first steps over real HTTP.

The deployment runs PostgreSQL, gunicorn (sync workers), two relays and an SMTP sink; the
test logs in with a printed initial password, gives an address, and finds the validation
mail, sent by a relay, in the sink's Maildir.
"""

from __future__ import annotations

import html
import mailbox
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from .pg import PostgresUnavailable, _unavailable, find_bin

ROOT = Path(__file__).resolve().parent.parent
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class _Client:
    """Cookies kept, redirects returned rather than followed."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(CookieJar()), _NoRedirects())

    def send(self, path: str, data: dict[str, str] | None = None) -> tuple[int, str, str]:
        body = None if data is None else urlencode(data).encode()
        request = urllib.request.Request(self.base + path, data=body)  # noqa: S310
        try:
            with self.opener.open(request, timeout=30) as response:
                return (response.status, response.headers.get("Location", ""),
                        html.unescape(response.read().decode()))
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers.get("Location", ""), html.unescape(exc.read().decode())

    def form(self, path: str, data: dict[str, str]) -> tuple[int, str, str]:
        _, _, page = self.send(path)
        token = CSRF.search(page)
        assert token is not None, page[:500]
        return self.send(path, {**data, "csrf_token": token.group(1)})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_make_serve_runs_a_login_and_a_relayed_mail_over_http() -> None:
    pytest.importorskip("gunicorn")
    try:
        find_bin()
    except PostgresUnavailable as exc:
        _unavailable(str(exc))
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CEGEMA_")}
    serve = subprocess.Popen(  # noqa: S603  (this interpreter, the project's script)
        [sys.executable, str(ROOT / "scripts" / "serve.py"), "--port", str(port),
         "--workers", "2"], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        text=True)
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert serve.stdout is not None
        for line in serve.stdout:
            lines.append(line)
            if "Ctrl+C stops everything" in line:
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        assert ready.wait(180), "".join(lines)
        printed = "".join(lines)
        member = re.search(r"member (\d+), initial password (\S+)", printed)
        maildir = re.search(r"Mail sent by the relays: (\S+)/new", printed)
        assert member is not None and maildir is not None, printed

        client = _Client(f"http://127.0.0.1:{port}")
        status, location, _ = client.form("/connexion", {
            "identifier": member.group(1), "password": member.group(2)})
        assert (status, location) == (303, "/premiere-connexion")
        status, location, _ = client.form("/premiere-connexion", {
            "email": "marie@example.org", "confirmation": "marie@example.org"})
        assert (status, location) == (303, "/premiere-connexion/boite-mail")

        # Queued by the portal, sent by one of the relays (every second), exactly once.
        deadline = time.monotonic() + 30
        found: list[Any] = []
        while not found and time.monotonic() < deadline:
            found = list(mailbox.Maildir(maildir.group(1), create=False))
            time.sleep(0.5)
        assert len(found) == 1
        assert "marie@example.org" in found[0]["To"]
        time.sleep(2)  # a second relay pass would have sent a duplicate by now
        assert len(list(mailbox.Maildir(maildir.group(1), create=False))) == 1
    finally:
        serve.send_signal(signal.SIGINT)
        try:
            code = serve.wait(timeout=60)
        except subprocess.TimeoutExpired:
            serve.kill()
            raise
    assert code == 0
    assert not Path(maildir.group(1)).exists()  # everything cleaned up
