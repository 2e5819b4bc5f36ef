"""The framework-free pieces of health, logs and the funnel's formatting."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import timedelta

from cegema_onboarding import health, texts
from cegema_onboarding.adapters.memory import MemoryStorage
from cegema_onboarding.funnel import format_duration
from cegema_onboarding.logs import (
    JsonFormatter,
    current_request_id,
    request_scope,
    safe_request_id,
)


def _record(msg: str, *args: object, exc: bool = False) -> logging.LogRecord:
    info = None
    if exc:
        try:
            raise ValueError("see https://portail.example/valider?token=abc.def-123")
        except ValueError:
            import sys

            info = sys.exc_info()
    return logging.LogRecord("cegema_onboarding", logging.INFO, __file__, 1, msg, args, info)


def test_each_record_is_one_json_line_with_the_request_id() -> None:
    formatter = JsonFormatter()
    outside = json.loads(formatter.format(_record("hello %s", "world")))
    assert outside["message"] == "hello world" and outside["request_id"] is None
    assert outside["level"] == "INFO" and outside["logger"] == "cegema_onboarding"
    assert outside["time"].endswith("+00:00")
    with request_scope("lb-request-0001") as rid:
        assert rid == current_request_id() == "lb-request-0001"
        line = formatter.format(_record("multi\nline"))
    assert "\n" not in line
    assert json.loads(line)["request_id"] == "lb-request-0001"
    assert current_request_id() is None


def test_link_tokens_are_redacted_in_messages_and_tracebacks() -> None:
    formatter = JsonFormatter()
    entry = json.loads(formatter.format(_record('"GET /valider?token=%s HTTP/1.1"',
                                                "abc.def-123", exc=True)))
    assert "abc.def-123" not in json.dumps(entry)
    assert "token=<redacted>" in entry["message"]
    assert "token=<redacted>" in entry["exception"]


def test_a_malformed_logging_call_is_still_a_line() -> None:
    entry = json.loads(JsonFormatter().format(_record("%s and %s", "one")))
    assert entry["message"] == "%s and %s"


def test_only_plain_request_ids_are_kept() -> None:
    assert safe_request_id("0f8c2b1e-9a7d-4c1e-8f00-123456789abc") == (
        "0f8c2b1e-9a7d-4c1e-8f00-123456789abc")
    for offered in (None, "", "short", "x" * 65, "a b c d e f g h", '{"level":"x"}',
                    "é" * 10):
        fresh = safe_request_id(offered)
        assert fresh != offered and len(fresh) == 32
    assert safe_request_id(None) != safe_request_id(None)


def test_readiness_of_a_storage_without_probes_and_of_a_failing_probe() -> None:
    assert health.readiness(MemoryStorage()).ok
    assert health.liveness().status == 200

    class Broken:
        def readiness(self) -> Sequence[health.Probe]:
            raise RuntimeError("password=hunter2")

    result = health.readiness(Broken())
    assert result.status == 503
    assert result.as_json() == {"status": "unavailable", "checks": {
        "storage": {"ok": False, "detail": "probe failed"}}}


def test_durations_read_as_people_read_them() -> None:
    assert format_duration(None) == "-"
    assert format_duration(timedelta(seconds=75)) == "1 min 15 s"
    assert format_duration(timedelta(hours=2, minutes=5)) == "2 h 05 min"
    assert format_duration(timedelta(days=3, hours=12)) == "3.5 days"


def test_durations_take_their_units_from_the_catalogues() -> None:
    # English stays the default: the command line printed these before it had languages.
    assert format_duration(timedelta(days=3, hours=12), "en") == "3.5 days"
    assert format_duration(timedelta(days=3, hours=12), "fr") == "3,5 jours"
    assert format_duration(timedelta(seconds=75), "fr") == "1 min 15 s"
    assert format_duration(timedelta(hours=2, minutes=5), "fr") == "2 h 05 min"
    assert format_duration(None, "fr") == "-"
    previous = texts.set_overrides({"fr": {"ui.admin.funnel.duration.minutes":
                                           "{minutes} mn {seconds} sec"}})
    try:
        assert format_duration(timedelta(seconds=75), "fr") == "1 mn 15 sec"
    finally:
        texts.set_overrides(previous)
