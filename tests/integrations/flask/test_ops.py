"""Health, metrics, request ids and JSON logs through the Flask integration."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("flask")
pytest.importorskip("prometheus_client")

from flask import Flask, request
from prometheus_client.parser import text_string_to_metric_families

from cegema_onboarding.adapters.memory import MemoryMailer, MemoryStorage
from cegema_onboarding.errors import SmtpError
from cegema_onboarding.integrations.flask import Onboarding
from cegema_onboarding.integrations.flask.health import ops_blueprint
from cegema_onboarding.logs import JsonFormatter
from cegema_onboarding.mail.draft import Mail
from cegema_onboarding.metrics import Metrics
from cegema_onboarding.service import OnboardingService

from ...conftest import GOOD_PASSWORD, make_settings
from ...pg import sql_adapter
from .test_views import SESSION_KEY, Env, log_in, post

sql = sql_adapter()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition, by name and sorted labels."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def ops_app(storage: object, *, metrics: Metrics | None = None) -> Flask:
    service = OnboardingService(storage, MemoryMailer(),  # type: ignore[arg-type]
                                settings=make_settings())
    app = Flask(__name__)
    app.config.update(SECRET_KEY=SESSION_KEY, TESTING=True)
    Onboarding(app, service=service)
    app.register_blueprint(ops_blueprint(metrics=metrics), url_prefix="/_ops")
    return app


# ---------------------------------------------------------------------- health


def test_liveness_answers_ok_without_cache() -> None:
    r = ops_app(MemoryStorage()).test_client().get("/_ops/live")
    assert r.status_code == 200 and r.json == {"status": "ok", "checks": {}}
    assert r.headers["Cache-Control"] == "no-store"
    assert r.content_type == "application/json"


def test_memory_storage_is_always_ready() -> None:
    r = ops_app(MemoryStorage()).test_client().get("/_ops/ready")
    assert r.status_code == 200 and r.json["status"] == "ok"


def test_an_unmigrated_database_is_not_ready_until_migrated(tmp_path: Path) -> None:
    engine = sql.sqlite_engine(tmp_path / "portal.db")
    client = ops_app(sql.SqlStorage(engine)).test_client()
    r = client.get("/_ops/ready")
    assert r.status_code == 503
    assert r.json == {"status": "unavailable", "checks": {
        "database": {"ok": True, "detail": "reachable"},
        "migrations": {"ok": False, "detail": "not migrated"}}}
    assert r.headers["Cache-Control"] == "no-store"
    sql.create_schema(engine)
    r = client.get("/_ops/ready")
    assert r.status_code == 200 and r.json["checks"]["migrations"]["ok"] is True
    # Liveness asks nothing of the database.
    assert client.get("/_ops/live").status_code == 200
    engine.dispose()


def test_an_older_revision_is_not_ready(tmp_path: Path) -> None:
    engine = sql.sqlite_engine(tmp_path / "portal.db")
    sql.upgrade(engine, "0003")
    r = ops_app(sql.SqlStorage(engine)).test_client().get("/_ops/ready")
    assert r.status_code == 503
    assert r.json["checks"]["migrations"]["detail"].startswith("at revision 0003, expected")
    engine.dispose()


def test_an_unreachable_database_is_not_ready_and_says_nothing_of_it(tmp_path: Path) -> None:
    # A directory where the database file should be: SQLite cannot open it.
    engine = sql.sqlite_engine(tmp_path)
    r = ops_app(sql.SqlStorage(engine)).test_client().get("/_ops/ready")
    assert r.status_code == 503
    assert r.json["checks"]["database"]["ok"] is False
    assert str(tmp_path) not in r.get_data(as_text=True)


def test_no_endpoint_is_claimed_unless_registered() -> None:
    app = Flask(__name__)
    app.config.update(SECRET_KEY=SESSION_KEY, TESTING=True)
    Onboarding(app, service=OnboardingService(MemoryStorage(), MemoryMailer(),
                                              settings=make_settings()))
    client = app.test_client()
    for path in ("/live", "/ready", "/metrics", "/_ops/ready", "/health"):
        assert client.get(path).status_code == 404


def test_metrics_are_only_served_when_given() -> None:
    client = ops_app(MemoryStorage()).test_client()
    assert client.get("/_ops/metrics").status_code == 404


# ---------------------------------------------------------------------- metrics


class Refusing:
    """A mail port that refuses: for a while (4xx), then for good (5xx)."""

    def __init__(self) -> None:
        self.permanent = False

    def send(self, mail: Mail) -> None:
        raise SmtpError("refused", code=550 if self.permanent else 451,
                        permanent=self.permanent)


def test_metrics_after_a_journey() -> None:
    env = Env()
    metrics = Metrics(env.storage, clock=env.clock)
    env.service.observer = metrics
    env.app.register_blueprint(ops_blueprint(metrics=metrics), url_prefix="/_ops")
    service = env.service
    env.active_member()  # one right login, then every step to active
    other = service.staff.provision("100999999", "Paul Durand")
    service.login("100999999", "wrong-password", ip="192.0.2.1")
    service.login("100888888", "wrong-password", ip="192.0.2.1")  # nobody has it
    lockout = service.settings.lockout
    # The free attempts used up (one above): the next one is refused LOCKED for a while.
    for _ in range(lockout.free_attempts):
        service.login(other.member_number, "wrong-password", ip="192.0.2.2")
    per_ip = service.settings.rate_limits.login_ip.count
    for n in range(per_ip + 2):
        service.login(f"1005555{n:02d}", "wrong-password", ip="192.0.2.3")
    # A member whose validation mail is refused for now: it waits in the outbox.
    waiting = service.staff.provision("100777777", "Lise Martin")
    session = service.login("100777777", waiting.initial_password).session  # type: ignore[union-attr]
    assert session is not None
    refusing = Refusing()
    service.mailer = refusing
    service.submit_email(session, "lise@example.com", "lise@example.com")
    env.clock.advance(seconds=90)

    client = env.client()
    r = client.get("/_ops/metrics")
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    assert r.content_type.startswith("text/plain")
    found = samples(r.get_data(as_text=True))
    logins = {dict(k[1])["outcome"]: v for k, v in found.items()
              if k[0] == "cegema_onboarding_logins_total"}
    # The unknown numbers are counted with the wrong passwords: the metric tells no one
    # which numbers exist.
    assert "unknown_account" not in logins
    assert logins["ok"] == 2
    assert logins["locked"] == 1
    assert logins["bad_credentials"] == 2 + (lockout.free_attempts - 1) + per_ip
    assert found[("cegema_onboarding_refusals_total",
                  (("guard", "lockout"), ("request", "login")))] == 1
    assert found[("cegema_onboarding_refusals_total",
                  (("guard", "rate_limit"), ("request", "login")))] == 2
    for step in ("email_given", "email_verified", "password_set", "active"):
        expected = 2 if step == "email_given" else 1
        assert found[("cegema_onboarding_steps_total", (("step", step),))] == expected
    # The validation mail and the password-changed mail, both sent inline; Lise's refused.
    assert found[("cegema_onboarding_deliveries_total",
                  (("channel", "email"), ("outcome", "sent")))] == len(env.mailer.sent) == 2
    assert found[("cegema_onboarding_deliveries_total",
                  (("channel", "email"), ("outcome", "retried")))] == 1
    assert found[("cegema_onboarding_members", (("stage", "active"),))] == 1
    assert found[("cegema_onboarding_members", (("stage", "provisioned"),))] == 1
    assert found[("cegema_onboarding_members", (("stage", "email_pending"),))] == 1
    assert found[("cegema_onboarding_members", (("stage", "awaiting_activation"),))] == 0
    assert found[("cegema_onboarding_outbox_waiting", ())] == 1
    assert found[("cegema_onboarding_outbox_oldest_age_seconds", ())] == 90

    # Refused for good at the relay's next try: parked, and nothing waits any more.
    refusing.permanent = True
    env.clock.advance(hours=2)
    assert service.outbox.deliver_due().parked == 1
    found = samples(client.get("/_ops/metrics").get_data(as_text=True))
    assert found[("cegema_onboarding_deliveries_total",
                  (("channel", "email"), ("outcome", "parked")))] == 1
    assert found[("cegema_onboarding_outbox_waiting", ())] == 0
    assert found[("cegema_onboarding_outbox_oldest_age_seconds", ())] == 0


def test_a_failing_observer_never_fails_the_member(caplog: pytest.LogCaptureFixture) -> None:
    env = Env()

    class Broken:
        def recorded(self, records: object) -> None:
            raise RuntimeError("boom")

        def rate_limited(self, request: str) -> None:
            raise RuntimeError("boom")

        def delivery(self, channel: object, outcome: str) -> None:
            raise RuntimeError("boom")

    env.service.observer = Broken()
    member = env.active_member()
    assert member.account_id
    assert "the observer failed (RuntimeError)" in caplog.text


# ---------------------------------------------------------------------- logs


class Captured(logging.Handler):
    """Keeps every record, formatted as the JSON lines a log file would get."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def captured() -> Iterator[Captured]:
    handler = Captured()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(level)


