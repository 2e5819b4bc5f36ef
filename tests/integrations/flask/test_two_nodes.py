"""Two portal nodes on one PostgreSQL, a member's requests alternating between them.

Each node is its own gunicorn server (its own processes, its own memory), in front of the
same database, with the same keys: what an insurer runs behind a load balancer. The
browser here keeps cookies like a real one and sends each request to the other node.
What must hold across nodes is what the database holds, never one process's memory: the
journey itself, the lockout count, the per-address rate limit, a link spent once, and the
rotation of a remembered device.
"""

from __future__ import annotations

import email
import html
import itertools
import os
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.cookiejar import Cookie, CookieJar
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import attrs
import pytest

from cegema_onboarding import OnboardingService, Settings
from cegema_onboarding.adapters.mailbox import FileMailbox
from cegema_onboarding.hashing import FAST_TEST_PARAMS
from cegema_onboarding.lockout import attempt_key
from cegema_onboarding.texts import text

from ...conftest import GOOD_PASSWORD

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
NUMBER = "100234567"
BOOT_SECONDS = 60.0

NODE_APP = '''
import os

from flask import Flask

from cegema_onboarding import OnboardingService, Settings
from cegema_onboarding.adapters.mailbox import FileMailbox
from cegema_onboarding.adapters.sql import SqlRateLimiter, SqlStorage, postgres_engine
from cegema_onboarding.hashing import FAST_TEST_PARAMS
from cegema_onboarding.integrations.flask import Onboarding

engine = postgres_engine(os.environ["NODE_DB_URL"])
service = OnboardingService(
    SqlStorage(engine),
    FileMailbox(os.environ["NODE_MAILBOX"]),
    settings=Settings(
        secret_keys=(os.environ["NODE_LINK_KEY"],),
        pepper_keys=(("p1", os.environ["NODE_PEPPER"]),),
        base_url="http://127.0.0.1",
        argon2=FAST_TEST_PARAMS,
    ),
    rate_limiter=SqlRateLimiter(engine),
)
app = Flask(__name__)
app.config["SECRET_KEY"] = os.environ["NODE_SESSION_KEY"]
app.config["CEGEMA_ONBOARDING_COOKIE_SECURE"] = False
Onboarding(app, service=service)
'''


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@attrs.frozen
class Keys:
    link: str = attrs.field(factory=lambda: secrets.token_urlsafe(48))
    pepper: str = attrs.field(factory=lambda: secrets.token_urlsafe(48))
    session: str = attrs.field(factory=lambda: secrets.token_urlsafe(48))


@attrs.define
class Cluster:
    """Two gunicorn nodes, the shared mailbox, and a service of our own on the same data."""

    nodes: list[str]
    mailbox: Path
    service: OnboardingService
    engine: Any

    def links(self) -> list[str]:
        found = []
        for path in sorted(self.mailbox.glob("*.eml")):
            message = email.message_from_bytes(path.read_bytes())
            for part in message.walk():
                if part.get_content_type() == "text/plain":
                    body = part.get_payload(decode=True).decode()  # type: ignore[union-attr]
                    found += re.findall(r"https?://\S+token=\S+", body)
        return found

    def mails(self) -> list[str]:
        return [str(email.message_from_bytes(p.read_bytes())["Subject"])
                for p in sorted(self.mailbox.glob("*.eml"))]


def _wait_until_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + BOOT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the node at {url} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url + "/connexion", timeout=2) as reply:  # noqa: S310
                if reply.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    raise AssertionError(f"the node at {url} did not answer within {BOOT_SECONDS} s")


