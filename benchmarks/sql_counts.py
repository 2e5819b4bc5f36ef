"""SQL statements and pool checkouts per request of the Flask journey (issue 16).

Counted with SQLAlchemy's own events (``before_cursor_execute`` on the engine, and the
pool's ``checkout``), on the app the load run serves: the Flask extension, ``SqlStorage``
and ``SqlRateLimiter`` on one engine. A request's statements include the ones its inline
mail delivery makes. Cheap Argon2id parameters: only the counts matter here.

    python -m benchmarks.sql_counts                       # SQLite, in a temporary folder
    python -m benchmarks.sql_counts postgresql+psycopg://user@host:port/db
"""

from __future__ import annotations

import argparse
import re
import secrets
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs
from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine

from benchmarks.flow_bench import last_text
from cegema_onboarding.adapters.memory import MemoryMailer
from cegema_onboarding.adapters.sql import (
    SqlRateLimiter,
    SqlStorage,
    create_engine_from_url,
    create_schema,
)
from cegema_onboarding.config import Settings
from cegema_onboarding.hashing import FAST_TEST_PARAMS
from cegema_onboarding.integrations.flask import Onboarding
from cegema_onboarding.service import OnboardingService

PASSWORD = "Le chat de ma voisine 1987"
BASE_URL = "https://portail.example"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_LINK = re.compile(r"https://portail\.example(/\S+?)\?token=([A-Za-z0-9_.\-]+)")


@attrs.frozen
class Counts:
    """What one request cost the database."""

    statements: int
    checkouts: int


class Counter:
    """Counts the statements and pool checkouts of an engine while :meth:`counting`."""

    def __init__(self, engine: Engine) -> None:
        self.statements: list[str] = []
        self.checkouts = 0
        self._on = False
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine.pool, "checkout", self._checkout)

    def _statement(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if self._on:
            self.statements.append(statement)

    def _checkout(self, *_args: Any) -> None:
        if self._on:
            self.checkouts += 1

    @contextmanager
    def counting(self) -> Iterator[list[Counts]]:
        """Count inside the block; the list gets the block's counts when it ends."""
        self.statements, self.checkouts, self._on = [], 0, True
        found: list[Counts] = []
        try:
            yield found
        finally:
            self._on = False
            found.append(Counts(len(self.statements), self.checkouts))


def build(engine: Engine) -> tuple[Flask, OnboardingService, MemoryMailer]:
    """The load run's app on ``engine`` (schema created), with cheap Argon2id."""
    create_schema(engine)
    mailer = MemoryMailer()
    settings = Settings(secret_keys=(secrets.token_urlsafe(48),),
                        pepper_keys=(("b1", secrets.token_urlsafe(48)),),
                        base_url=BASE_URL, argon2=FAST_TEST_PARAMS)
    service = OnboardingService(SqlStorage(engine), mailer, settings=settings,
                                rate_limiter=SqlRateLimiter(engine))
    app = Flask(__name__)
    app.config.update(SECRET_KEY=secrets.token_urlsafe(48), TESTING=True)
    Onboarding(app, service=service)
    return app, service, mailer


def _csrf(client: Any, page: str) -> str:
    html = client.get(page, follow_redirects=True).get_data(as_text=True)
    match = _CSRF.search(html)
    assert match is not None, f"no CSRF token on {page}"
    return match.group(1)


def measure(engine: Engine, number: str = "100000001",
            statements: dict[str, list[str]] | None = None) -> dict[str, Counts]:
    """Counts per POST of one member's journey, and of a later login of the same member."""
    app, service, mailer = build(engine)
    counter = Counter(engine)
    member = service.staff.provision(number, "Marie Dupont")
    client = app.test_client()
    found: dict[str, Counts] = {}
    trace: dict[str, list[str]] = {}

    def post(name: str, path: str, data: dict[str, str], page: str | None = None) -> None:
        token = _csrf(client, page or path)
        with counter.counting() as counts:
            response = client.post(path, data={**data, "csrf_token": token})
        assert response.status_code == 303, (name, response.status_code)
        found[name] = counts[0]
        trace[name] = list(counter.statements)

    post("first login", "/connexion", {"identifier": number,
                                       "password": member.initial_password})
    address = f"m{number}@example.com"
    post("email", "/premiere-connexion", {"email": address, "confirmation": address})
    link = _LINK.search(last_text(mailer))
    assert link is not None
    post("link", link.group(1), {"token": link.group(2)},
         f"{link.group(1)}?token={link.group(2)}")
    post("password", "/mot-de-passe", {"password": PASSWORD, "confirmation": PASSWORD})
    qid = next(iter(service.settings.questions)).id
    post("question", "/question-secrete", {"question": qid, "answer": "Lefebvre",
                                           "confirmation": "Lefebvre"})
    post("logout", "/deconnexion", {}, "/profil")
    post("login", "/connexion", {"identifier": number, "password": PASSWORD})
    if statements is not None:
        statements.update(trace)
    return found


def main(argv: Sequence[str] | None = None) -> int:
    """Print the counts per request."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", nargs="?", help="a database URL (default: a SQLite file)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print the statements")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        url = args.url or f"sqlite:///{Path(folder) / 'counts.sqlite3'}"
        engine = create_engine_from_url(url)
        try:
            trace: dict[str, list[str]] = {}
            number = f"1{secrets.randbelow(10**8):08d}"
            for name, counts in measure(engine, number, statements=trace).items():
                print(f"{name:12} {counts.statements:3} statements "
                      f"{counts.checkouts:3} checkouts")
                if args.verbose:
                    for statement in trace[name]:
                        print("    ", " ".join(statement.split())[:110])
        finally:
            engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