def _access_log(app: Flask) -> None:
    # What a server's access log writes for each request, through the logger the
    # extension guards (Werkzeug's development server logs the same line there).
    @app.after_request
    def log_request_line(response: Any) -> Any:
        logging.getLogger("werkzeug").info('"%s %s" %s', request.method,
                                           request.full_path, response.status_code)
        return response


def test_the_whole_journey_logs_json_with_request_ids_and_no_secret(
        captured: Captured) -> None:
    env = Env()
    _access_log(env.app)
    client = env.client()
    member = env.service.staff.provision("100234567", "Marie Dupont")
    secrets_seen = [member.initial_password, GOOD_PASSWORD, "Lefebvre"]
    log_in(env, client, "100234567", member.initial_password)
    post(client, "/premiere-connexion", {"email": "marie@example.com",
                                         "confirmation": "marie@example.com"})
    link = env.last_link()
    token = link.split("token=")[1]
    secrets_seen.append(token)
    client.get(env.path_of(link), follow_redirects=True)
    post(client, env.path_of(link).split("?")[0], {"token": token},
         token_from=env.path_of(link))
    post(client, "/mot-de-passe", {"password": GOOD_PASSWORD, "confirmation": GOOD_PASSWORD})
    qid = next(iter(env.service.settings.questions)).id
    post(client, "/question-secrete", {"question": qid, "answer": "Lefebvre",
                                       "confirmation": "Lefebvre"})
    # The "ce n'était pas moi" link of the password-changed mail.
    secrets_seen.append(env.last_link().split("token=")[1])
    # A remembered browser, and its token used once.
    browser = env.client()
    r = post(browser, "/connexion", {"identifier": "100234567", "password": GOOD_PASSWORD,
                                     "remember": "1"},
             headers={"X-Request-ID": "lb-0123456789abcdef"})
    assert r.headers["X-Request-ID"] == "lb-0123456789abcdef"
    remembered = browser.get_cookie("cegema_remember")
    assert remembered is not None
    secrets_seen.append(remembered.value)
    fresh = env.client()
    fresh.set_cookie("cegema_remember", remembered.value)
    fresh.get("/profil")
    for jar in (client, browser, fresh):
        session_cookie = jar.get_cookie("cegema_session")
        if session_cookie is not None:
            secrets_seen.append(session_cookie.value)
    # An id that could forge a log line is replaced by a fresh one.
    r = client.get("/connexion", headers={"X-Request-ID": 'x" {"level": "forged"}'})
    assert len(r.headers["X-Request-ID"]) == 32

    assert len(captured.lines) > 10
    ids = set()
    for line in captured.lines:
        entry = json.loads(line)
        assert set(entry) >= {"time", "level", "logger", "message", "request_id"}
        assert entry["request_id"], line
        ids.add(entry["request_id"])
        for secret in secrets_seen:
            assert secret not in line, (secret, line)
    assert "lb-0123456789abcdef" in ids
    assert len(ids) > 10  # one per request
    assert any("token=<redacted>" in line for line in captured.lines)