@pytest.fixture(scope="module")
def nodes(pg_module_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Two nodes started once for the module; each test starts from empty tables."""
    from cegema_onboarding.adapters.sql import (
        SqlRateLimiter,
        SqlStorage,
        create_schema,
        postgres_engine,
    )

    pg_url = pg_module_url
    tmp_path = tmp_path_factory.mktemp("nodes")

    engine = postgres_engine(pg_url)
    # Migrating is a deployment step, before the nodes start.
    create_schema(engine)
    keys = Keys()
    mailbox = tmp_path / "mailbox"
    (tmp_path / "node_app.py").write_text(NODE_APP)
    environ = {**os.environ, "NODE_DB_URL": pg_url, "NODE_MAILBOX": str(mailbox),
               "NODE_LINK_KEY": keys.link, "NODE_PEPPER": keys.pepper,
               "NODE_SESSION_KEY": keys.session,
               "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    processes, nodes = [], []
    try:
        for _ in range(2):
            port = _free_port()
            processes.append(subprocess.Popen(  # noqa: S603
                [sys.executable, "-m", "gunicorn", "--workers", "1", "--bind",
                 f"127.0.0.1:{port}", "--chdir", str(tmp_path), "--log-level", "warning",
                 "node_app:app"], env=environ, stdout=subprocess.DEVNULL))
            nodes.append(f"http://127.0.0.1:{port}")
        for url, process in zip(nodes, processes, strict=True):
            _wait_until_up(url, process)
        service = OnboardingService(
            SqlStorage(engine), FileMailbox(mailbox),
            settings=Settings(secret_keys=(keys.link,), pepper_keys=(("p1", keys.pepper),),
                              base_url="http://127.0.0.1", argon2=FAST_TEST_PARAMS),
            rate_limiter=SqlRateLimiter(engine))
        yield Cluster(nodes, mailbox, service, engine)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        engine.dispose()


@pytest.fixture
def cluster(nodes: Cluster) -> Cluster:
    """The nodes, with every table emptied (rate-limit windows included) and no mail."""
    import sqlalchemy as sa

    with nodes.engine.begin() as conn:
        names = [name for name in sa.inspect(conn).get_table_names()
                 if name.startswith("cegema_")]
        conn.exec_driver_sql("TRUNCATE " + ", ".join(f'"{name}"' for name in names))
    for path in nodes.mailbox.glob("*"):
        path.unlink()
    return nodes


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


@attrs.frozen
class Reply:
    status: int
    location: str
    body: str


class Browser:
    """Keeps its cookies like a browser and sends each request to the next node in turn.

    Cookies do not depend on the port, so both nodes see the same ones, as behind a load
    balancer.
    """

    def __init__(self, nodes: list[str], first: int = 0) -> None:
        self.nodes = nodes
        self.turn = first
        self.jar = CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirects())
        self.served_by: list[str] = []
        self.posted_to: list[str] = []

    def _next(self) -> str:
        node = self.nodes[self.turn % len(self.nodes)]
        self.turn += 1
        self.served_by.append(node)
        return node

    def request(self, path: str, data: dict[str, str] | None = None) -> Reply:
        body = urlencode(data).encode() if data is not None else None
        node = self._next()
        if data is not None:
            self.posted_to.append(node)
        request = urllib.request.Request(node + path, data=body)  # noqa: S310
        try:
            with self.opener.open(request, timeout=30) as reply:
                return Reply(reply.status, reply.headers.get("Location", ""),
                             reply.read().decode())
        except urllib.error.HTTPError as error:
            return Reply(error.code, error.headers.get("Location", ""), error.read().decode())

    def get(self, path: str) -> Reply:
        return self.request(path)

    def post(self, path: str, data: dict[str, str], *, form: str | None = None) -> Reply:
        """POST ``data`` with the CSRF token of the form at ``form`` (default: ``path``).

        The form comes from one node and the POST goes to the other.
        """
        page = self.get(form or path)
        if page.status == 303:  # a mailed link first moves its token to a cookie
            page = self.get(page.location)
        assert page.status == 200, (form or path, page.status)
        match = CSRF.search(page.body)
        assert match is not None, f"no CSRF token on {form or path}"
        return self.request(path, {**data, "csrf_token": html.unescape(match.group(1))})

    def posts_alternate(self) -> None:
        """Skip a turn, so that each POST goes to the other node than the previous POST."""
        self.turn += 1

    def cookie(self, name: str) -> str | None:
        return next((c.value for c in self.jar if c.name == name), None)

    def set_cookie(self, name: str, value: str) -> None:
        """A cookie carried over from another browser (a copied or stolen device)."""
        self.jar.set_cookie(Cookie(
            0, name, value, None, False, "127.0.0.1", False, False, "/", True, False, None,
            True, None, None, {}))


def _assert_alternate(posted_to: list[str], nodes: list[str]) -> None:
    """Each POST went to the other node than the one before."""
    assert set(posted_to) == set(nodes)
    assert all(a != b for a, b in itertools.pairwise(posted_to)), posted_to


def _path(link: str) -> str:
    parts = urlsplit(link)
    return f"{parts.path}?{parts.query}"


def _log_in(browser: Browser, password: str, **extra: str) -> Reply:
    return browser.post("/connexion", {"identifier": NUMBER, "password": password, **extra})


def test_a_whole_journey_alternating_between_two_nodes(cluster: Cluster) -> None:
    member = cluster.service.staff.provision(NUMBER, "Marie Dupont")
    browser = Browser(cluster.nodes)
    r = _log_in(browser, member.initial_password.lower())
    assert (r.status, r.location) == (303, "/premiere-connexion")
    r = browser.post("/premiere-connexion", {"email": "marie@example.com",
                                             "confirmation": "marie@example.com"})
    assert (r.status, r.location) == (303, "/premiere-connexion/boite-mail")
    (link,) = cluster.links()
    token = link.split("token=", 1)[1]
    r = browser.post(urlsplit(link).path, {"token": token}, form=_path(link))
    assert (r.status, r.location) == (303, "/mot-de-passe")
    r = browser.post("/mot-de-passe", {"password": GOOD_PASSWORD, "confirmation": GOOD_PASSWORD})
    assert (r.status, r.location) == (303, "/question-secrete")
    question = next(iter(cluster.service.settings.questions)).id
    r = browser.post("/question-secrete", {"question": question, "answer": "Lefebvre",
                                           "confirmation": "Lefebvre"})
    assert (r.status, r.location) == (303, "/profil")
    page = browser.get("/profil")
    assert page.status == 200 and "Ça y est ! Vous êtes connecté !" in html.unescape(page.body)
    # Every step really went to both nodes, one request in two.
    assert set(browser.served_by) == set(cluster.nodes)
    assert all(a != b for a, b in zip(browser.served_by, browser.served_by[1:], strict=False))
    assert len(cluster.mails()) == 2  # the validation mail, then the password-changed mail


def test_the_lockout_counts_failures_made_on_either_node(cluster: Cluster) -> None:
    cluster.service.staff.provision(NUMBER, "Marie Dupont")
    free = cluster.service.settings.lockout.free_attempts
    browser = Browser(cluster.nodes)
    for _ in range(free):
        r = _log_in(browser, "not the password at all")
        # Refused: back to the login page (Post/Redirect/Get), which says why.
        assert (r.status, r.location) == (303, "/connexion")
        browser.posts_alternate()
    _assert_alternate(browser.posted_to, cluster.nodes)
    throttle = cluster.service.storage.get_throttle(attempt_key(NUMBER))
    assert throttle.failures == free
    # The next attempt, even right, must wait: on the other node as on this one.
    member = cluster.service.storage.find_by_member_number(NUMBER)
    assert member is not None
    for node in cluster.nodes:
        other = Browser([node])
        r = _log_in(other, "not the password either")
        assert (r.status, r.location) == (303, "/connexion")
    assert cluster.service.storage.get_throttle(attempt_key(NUMBER)).failures == free


def test_the_rate_limit_per_address_holds_across_nodes(cluster: Cluster) -> None:
    limit = cluster.service.settings.rate_limits.login_ip.count
    browser = Browser(cluster.nodes)
    # The actual wait is in the message: its words before it are enough here.
    limited = text("notice.rate_limited_wait", "fr", duration="{}").split("{}")[0]
    answers = []
    for i in range(limit + 4):
        r = browser.post("/connexion", {"identifier": f"9{i:08d}", "password": "whatever123"})
        assert (r.status, r.location) == (303, "/connexion")
        # The refusal is shown by the page the redirect leads to.
        answers.append(limited in html.unescape(browser.get(r.location).body))
    # Two nodes with a limit each in memory would let 2 x limit through; the database
    # lets exactly `limit` through, whichever node answers.
    assert answers == [False] * limit + [True] * 4
    _assert_alternate(browser.posted_to, cluster.nodes)


def test_a_link_is_spent_once_by_browsers_on_both_nodes(cluster: Cluster) -> None:
    member = cluster.service.staff.provision(NUMBER, "Marie Dupont")
    owner = Browser(cluster.nodes)
    _log_in(owner, member.initial_password)
    owner.post("/premiere-connexion", {"email": "marie@example.com",
                                       "confirmation": "marie@example.com"})
    (link,) = cluster.links()
    token = link.split("token=", 1)[1]
    browsers = [Browser(cluster.nodes, first=i) for i in range(6)]
    forms = []
    for browser in browsers:
        page = browser.get(_path(link))
        if page.status == 303:  # the token moves from the URL to a cookie first
            page = browser.get(page.location)
        match = CSRF.search(page.body)
        assert match is not None
        forms.append(html.unescape(match.group(1)))
    start = threading.Barrier(len(browsers))
    replies: list[Reply] = []

    def spend(browser: Browser, csrf: str) -> None:
        start.wait()
        replies.append(browser.request(urlsplit(link).path,
                                       {"token": token, "csrf_token": csrf}))

    threads = [threading.Thread(target=spend, args=pair) for pair in zip(browsers, forms,
                                                                          strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(replies) == len(browsers)
    # The one that spends it is sent to log in (the link was not asked for in its
    # session); every other is sent back to the link's page, which says it is spent.
    outcomes = sorted((r.status, r.location) for r in replies)
    path = urlsplit(link).path
    assert outcomes == [(303, "/connexion")] + [(303, path)] * (len(browsers) - 1), outcomes


def test_a_remembered_device_rotates_once_across_nodes(cluster: Cluster) -> None:
    member = cluster.service.staff.provision(NUMBER, "Marie Dupont")
    _finish_journey(cluster, member.initial_password)
    first = Browser(cluster.nodes[:1])
    r = _log_in(first, GOOD_PASSWORD, remember="1")
    assert r.location == "/profil"
    stolen = first.cookie("cegema_remember")
    assert stolen
    # The device comes back on the other node: logged in, and its token rotated.
    back = Browser(cluster.nodes[1:])
    back.set_cookie("cegema_remember", stolen)
    assert back.get("/profil").status == 200
    rotated = back.cookie("cegema_remember")
    assert rotated and rotated != stolen
    # The old token, replayed on the first node, logs nobody in: a theft is detected.
    thief = Browser(cluster.nodes[:1])
    thief.set_cookie("cegema_remember", stolen)
    r = thief.get("/profil")
    assert r.status == 303 and r.location.startswith("/connexion")


def _finish_journey(cluster: Cluster, initial_password: str) -> None:
    """The whole first connection through the nodes, so that the member is active."""
    browser = Browser(cluster.nodes)
    _log_in(browser, initial_password)
    browser.post("/premiere-connexion", {"email": "marie@example.com",
                                         "confirmation": "marie@example.com"})
    link = cluster.links()[-1]
    browser.post(urlsplit(link).path, {"token": link.split("token=", 1)[1]}, form=_path(link))
    browser.post("/mot-de-passe", {"password": GOOD_PASSWORD, "confirmation": GOOD_PASSWORD})
    question = next(iter(cluster.service.settings.questions)).id
    r = browser.post("/question-secrete", {"question": question, "answer": "Lefebvre",
                                           "confirmation": "Lefebvre"})
    assert r.location == "/profil"
