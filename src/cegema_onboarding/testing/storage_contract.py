"""The storage contract: every guarantee of the ``Storage`` port as one pytest class.

Subclass :class:`StorageContract` in a test module and give the class a ``storage``
fixture that returns a fresh, empty adapter::

    import pytest
    from cegema_onboarding.testing import StorageContract

    class TestMyStorage(StorageContract):
        @pytest.fixture
        def storage(self):
            yield MyStorage(...)

Every test then runs on the adapter: the reads, the compare-and-set of ``commit``, the
outbox's claims and leases, the audit order, bulk provisioning (``insert_accounts``) and a
whole member journey through :class:`~cegema_onboarding.service.OnboardingService`.
docs/ports.md states each requirement in prose. Needs pytest (a test-time import).
"""

from __future__ import annotations

import pytest

from ..adapters.memory import ManualClock, MemoryMailer, MemoryNotifier
from ..model import Stage
from ..ports import OutboxStatus, Storage
from ..service import Ok, OnboardingService
from .records import T0
from .storage_accounts import AccountContract
from .storage_outbox import OutboxContract
from .storage_stats import StatsContract
from .support import GOOD_PASSWORD, fast_settings, link_token

__all__ = ["StorageContract"]

class StorageContract(AccountContract, OutboxContract, StatsContract):
    """What every Storage adapter guarantees. Subclasses provide the ``storage`` fixture.

    The service the journey tests build on the adapter uses the class's own
    ``contract_clock``, ``contract_mailer`` and ``contract_service`` fixtures, so that a
    host's fixtures of other names are never replaced.
    """

    @pytest.fixture
    def contract_clock(self) -> ManualClock:
        return ManualClock(T0)

    @pytest.fixture
    def contract_mailer(self) -> MemoryMailer:
        return MemoryMailer()

    @pytest.fixture
    def contract_service(self, storage: Storage, contract_mailer: MemoryMailer,
                         contract_clock: ManualClock) -> OnboardingService:
        return OnboardingService(storage, contract_mailer, settings=fast_settings(),
                                 clock=contract_clock, notifier=MemoryNotifier())

    # ------------------------------------------------------------------ the whole journey

    def test_full_service_journey(self, contract_service: OnboardingService, storage: Storage,
                                  contract_mailer: MemoryMailer,
                                  contract_clock: ManualClock) -> None:
        service, mailer, clock = contract_service, contract_mailer, contract_clock
        member = service.staff.provision("100234567", "Zoé Dupont-Ñúñez")
        result = service.login(" 100234567 ", member.initial_password.lower(), ip="192.0.2.7")
        assert isinstance(result, Ok) and result.session is not None
        session = result.session
        result = service.submit_email(session, "zoe.dupont@example.com",
                                      "Zoe.Dupont@example.com", ip="192.0.2.7")
        assert isinstance(result, Ok)
        assert len(mailer.sent) == 1
        clock.advance(minutes=5)
        token = link_token(mailer)
        assert service.open_link(token).valid
        result = service.confirm_link(token, ip="192.0.2.7", session=session)
        assert isinstance(result, Ok) and result.session is not None
        session = result.session
        again = service.confirm_link(token, ip="192.0.2.7")
        assert not isinstance(again, Ok)
        result = service.set_password(session, GOOD_PASSWORD, GOOD_PASSWORD, ip="192.0.2.7")
        assert isinstance(result, Ok) and result.session is not None
        session = result.session
        question = next(iter(service.settings.questions))
        result = service.set_secret_answer(session, question.id, "Martin", "Martin")
        assert isinstance(result, Ok)
        stored = storage.get(member.account_id)
        assert stored is not None
        assert stored.stage is Stage.ACTIVE
        assert stored.email == "zoe.dupont@example.com"
        assert stored.name == "Zoé Dupont-Ñúñez"
        assert list(storage.find_by_email("zoe.dupont@example.com")) == [stored]
        # Every queued message went out and lost its payload (it held a live token).
        messages = storage.list_messages()
        assert len(messages) == len(mailer.sent) >= 2
        assert all(m.status is OutboxStatus.SENT and m.payload == b"" for m in messages)
        actions = [r.action for r in storage.audit_records(account_id=member.account_id)]
        assert actions[-1] == "provisioned"
        assert len(actions) >= 5
        clock.advance(minutes=1)
        assert not isinstance(service.login("100234567", member.initial_password), Ok)
        assert isinstance(service.login("100234567", GOOD_PASSWORD), Ok)

    def test_mail_failure_leaves_the_message_for_the_relay(
            self, contract_service: OnboardingService, storage: Storage,
            contract_mailer: MemoryMailer, contract_clock: ManualClock) -> None:
        service, mailer, clock = contract_service, contract_mailer, contract_clock
        member = service.staff.provision("100234568", "Jean Martin")
        result = service.login("100234568", member.initial_password)
        assert isinstance(result, Ok) and result.session is not None
        mailer.fail = True
        assert isinstance(service.submit_email(result.session, "jean@example.com",
                                               "jean@example.com"), Ok)
        (queued,) = storage.list_messages()
        assert queued.status is OutboxStatus.PENDING and queued.attempts == 1
        mailer.fail = False
        clock.advance(minutes=5)
        report = service.deliver_due()
        assert report.sent == 1
        assert len(mailer.sent) == 1
        (sent,) = storage.list_messages()
        assert sent.status is OutboxStatus.SENT and sent.payload == b""
