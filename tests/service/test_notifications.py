"""Security notifications carry IP, user agent and time; the audit trail holds no secret."""

from __future__ import annotations

from datetime import timedelta

import attrs

from cegema_onboarding import flow
from cegema_onboarding.adapters.mailbox import text_part
from cegema_onboarding.flow import Notice, SendNotice
from cegema_onboarding.model import Channel, LinkPurpose
from cegema_onboarding.service import Ok, Provisioned

from ..conftest import GOOD_PASSWORD, make_settings
from ..flow.test_transitions import accept, new_account
from .test_recovery import ANSWER, NEW_PASSWORD, links, make_service, onboard

UA = "Mozilla/5.0 (Test) Gecko/20100101 Firefox/140.0"


def test_security_notices_carry_ip_user_agent_and_time() -> None:
    env = flow.Env.from_settings(make_settings())
    account = attrs.evolve(new_account(stage=flow.Stage.ACTIVE, email="m@example.com",
                                       email_verified_at=new_account().created_at),
                           password_hash=env.crypto.hasher.hash(GOOD_PASSWORD, b"s" * 16))
    now = account.created_at + timedelta(days=1)
    origin = flow.Origin(ip="198.51.100.4", user_agent=UA)
    entropy = flow.Entropy(salt=b"t" * 16, nonce=b"n" * 32, code=b"c" * 8, series=b"r" * 16,
                           extra=b"x" * 32)
    events: list[flow.Event] = [
        flow.ChangePassword(GOOD_PASSWORD, NEW_PASSWORD, NEW_PASSWORD),
        flow.RequestReset(),
        flow.RemindIdentifier(),
        flow.RequestEmailChange(GOOD_PASSWORD, "new@example.org", "new@example.org"),
    ]
    seen = set()
    for event in events:
        out = flow.step(account, event, now, env, entropy=entropy, origin=origin)
        assert isinstance(out, flow.Accepted), event
        for effect in out.effects:
            if isinstance(effect, SendNotice):
                assert (effect.ip, effect.user_agent, effect.at) == ("198.51.100.4", UA, now)
                seen.add(effect.notice)
    assert seen == {Notice.PASSWORD_CHANGED, Notice.RESET, Notice.IDENTIFIER,
                    Notice.EMAIL_CHANGE, Notice.EMAIL_CHANGE_NOTICE}


def test_password_changed_mail_has_the_ip_and_a_single_use_not_me_link() -> None:
    service, _storage, mailer, _clock = make_service()
    _member, _session = onboard(service, mailer)
    changed = next(m for m in mailer.sent if "mot de passe a été changé" in m["Subject"])
    body = text_part(changed)
    assert "203.0.113.7" in body
    (token,) = links(mailer, "/securite/ce-n-etait-pas-moi")
    assert service.open_link(token, LinkPurpose.NOT_ME).valid
    assert isinstance(service.confirm_not_me(token), Ok)
    assert not service.open_link(token, LinkPurpose.NOT_ME).valid


def test_no_email_member_gets_the_password_notice_without_a_link() -> None:
    out = accept(new_account(stage=flow.Stage.PASSWORD_REQUIRED),
                 flow.SetPassword(GOOD_PASSWORD, GOOD_PASSWORD))
    (notice,) = [e for e in out.effects if isinstance(e, SendNotice)]
    assert notice.channel is Channel.POST and notice.token is None
    assert out.account.not_me_links == ()


def test_every_action_is_audited_and_no_record_holds_a_secret() -> None:
    service, storage, mailer, clock = make_service(staff_assisted_recovery=True)
    member, _session = onboard(service, mailer)
    secrets: list[str] = [member.initial_password, GOOD_PASSWORD, NEW_PASSWORD, ANSWER,
                          "Wrong answer 12", "wrong password 99"]
    remembered = service.login(member.member_number, GOOD_PASSWORD, remember=True,
                               ip="192.0.2.8")
    assert isinstance(remembered, Ok) and remembered.remember_token
    secrets.append(remembered.remember_token)
    service.login(member.member_number, "wrong password 99")
    rotated = service.login_with_token(remembered.remember_token)
    assert isinstance(rotated, Ok) and rotated.remember_token
    secrets.append(rotated.remember_token)
    clock.advance(minutes=1)
    service.login_with_token(remembered.remember_token)  # replay: theft
    service.forgot_password(member.member_number)
    service.forgot_identifier("marie@example.com")
    service.deliver_due()
    token = links(mailer, "/mot-de-passe/reinitialiser")[-1]
    secrets.append(token)
    service.complete_reset(token, NEW_PASSWORD, NEW_PASSWORD, answer="Wrong answer 12")
    service.complete_reset(token, NEW_PASSWORD, NEW_PASSWORD, answer=ANSWER)
    login = service.login(member.member_number, NEW_PASSWORD)
    assert isinstance(login, Ok) and login.session is not None
    service.request_email_change(login.session, NEW_PASSWORD, "new@example.org",
                                 "new@example.org")
    change = links(mailer, "/profil/email/valider")[-1]
    secrets.append(change)
    service.confirm_email_change(change)
    service.update_profile(login.session, channels=[Channel.SMS], pets=True)
    service.revoke_remembered(login.session)
    reissued = service.staff.reissue_credentials(member.account_id, staff_id="agent7")
    assert isinstance(reissued, Provisioned)
    secrets.append(reissued.initial_password)
    service.staff.unlock(member.account_id, staff_id="agent7")
    service.staff.disable(member.account_id, staff_id="agent7")
    service.staff.enable(member.account_id, staff_id="agent7")
    service.staff.mark_email_verified(member.account_id, staff_id="agent7")  # none pending
    service.staff.mark_email_verified(member.account_id, staff_id="agent7", email="n2@example.org")
    for_not_me = links(mailer, "/securite/ce-n-etait-pas-moi")
    secrets += for_not_me

    records = storage.audit_records(limit=10_000)
    actions = {r.action for r in records}
    assert {"login", "remember_login", "remember_theft", "reset_requested",
            "identifier_reminded", "secret_answer", "password_reset", "email_change_requested",
            "email_changed", "profile_updated", "remember_revoked", "credentials_reissued",
            "unlocked", "disabled", "enabled", "email_verified_by_staff"} <= actions
    staff = [r for r in records if r.action in {"credentials_reissued", "unlocked", "disabled",
                                                 "enabled", "email_verified_by_staff"}]
    assert staff and all(r.actor == "staff:agent7" for r in staff)
    dumped = "\n".join(repr(r) + str(attrs.asdict(r)) for r in records)
    for secret in secrets:
        assert secret not in dumped
        assert secret.lower() not in dumped.lower() or len(secret) < 6
    # Answers are also checked in their normalised form.
    assert "lefevre" not in dumped.lower()
