"""The testing kit in the wheel: test-time imports only, its fixtures, its suites can fail."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from cegema_onboarding.service import OnboardingService
from cegema_onboarding.testing import (
    GOOD_PASSWORD,
    ManualClock,
    MemoryMailer,
    MemoryStorage,
    link_token,
)

ROOT = Path(__file__).resolve().parents[2]


def _loaded_after(statement: str) -> list[str]:
    code = f"import sys, json; {statement}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], check=True,  # noqa: S603
                         capture_output=True, text=True)
    loaded: list[str] = json.loads(out.stdout)
    return loaded


@pytest.mark.parametrize("statement", [
    "import cegema_onboarding",
    "import cegema_onboarding.testing",
    "from cegema_onboarding.testing import ManualClock, MemoryStorage, fast_settings",
])
def test_pytest_and_hypothesis_are_test_time_imports_only(statement: str) -> None:
    loaded = _loaded_after(statement)
    assert [m for m in loaded if m.split(".")[0] in ("pytest", "_pytest", "hypothesis")] == []
    if statement == "import cegema_onboarding":
        assert "cegema_onboarding.testing" not in loaded


def test_the_contract_classes_load_on_demand() -> None:
    loaded = _loaded_after("from cegema_onboarding.testing import StorageContract, "
                           "RateLimiterContract")
    assert "cegema_onboarding.testing.storage_contract" in loaded
    assert "pytest" in loaded
    from cegema_onboarding import testing

    with pytest.raises(AttributeError, match="NoSuchContract"):
        testing.NoSuchContract  # noqa: B018


def test_the_manual_clock_moves_only_when_told() -> None:
    clock = ManualClock()
    start = clock.now()
    assert clock.now() == start and start.tzinfo is not None
    assert clock.advance(hours=24, seconds=1) == start + timedelta(hours=24, seconds=1)
    with pytest.raises(ValueError, match="back"):
        clock.advance(seconds=-1)


def test_the_plugin_fixtures_make_a_working_service(
        onboarding_service: OnboardingService, onboarding_storage: MemoryStorage,
        onboarding_mailer: MemoryMailer, onboarding_clock: ManualClock) -> None:
    member = onboarding_service.staff.provision("100234567", "Zoé Dupont")
    login = onboarding_service.login("100234567", member.initial_password)
    assert login.session is not None  # type: ignore[union-attr]
    onboarding_service.submit_email(login.session, "zoe@example.com",  # type: ignore[union-attr]
                                    "zoe@example.com")
    onboarding_clock.advance(minutes=2)
    token = link_token(onboarding_mailer)
    assert onboarding_service.open_link(token).valid
    assert onboarding_storage.get(member.account_id) is not None
    assert GOOD_PASSWORD


def _run_suite(tmp_path: Path, module: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_adapter.py").write_text(textwrap.dedent(module), encoding="utf-8")
    return subprocess.run(  # noqa: S603
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
         "--rootdir", str(tmp_path), str(tmp_path / "test_adapter.py")],
        capture_output=True, text=True, cwd=tmp_path, check=False, timeout=600,
        env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"})


def test_the_storage_suite_catches_a_broken_adapter(tmp_path: Path) -> None:
    # An adapter that keeps the last error whole and forgets bulk inserts: the requirements
    # an integrator missed in the docs, now failing where they are broken.
    done = _run_suite(tmp_path, """
        import attrs
        import pytest
        from cegema_onboarding.testing import MemoryStorage, StorageContract

        class Careless(MemoryStorage):
            def mark_failed(self, message_id, error, retry_at):
                super().mark_failed(message_id, error, retry_at)
                kept = self._outbox[message_id]
                self._outbox[message_id] = attrs.evolve(kept, last_error=error)

        Careless.insert_accounts = None

        class TestCareless(StorageContract):
            @pytest.fixture
            def storage(self):
                return Careless()
        """)
    assert done.returncode == 1, done.stdout + done.stderr
    failed = {line.split("::")[-1].split(" ")[0] for line in done.stdout.splitlines()
              if line.startswith("FAILED")}
    assert "test_mark_failed_retries_later_then_parks" in failed
    assert "test_implements_the_ports" in failed
    assert "test_empty_storage_finds_nothing" not in failed
    assert "test_claim_due_default_lease_is_in_the_future" not in failed


def test_the_rate_limiter_suite_catches_a_limiter_that_counts_nothing(tmp_path: Path) -> None:
    done = _run_suite(tmp_path, """
        import pytest
        from cegema_onboarding.testing import RateLimiterContract

        class Lenient:
            def hit(self, key, limit, window, now):
                return True

        class TestLenient(RateLimiterContract):
            @pytest.fixture
            def limiter(self):
                return Lenient()
        """)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "test_allows_up_to_the_limit_then_refuses" in done.stdout
    # Only the protocol check passes: every counting rule fails.
    assert " 1 passed" in done.stdout, done.stdout
