"""One test per line of SECURITY.md that the foundation (issue 2) covers.

Each test is named after its line and quotes it in its docstring. Lines about features
built later (forgotten password, remember-me, "this wasn't me", rate limits per IP) are
tested with those features.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import inspect
import json
import logging
import threading
from datetime import timedelta

import attrs
import pytest

from cegema_onboarding import codec, credentials, flow, hashing, lockout, normalize, service, tokens
from cegema_onboarding.adapters.mailbox import text_part
from cegema_onboarding.adapters.memory import ManualClock, MemoryMailer, MemoryStorage
from cegema_onboarding.config import LockoutPolicy, Settings
from cegema_onboarding.credentials import ALPHABET
from cegema_onboarding.errors import ConfigurationError, InvalidInput
from cegema_onboarding.flow import Reason, Refused
from cegema_onboarding.hashing import (
    FAST_TEST_PARAMS,
    PRODUCTION_PARAMS,
    Argon2Params,
    parse_phc,
)
from cegema_onboarding.journey import first_connection, links
from cegema_onboarding.mail.settings import MailSettings
from cegema_onboarding.model import LinkPurpose, Session, Stage, Step
from cegema_onboarding.password_policy import PasswordPolicy, common_passwords
from cegema_onboarding.service import Ok, OnboardingService, Provisioned, Screen

from .conftest import (
    GOOD_PASSWORD,
    PEPPER,
    SECRET,
    START,
    link_token,
    mail_code,
    make_settings,
    ok,
    refused,
    session_of,
)

IP = "172.17.0.14"
ADDRESS = "marie.dupont@example.com"
NUMBER = "100234567"


def build(settings: Settings | None = None, clock: ManualClock | None = None,
          storage: MemoryStorage | None = None,
          mailer: MemoryMailer | None = None) -> OnboardingService:
    return OnboardingService(storage or MemoryStorage(), mailer or MemoryMailer(),
                             settings=settings or make_settings(),
                             clock=clock or ManualClock(START))


def mails(svc: OnboardingService) -> MemoryMailer:
    assert isinstance(svc.mailer, MemoryMailer)
    return svc.mailer


def store(svc: OnboardingService) -> MemoryStorage:
    assert isinstance(svc.storage, MemoryStorage)
    return svc.storage


def at_email(svc: OnboardingService, number: str = NUMBER) -> tuple[Provisioned, Session]:
    member = svc.staff.provision(number, "Marie Dupont")
    return member, session_of(svc.login(number, member.initial_password, ip=IP))


def at_link(svc: OnboardingService, number: str = NUMBER) -> tuple[Provisioned, Session, str]:
    member, session = at_email(svc, number)
    ok(svc.submit_email(session, ADDRESS, ADDRESS, ip=IP))
    return member, session, link_token(mails(svc))


def at_password(svc: OnboardingService,
                number: str = NUMBER) -> tuple[Provisioned, Session]:
    member, session, token = at_link(svc, number)
    return member, session_of(svc.confirm_link(token, ip=IP, session=session))


def at_question(svc: OnboardingService,
                number: str = NUMBER) -> tuple[Provisioned, Session]:
    member, session = at_password(svc, number)
    return member, session_of(svc.set_password(session, GOOD_PASSWORD, GOOD_PASSWORD, ip=IP))


def active(svc: OnboardingService, number: str = NUMBER) -> tuple[Provisioned, Session]:
    member, session = at_question(svc, number)
    question = next(iter(svc.settings.questions)).id
    ok(svc.set_secret_answer(session, question, "Zénobie Quartz", "zenobie quartz"))
    return member, session


def attempt_key(number: str) -> str:
    """The throttle key of a normalised member number."""
    return lockout.attempt_key(number)


def nonce_of(token: str) -> bytes:
    payload = token.split(".")[0]
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    text = str(data["n"])
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# --------------------------------------------------------------------------- secrets at rest


def test_passwords_and_answers_hashed_with_argon2id_at_asvs_production_parameters() -> None:
    """"Member-chosen passwords and secret answers are hashed with Argon2id through
    `cryptography`, with at least m=19456 KiB, t=2 and p=1 (ASVS Appendix C), a random salt
    of at least 16 bytes, and a self-describing stored format (PHC string)"."""
    settings = make_settings(argon2=PRODUCTION_PARAMS)
    assert Settings(secret_keys=(SECRET,), pepper_keys=(("t1", PEPPER),),
                    base_url="https://portail.example").argon2 == PRODUCTION_PARAMS
    svc = build(settings)
    member, _ = active(svc)
    account = store(svc).get(member.account_id)
    assert account is not None and account.password_hash and account.answer_hash
    salts = set()
    for stored in (account.password_hash, account.answer_hash):
        assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
        parsed = parse_phc(stored)
        assert (parsed.algorithm, parsed.memory_kib, parsed.iterations, parsed.lanes) == (
            "argon2id", 19456, 2, 1)
        assert parsed.salt_len >= 16 and parsed.hash_len >= 16
        salts.add(parsed.salt)
    assert len(salts) == 2, "each hash has its own random salt"
    with pytest.raises(ConfigurationError):
        Argon2Params(memory_kib=19455)
    with pytest.raises(ConfigurationError):
        Argon2Params(iterations=1)


def test_a_login_against_older_parameters_rehashes_and_a_failed_one_changes_nothing() -> None:
    """"A login that succeeds against an older parameter set re-hashes; a failed one
    changes nothing"."""
    storage, clock = MemoryStorage(), ManualClock(START)
    old = build(make_settings(argon2=FAST_TEST_PARAMS), clock, storage)
    member, _ = active(old)
    before = storage.get(member.account_id)
    assert before is not None and before.password_hash is not None
    stronger = Argon2Params(memory_kib=256, iterations=2, lanes=1, allow_weak=True)
    new = build(make_settings(argon2=stronger), clock, storage)
    refused(new.login(NUMBER, GOOD_PASSWORD + "?"), Reason.BAD_CREDENTIALS)
    assert storage.get(member.account_id) == before
    ok(new.login(NUMBER, GOOD_PASSWORD))
    after = storage.get(member.account_id)
    assert after is not None and after.password_hash is not None
    assert parse_phc(after.password_hash).memory_kib == 256
    assert parse_phc(after.password_hash).iterations == 2
    assert after.password_hash != before.password_hash
    # The upgraded hash still opens the account, and is not re-hashed again.
    calls = new.env.crypto.hasher.calls
    ok(new.login(NUMBER, GOOD_PASSWORD))
    assert new.env.crypto.hasher.calls - calls == 1
    assert storage.get(member.account_id) == after


def test_initial_passwords_from_a_csprng_over_an_unambiguous_alphabet() -> None:
    """"Initial passwords are generated by the library from a CSPRNG [...] They use an
    alphabet with no ambiguous characters"."""
    svc = build()
    issued = [svc.staff.provision(f"CG{n:07d}", "Marie Dupont").initial_password
              for n in range(200)]
    assert len(set(issued)) == 200
    assert set("".join(issued)) <= set(ALPHABET)
    assert not set("ILOU") & set(ALPHABET)
    assert len(ALPHABET) == 32 and all(len(p) == 16 for p in issued)  # 80 bits each
    # Light check that the generator is the OS CSPRNG, not `random`.
    source = inspect.getsource(credentials.new_initial_password)
    assert "secrets.token_bytes" in source
    assert "import random" not in inspect.getsource(credentials)


@pytest.mark.parametrize("form", ["lower", "spaced", "dashed", "lookalikes", "fullwidth"])
def test_initial_password_input_is_normalised_before_checking(form: str) -> None:
    """"input is normalised (case, spaces, look-alikes such as O/0 and I/1) before
    checking"."""
    svc = build()
    member = svc.staff.provision(NUMBER, "Marie Dupont")
    pw = member.initial_password
    typed = {
        "lower": pw.lower(),
        "spaced": " ".join(pw[i:i + 4] for i in range(0, 16, 4)),
        "dashed": credentials.format_for_print(pw),
        "lookalikes": pw.replace("0", "O").replace("1", "I"),
        "fullwidth": "".join(chr(ord(c) + 0xFEE0) for c in pw),
    }[form]
    assert ok(svc.login(NUMBER, typed)).step is Step.EMAIL


def test_initial_passwords_are_one_time_and_expire() -> None:
    """"They are one-time: they stop working once the member has set a password, and after
    a configurable expiry (ASVS 6.4.1). They can never become the long-term password"."""
    clock = ManualClock(START)
    svc = build(make_settings(initial_password_lifetime=timedelta(days=10)), clock)
    member, session = at_password(svc)
    refused(svc.set_password(session, member.initial_password, member.initial_password),
            Reason.PASSWORD_SAME_AS_INITIAL)
    refused(svc.set_password(session, member.initial_password.lower(),
                             member.initial_password.lower()),
            Reason.PASSWORD_SAME_AS_INITIAL)
    ok(svc.set_password(session, GOOD_PASSWORD, GOOD_PASSWORD))
    refused(svc.login(NUMBER, member.initial_password), Reason.BAD_CREDENTIALS)

    other = svc.staff.provision("100234568", "Jean Martin")
    clock.advance(days=10)
    ok(svc.login("100234568", other.initial_password))
    clock.advance(seconds=1)
    refused(svc.login("100234568", other.initial_password),
            Reason.INITIAL_CREDENTIALS_EXPIRED)


def test_initial_passwords_are_kept_as_a_peppered_hmac_which_makes_bulk_provisioning_fast(
) -> None:
    """"they may be kept as a keyed hash (HMAC with a server-side pepper held outside the
    database) instead of a slow KDF. That choice is what makes bulk provisioning of a whole
    member base fast"."""
    storage = MemoryStorage()
    svc = build(storage=storage)
    calls = svc.env.crypto.hasher.calls
    members = [svc.staff.provision(f"CG{n:07d}", "Marie Dupont") for n in range(300)]
    assert svc.env.crypto.hasher.calls == calls, "provisioning does no slow hashing"
    member = members[0]
    account = storage.get(member.account_id)
    assert account is not None
    expected = hmac.new(PEPPER.encode(), member.initial_password.encode(),
                        hashlib.sha256).hexdigest()
    assert account.initial_digest == f"t1${expected}"
    # Without the pepper the stored digest is useless: a host with another pepper (a
    # stolen database on an attacker's machine) cannot check a guess against it.
    thief = build(make_settings(pepper_keys=(("t1", "another-pepper-0123456789-abcdefghijkl"),)),
                  storage=storage)
    refused(thief.login(member.member_number, member.initial_password), Reason.BAD_CREDENTIALS)


def test_link_tokens_carry_at_least_128_bits_and_only_a_hash_is_stored() -> None:
    """"Link [...] tokens carry at least 128 bits from a CSPRNG (ASVS 11.5.1: a UUID is not
    enough). Only a hash of each one is stored"."""
    svc = build()
    member, _, token = at_link(svc)
    nonce = nonce_of(token)
    assert len(nonce) * 8 >= 128
    account = store(svc).get(member.account_id)
    assert account is not None
    [link] = account.links
    assert link.nonce_hash == hashlib.sha256(nonce).hexdigest()
    dump = json.dumps(codec.to_data(account)) + repr(account)
    nonce_text = base64.urlsafe_b64encode(nonce).decode().rstrip("=")
    assert token not in dump and nonce_text not in dump
    assert token.split(".")[-1] not in dump
    assert flow.Entropy.draw(lambda n: bytes(n)).nonce == bytes(32)


def test_all_secret_comparisons_are_constant_time() -> None:
    """"All secret comparisons are constant-time"."""
    assert "compare_digest" in inspect.getsource(credentials.Pepper.verify)
    assert "compare_digest" in inspect.getsource(links.find_link)
    assert "compare_digest" in inspect.getsource(first_connection.submit_email)
    # Argon2 verification is cryptography's own constant-time verify.
    assert "kdf.verify(" in inspect.getsource(hashing.PasswordHasher.verify)
    assert "verify_code" in inspect.getsource(first_connection.submit_code)
    assert "pepper.verify" in inspect.getsource(tokens.verify_code)


def test_no_secret_in_a_log_an_exception_message_an_audit_record_or_a_repr(
        caplog: pytest.LogCaptureFixture) -> None:
    """"No secret ever appears in a log, an exception message, an audit record or a
    repr"."""
    caplog.set_level(logging.DEBUG)
    svc = build()
    mails(svc).fail = True
    member, session = at_email(svc)
    ok(svc.submit_email(session, ADDRESS, ADDRESS))
    mails(svc).fail = False
    svc.clock.advance(hours=2)  # type: ignore[attr-defined]
    svc.deliver_due()
    token, code = link_token(mails(svc)), mail_code(mails(svc)).replace("-", "")
    result = svc.confirm_link(token, session=session)
    session = session_of(result)
    ok(svc.set_password(session, GOOD_PASSWORD, GOOD_PASSWORD))
    secrets_ = [member.initial_password, token, code, GOOD_PASSWORD]
    texts_ = [caplog.text, repr(member), repr(result), repr(session)]
    texts_ += [repr(r) for r in store(svc).audit_records(limit=1000)]
    texts_ += [repr(m) for m in store(svc).list_messages(limit=1000)]
    texts_ += [repr(flow.Login(GOOD_PASSWORD)), repr(flow.SetPassword(GOOD_PASSWORD, "x")),
               repr(flow.SubmitCode(code)), repr(flow.SetSecretAnswer("q", "Quartz", "x")),
               repr(svc.env.crypto), repr(svc.settings)]
    for bad in (GOOD_PASSWORD + "\x00", "x" * 5000 + GOOD_PASSWORD):
        with pytest.raises(InvalidInput) as caught:
            normalize.normalize_password(bad)
        texts_.append(str(caught.value))
    joined = "\n".join(texts_)
    for secret in secrets_:
        assert secret not in joined
    assert SECRET not in joined and PEPPER not in joined


# --------------------------------------------------------------------------- passwords


def test_length_at_least_8_configurable_64_accepted_capped_any_unicode_nfkc_no_truncation(
) -> None:
    """"Length is at least 8, with 15 recommended [...] and the minimum is configurable.
    Passwords of at least 64 characters must be accepted, with a hard cap [...] Any
    Unicode is allowed, normalised with NFKC, and nothing is truncated"."""
    with pytest.raises(ConfigurationError):
        PasswordPolicy(min_length=7)
    assert PasswordPolicy(min_length=15).min_length == 15
    assert PasswordPolicy().min_length >= 8
    svc = build()
    _, session = at_password(svc)
    refused(svc.set_password(session, "x" * 1025, "x" * 1025), Reason.PASSWORD_TOO_LONG)
    unicode_pw = "Ｍｏｎ ｊａｒｄｉｎ 東京 🌻 " + "ü" * 60  # 64+ characters, fullwidth, emoji
    ok(svc.set_password(session, unicode_pw, unicode_pw))
    # NFKC: the ASCII spelling of the fullwidth letters is the same password.
    ascii_form = "Mon jardin 東京 🌻 " + "ü" * 60
    assert ok(svc.login(NUMBER, ascii_form)).step is Step.QUESTION
    # Nothing truncated: one more character is another password.
    refused(svc.login(NUMBER, ascii_form + "ü"), Reason.BAD_CREDENTIALS)
    refused(svc.login(NUMBER, ascii_form[:-1]), Reason.BAD_CREDENTIALS)


@pytest.mark.parametrize(("password", "reason"), [
    ("qwerty123456", Reason.PASSWORD_COMMON),
    ("mon numero 100234567 !", Reason.PASSWORD_CONTAINS_MEMBER_NUMBER),
    ("marie.dupont@example.com", Reason.PASSWORD_CONTAINS_EMAIL),
    ("dupont dupont dupont", Reason.PASSWORD_CONTAINS_NAME),
    ("j'aime bien cegema !!", Reason.PASSWORD_CONTAINS_SITE_NAME),
])
def test_no_composition_rules_but_a_common_list_and_personal_data_each_with_its_reason(
        password: str, reason: Reason) -> None:
    """"There are no composition rules (ASVS 6.2.5). Reject passwords found in a list of at
    least 3,000 common passwords (ASVS 6.2.4), and passwords that contain the member number,
    the email address, the member's name or the site's name. Each rejection gives its
    reason"."""
    assert len(common_passwords()) >= 3000
    svc = build()
    _, session = at_password(svc)
    refusal = refused(svc.set_password(session, password, password), reason)
    assert service.describe(refusal)
    # All lower case, no digit, no symbol: accepted.
    ok(svc.set_password(session, "des lapins bleus dans la prairie",
                        "des lapins bleus dans la prairie"))


def test_setting_a_password_revokes_other_sessions_and_queues_the_notice() -> None:
    """"Setting or changing a password revokes every other session and remember-me token,
    and queues the password-changed notification"."""
    svc = build()
    member, session = at_password(svc)
    other = session_of(svc.login(NUMBER, member.initial_password))
    sent = len(mails(svc).sent)
    ok(svc.set_password(session, GOOD_PASSWORD, GOOD_PASSWORD, ip=IP))
    assert not svc.check_session(session) and not svc.check_session(other)
    assert len(mails(svc).sent) == sent + 1
    assert "a été changé" in str(mails(svc).sent[-1]["Subject"])


# --------------------------------------------------------------------------- links and codes


def _other_service(svc: OnboardingService, **overrides: object) -> OnboardingService:
    return build(make_settings(**overrides), svc.clock, store(svc), mails(svc))  # type: ignore[arg-type]


def test_a_link_is_signed_with_key_rotation() -> None:
    """"A link is signed (itsdangerous, with key rotation: a list of keys, newest
    first)"."""
    old_key, new_key = SECRET, "a-brand-new-signing-key-0123456789-abcdef"
    svc = build()
    _, _, token = at_link(svc)
    rotating = _other_service(svc, secret_keys=(new_key, old_key))
    assert rotating.open_link(token).valid, "an older key still verifies during rotation"
    rotated_out = _other_service(svc, secret_keys=(new_key,))
    assert rotated_out.open_link(token).reason is Reason.LINK_INVALID
    refused(rotated_out.confirm_link(token), Reason.LINK_INVALID)
    # New links are signed with the newest key.
    new_token = rotating.env.crypto.signer.issue("acc", "verify_email", b"\x01" * 16)
    with pytest.raises(Exception, match="invalid"):
        svc.env.crypto.signer.parse(new_token, "verify_email")


def test_pepper_rotation_rekeys_initial_passwords_at_login() -> None:
    """"a keyed hash (HMAC with a server-side pepper held outside the database)": peppers
    rotate like signing keys, and a login under an older pepper re-keys the digest."""
    old_pepper, new_pepper = PEPPER, "a-brand-new-pepper-0123456789-abcdefghij"
    svc = build()
    member = svc.staff.provision(NUMBER, "Marie Dupont")
    rotating = _other_service(svc, pepper_keys=(("t2", new_pepper), ("t1", old_pepper)))
    refused(rotating.login(NUMBER, "wrong password 123"), Reason.BAD_CREDENTIALS)
    before = store(svc).get(member.account_id)
    assert before is not None and before.initial_digest is not None
    assert before.initial_digest.startswith("t1$"), "a failed login re-keys nothing"
    ok(rotating.login(NUMBER, member.initial_password))
    after = store(svc).get(member.account_id)
    assert after is not None and after.initial_digest is not None
    assert after.initial_digest.startswith("t2$")
    rotated = _other_service(svc, pepper_keys=(("t2", new_pepper),))
    ok(rotated.login(NUMBER, member.initial_password))


def test_outbox_payloads_follow_signing_key_rotation() -> None:
    """The outbox is encrypted under the signing keys: a message queued under an older key
    is still delivered while that key is listed, and parked (never sent garbled) once the
    key is gone."""
    storage, mailer, clock = MemoryStorage(), MemoryMailer(), ManualClock(START)
    queued = OnboardingService(storage, mailer, settings=make_settings(), clock=clock,
                               deliver_inline=False)
    member = queued.staff.provision(NUMBER, "Marie Dupont")
    session = session_of(queued.login(NUMBER, member.initial_password))
    ok(queued.submit_email(session, ADDRESS, ADDRESS))
    ok(queued.declare_no_email(session))
    ok(queued.submit_email(session, "autre@example.com", "autre@example.com"))
    new_key = "a-brand-new-signing-key-0123456789-abcdef"
    rotating = build(make_settings(secret_keys=(new_key, SECRET)), clock, storage, mailer)
    assert rotating.deliver_due(limit=1).sent == 1
    rotated = build(make_settings(secret_keys=(new_key,)), clock, storage, mailer)
    report = rotated.deliver_due()
    assert (report.sent, report.parked) == (0, 1)
    assert len(mailer.sent) == 1


@pytest.mark.parametrize("forgery", ["tampered", "rotated_out_key", "other_purpose",
                                     "other_account", "truncated"])
def test_tampered_rotated_out_or_other_purpose_tokens_are_refused_alike(forgery: str) -> None:
    """"It is tied to one account and one purpose" — a tampered token, a token signed with
    a rotated-out key and a token for another purpose are all refused, for the same
    reason."""
    svc = build()
    member, _, token = at_link(svc)
    other, _ = at_email(svc, "100234568")
    nonce = nonce_of(token)
    payload, _, sig = token.rpartition(".")
    mid = len(sig) // 2
    if forgery == "tampered":
        forged = f"{payload}.{sig[:mid]}{'A' if sig[mid] != 'A' else 'B'}{sig[mid + 1:]}"
    elif forgery == "rotated_out_key":
        retired = tokens.LinkSigner(["a-retired-signing-key-0123456789-abcdef"])
        forged = retired.issue(member.account_id, "verify_email", nonce)
    elif forgery == "other_purpose":
        forged = svc.env.crypto.signer.issue(member.account_id, "reset_password", nonce)
    elif forgery == "other_account":
        forged = svc.env.crypto.signer.issue(other.account_id, "verify_email", nonce)
    else:
        forged = token[:-3]
    assert forged != token
    version = store(svc).get(member.account_id).version  # type: ignore[union-attr]
    check = svc.open_link(forged)
    assert (check.valid, check.reason) == (False, Reason.LINK_INVALID)
    assert refused(svc.confirm_link(forged), Reason.LINK_INVALID) == Refused(Reason.LINK_INVALID)
    assert store(svc).get(member.account_id).version == version  # type: ignore[union-attr]
    assert svc.open_link(token).valid, "the genuine link is untouched"


def test_a_link_dies_when_used_when_a_newer_one_is_sent_or_when_the_password_changes() -> None:
    """"it dies when it is used, when a newer link for the same purpose is sent, or when
    the password or email changes"."""
    svc = build()
    _, session, first = at_link(svc)
    svc.clock.advance(minutes=2)  # type: ignore[attr-defined]
    ok(svc.resend_link(session))
    second = link_token(mails(svc))
    refused(svc.confirm_link(first), Reason.LINK_SUPERSEDED)
    ok(svc.change_email(session))
    refused(svc.confirm_link(second), Reason.LINK_SUPERSEDED)
    ok(svc.submit_email(session, "m.dupont@example.org", "m.dupont@example.org"))
    third = link_token(mails(svc))
    ok(svc.confirm_link(third))
    refused(svc.confirm_link(third), Reason.LINK_USED)
    assert svc.open_link(third).reason is Reason.LINK_USED


@pytest.mark.parametrize(("after", "valid"), [
    (timedelta(hours=24), True),
    (timedelta(hours=24, seconds=1), False),
])
def test_the_validation_link_is_valid_at_exactly_24_h_and_invalid_one_second_later(
        after: timedelta, valid: bool) -> None:
    """"The validation link lasts 24 hours [...] It is still valid at exactly 24 h and
    invalid one second later, measured with the injected clock"."""
    clock = ManualClock(START)
    svc = build(clock=clock)
    _, session, token = at_link(svc)
    clock.set(START + after)
    assert svc.open_link(token).valid is valid
    result = svc.confirm_link(token, session=session)
    if valid:
        assert ok(result).step is Step.PASSWORD
    else:
        refused(result, Reason.LINK_EXPIRED)
        assert svc.open_link(token).reason is Reason.LINK_EXPIRED


def test_the_link_lifetime_is_configurable() -> None:
    """"Make the lifetime configurable"."""
    clock = ManualClock(START)
    svc = build(make_settings(link_lifetime=timedelta(hours=2)), clock)
    _, _, token = at_link(svc)
    clock.advance(hours=2, seconds=1)
    refused(svc.confirm_link(token), Reason.LINK_EXPIRED)
    with pytest.raises(ConfigurationError):
        make_settings(link_lifetime=timedelta(0))


def test_opening_a_link_get_never_spends_it_only_the_members_post_does() -> None:
    """"Mail scanners must not be able to use a link up: opening it (GET) shows a page, and
    only the member's action (POST) spends it"."""
    svc = build()
    member, _, token = at_link(svc)
    before = store(svc).get(member.account_id)
    for _ in range(5):
        assert svc.open_link(token).valid
    assert store(svc).get(member.account_id) == before
    ok(svc.confirm_link(token))
    assert not svc.open_link(token).valid


def test_a_short_code_in_the_same_mail_is_an_alternative_to_the_link() -> None:
    """"Offer a short code in the same mail as an alternative to the link, for a member who
    reads mail on another device"."""
    svc = build()
    _, session, token = at_link(svc)
    mail = mails(svc).sent[-1]
    code = mail_code(mails(svc))
    assert token in text_part(mail) and code in text_part(mail)
    for _ in range(3):
        refused(svc.submit_code(session, "0000-0000"), Reason.CODE_INVALID)
    assert ok(svc.submit_code(session, code)).step is Step.PASSWORD


def test_link_urls_are_built_from_the_configured_base_url_never_from_a_host_header() -> None:
    """"Link URLs are built from a configured base URL, never from a request's Host header
    (CVE-2012-4520, CVE-2025-43930)"."""
    svc = build(make_settings(base_url="https://adherents.cegema.example"))
    # No entry point even accepts a host, a URL or a request.
    for name, method in inspect.getmembers(OnboardingService, inspect.isfunction):
        if name.startswith("_"):
            continue
        params = set(inspect.signature(method).parameters)
        assert not params & {"host", "url", "base_url", "request", "headers"}, name
    # Whatever the caller passes around, the link points at the configured site.
    member = svc.staff.provision(NUMBER, "Marie Dupont")
    session = session_of(svc.login(NUMBER, member.initial_password, ip="evil.example",
                                   user_agent="Host: evil.example"))
    ok(svc.submit_email(session, ADDRESS, ADDRESS, ip="evil.example"))
    body = text_part(mails(svc).sent[-1])
    assert "https://adherents.cegema.example/premiere-connexion/valider?token=" in body
    assert "evil.example" not in body
    assert svc.settings.link_url(LinkPurpose.VERIFY_EMAIL, "t").startswith(
        "https://adherents.cegema.example/")
    with pytest.raises(ConfigurationError):
        make_settings(base_url="/relative/only")


# --------------------------------------------------------------------------- secret questions


def test_the_secret_answer_is_normalised_and_hashed_like_a_password() -> None:
    """"The answer is normalised (NFKC, casefold, accents and extra spaces removed) and
    hashed like a password. An answer equal to the member number, the email, the password
    or a trivial string is rejected"."""
    svc = build()
    member, session = at_question(svc)
    qid = next(iter(svc.settings.questions)).id
    for answer, reason in [(NUMBER, Reason.ANSWER_SAME_AS_MEMBER_NUMBER),
                           (ADDRESS, Reason.ANSWER_SAME_AS_EMAIL),
                           (GOOD_PASSWORD, Reason.ANSWER_SAME_AS_PASSWORD),
                           ("1234", Reason.ANSWER_TRIVIAL)]:
        refused(svc.set_secret_answer(session, qid, answer, answer), reason)
    ok(svc.set_secret_answer(session, qid, "  Élodie   O'Brien ", "elodie o brien"))
    account = store(svc).get(member.account_id)
    assert account is not None and account.answer_hash is not None
    assert parse_phc(account.answer_hash).algorithm == "argon2id"
    assert "odie" not in account.answer_hash and "brien" not in account.answer_hash.lower()
    assert svc.env.crypto.hasher.verify(normalize.normalize_answer("ELODIE O BRIEN"),
                                        account.answer_hash)


def test_with_questions_off_the_journey_ends_at_the_password() -> None:
    """"Host applications can turn secret questions off and stay within ASVS L1"."""
    svc = build(make_settings(secret_questions=False))
    member, session = at_password(svc)
    assert ok(svc.set_password(session, GOOD_PASSWORD, GOOD_PASSWORD)).step is Step.PROFILE
    account = store(svc).get(member.account_id)
    assert account is not None and account.stage is Stage.ACTIVE
    assert account.answer_hash is None
    assert ok(svc.login(NUMBER, GOOD_PASSWORD)).step is Step.PROFILE


# --------------------------------------------------------------------------- enumeration


def _stages(svc: OnboardingService) -> dict[str, tuple[str, str]]:
    """A member in every stage: number -> (right password, stage name)."""
    found: dict[str, tuple[str, str]] = {}
    p = svc.staff.provision("CG0000001", "Marie Dupont")
    found["CG0000001"] = (p.initial_password, "provisioned")
    p, _ = at_email(svc, "CG0000002")
    found["CG0000002"] = (p.initial_password, "email_required")
    p, _, _ = at_link(svc, "CG0000003")
    found["CG0000003"] = (p.initial_password, "email_pending")
    p, s = at_email(svc, "CG0000004")
    ok(svc.declare_no_email(s))
    found["CG0000004"] = (p.initial_password, "awaiting_activation")
    p, _ = at_password(svc, "CG0000005")
    found["CG0000005"] = (p.initial_password, "password_required")
    at_question(svc, "CG0000006")
    found["CG0000006"] = (GOOD_PASSWORD, "question_required")
    active(svc, "CG0000007")
    found["CG0000007"] = (GOOD_PASSWORD, "active")
    return found


def test_login_makes_equal_slow_hash_calls_for_known_and_unknown_members_at_every_stage(
) -> None:
    """"Login [...] behave[s] the same for known and unknown accounts: [...] the same number
    of slow-hash calls (Django's counting test; CVE-2024-39329, CVE-2016-2513)"."""
    svc = build()
    hasher = svc.env.crypto.hasher
    cases = [(number, pw) for number, (pw, _) in _stages(svc).items()]
    cases += [(number, "wrong password 123") for number, _ in cases]
    cases += [("ZZ9999999", "wrong password 123"), ("ZZ9999999", GOOD_PASSWORD),
              ("not a number!", GOOD_PASSWORD), ("", GOOD_PASSWORD)]
    for number, password in cases:
        before = hasher.calls
        svc.login(number, password)
        assert hasher.calls - before == 1, (number, password)


def test_no_enumeration_in_login_responses() -> None:
    """"the same result type, the same message, the same mail-port behaviour" for unknown
    member numbers, wrong passwords and malformed member numbers; a locked account gets the
    same answer as a locked unknown identifier."""
    svc = build()
    member = svc.staff.provision(NUMBER, "Marie Dupont")
    sent = len(mails(svc).sent)
    answers = [
        svc.login("ZZ9999999", member.initial_password),
        svc.login(NUMBER, "wrong password 123"),
        svc.login("pas un numéro !", member.initial_password),
        svc.login(NUMBER, ""),
    ]
    for answer in answers:
        refusal = refused(answer, Reason.BAD_CREDENTIALS)
        assert (refusal.field, refusal.others, refusal.params) == ("password", (), ())
        assert service.describe(refusal) == "Identifiant ou mot de passe incorrect."
    assert len(mails(svc).sent) == sent
    # Locked: known and unknown identifiers are throttled alike, so LOCKED says nothing.
    for _ in range(svc.settings.lockout.free_attempts):
        svc.login(NUMBER, "wrong password 123")
        svc.login("ZZ9999999", "wrong password 123")
    known, unknown = svc.login(NUMBER, member.initial_password), svc.login("ZZ9999999", "x")
    assert known == unknown == Refused(Reason.LOCKED)
    assert service.describe(refused(known, Reason.LOCKED)) == service.describe(unknown)  # type: ignore[arg-type]


def test_a_malformed_member_number_gets_exactly_the_same_refusal_and_is_audited() -> None:
    """"the same result type, the same message": the very same value, and the attempt is
    in the audit log like any other failed login."""
    svc = build()
    svc.staff.provision(NUMBER, "Marie Dupont")
    unknown = svc.login("ZZ9999999", "wrong password 123", ip=IP)
    malformed = svc.login("pas un numéro !", "wrong password 123", ip=IP)
    assert malformed == unknown == Refused(Reason.BAD_CREDENTIALS, field="password")
    failed = [r for r in store(svc).audit_records(limit=100) if r.action == "login"]
    assert len(failed) == 2


def test_a_mail_failure_reveals_nothing() -> None:
    """"A mail failure must not reveal anything either (CVE-2024-45231)"."""
    svc = build()
    _, first = at_email(svc, "100234567")
    _, second = at_email(svc, "100234568")
    working = svc.submit_email(first, ADDRESS, ADDRESS)
    mails(svc).fail = True
    failing = svc.submit_email(second, "jean@example.org", "jean@example.org")
    assert working == failing
    assert ok(failing).step is Step.CHECK_MAILBOX


def test_failures_are_counted_per_normalised_member_number() -> None:
    """"Failures are counted per normalised account identifier (case and Unicode variants
    share one counter, CVE-2019-19844), with growing delays and a bound well under 100
    consecutive failures (NIST)"."""
    clock = ManualClock(START)
    svc = build(clock=clock)
    member = svc.staff.provision("CG0000001", "Marie Dupont")
    fullwidth = "".join(chr(ord(c) + 0xFEE0) for c in "CG0000001")
    variants = ["cg0000001", " CG 0000001 ", fullwidth, "Cg0000001", "CG0000001"]
    for typed in variants:
        refused(svc.login(typed, "wrong password 123"), Reason.BAD_CREDENTIALS)
    assert store(svc).get_throttle(attempt_key("CG0000001")).failures == 5
    refused(svc.login("CG0000001", member.initial_password), Reason.LOCKED)
    # Growing delays: free again after the base delay, then locked for longer.
    clock.advance(svc.settings.lockout.base_delay)
    refused(svc.login("cg0000001", "wrong password 123"), Reason.BAD_CREDENTIALS)
    clock.advance(svc.settings.lockout.base_delay)
    refused(svc.login("CG0000001", member.initial_password), Reason.LOCKED)
    clock.advance(svc.settings.lockout.base_delay)
    ok(svc.login("CG0000001", member.initial_password))
    assert store(svc).get_throttle(attempt_key("CG0000001")).failures == 0
    assert LockoutPolicy().hard_limit < 100
    with pytest.raises(ConfigurationError):
        LockoutPolicy(hard_limit=100)


def test_counting_stays_correct_under_concurrent_attempts() -> None:
    """"Counting must stay correct under concurrent attempts (Keycloak issue 31726)"."""
    policy = LockoutPolicy(free_attempts=60, hard_limit=90)
    svc = build(make_settings(lockout=policy))
    svc.staff.provision(NUMBER, "Marie Dupont")
    barrier = threading.Barrier(4)

    def attack() -> None:
        barrier.wait()
        for _ in range(10):
            svc.login(NUMBER, "wrong password 123")

    threads = [threading.Thread(target=attack) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store(svc).get_throttle(attempt_key(NUMBER)).failures == 40


def test_over_long_input_is_refused_before_any_hashing() -> None:
    """"Over-long input is refused before any hashing or parsing work"."""
    svc = build()
    member, session = at_password(svc)
    hasher = svc.env.crypto.hasher
    before = hasher.calls
    huge = "x" * 1_000_000
    refused(svc.login(NUMBER, huge), Reason.BAD_CREDENTIALS)
    refused(svc.login(huge, huge), Reason.BAD_CREDENTIALS)
    refused(svc.set_password(session, huge, huge), Reason.PASSWORD_TOO_LONG)
    assert not svc.open_link(huge).valid
    assert hasher.calls == before
    assert member.account_id


# --------------------------------------------------------------------------- workflow integrity


def test_no_step_can_be_skipped() -> None:
    """"No step can be skipped (ASVS 2.3.1). A password cannot be set before the email is
    verified or staff has activated the account. The journey cannot be finished without a
    password (and a secret answer, when that is enabled)"."""
    svc = build()
    member, session = at_email(svc)
    qid = next(iter(svc.settings.questions)).id
    refused(svc.set_password(session, GOOD_PASSWORD, GOOD_PASSWORD), Reason.INVALID_STEP)
    refused(svc.set_secret_answer(session, qid, "Quartz", "Quartz"), Reason.INVALID_STEP)
    ok(svc.submit_email(session, ADDRESS, ADDRESS))
    refused(svc.set_password(session, GOOD_PASSWORD, GOOD_PASSWORD), Reason.INVALID_STEP)
    refused(svc.staff.activate(member.account_id, staff_id="agent-7"), Reason.INVALID_STEP)
    session = session_of(svc.confirm_link(link_token(mails(svc)), session=session))
    refused(svc.set_secret_answer(session, qid, "Quartz", "Quartz"), Reason.INVALID_STEP)
    session = session_of(svc.set_password(session, GOOD_PASSWORD, GOOD_PASSWORD))
    screen = svc.resume(session)
    assert isinstance(screen, Screen) and screen.step is Step.QUESTION
    assert ok(svc.login(NUMBER, GOOD_PASSWORD)).step is Step.QUESTION


def test_two_concurrent_uses_of_one_link_produce_exactly_one_success() -> None:
    """"Each operation commits completely or not at all (ASVS 2.3.3). Two concurrent uses of
    one link produce exactly one success, with compare-and-set in storage (ASVS 2.3.4)"."""
    svc = build()
    _, _, token = at_link(svc)
    barrier = threading.Barrier(6)
    results: list[object] = []
    lock = threading.Lock()

    def click() -> None:
        barrier.wait()
        outcome = svc.confirm_link(token)
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=click) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wins = [r for r in results if isinstance(r, Ok)]
    assert len(wins) == 1
    assert all(isinstance(r, Refused) and r.reason is Reason.LINK_USED
               for r in results if r not in wins)


def test_the_password_changed_notice_carries_the_ip_the_time_and_a_contact_link() -> None:
    """"The notification that a password changed goes out after every change or reset. It
    carries the IP address (as in the guide), the time, a contact link"."""
    mail_settings = MailSettings(contact_url="https://www.cegema.example/contact")
    svc = build(make_settings(mail=mail_settings))
    _, session = at_password(svc)
    ok(svc.set_password(session, GOOD_PASSWORD, GOOD_PASSWORD, ip=IP))
    body = text_part(mails(svc).sent[-1])
    assert f"La demande a été faite depuis {IP}" in body
    assert "02/03/2026" in body and "10:39" in body  # the time, in Paris
    assert "https://www.cegema.example/contact" in body


def test_every_security_relevant_event_is_audited() -> None:
    """"Every security-relevant event is recorded in an audit log: actor, event, time, IP,
    outcome"."""
    svc = build()
    member, _ = at_question(svc)
    svc.login(NUMBER, "wrong password 123", ip=IP)
    svc.login("ZZ9999999", "wrong password 123", ip=IP)
    records = store(svc).audit_records(limit=1000)
    seen = {(r.action, r.outcome) for r in records}
    for expected in [("provisioned", "ok"), ("login", "ok"), ("email_submitted", "ok"),
                     ("email_verified", "ok"), ("password_set", "ok"),
                     ("login", "bad_credentials"), ("login", "unknown_account")]:
        assert expected in seen, expected
    for record in records:
        assert record.at is not None and record.actor
        if record.action != "provisioned":
            assert record.ip == IP, record
    mine = store(svc).audit_records(account_id=member.account_id, limit=1000)
    assert {r.action for r in mine} >= {"provisioned", "login", "password_set"}
    assert attrs.has(type(records[0]))
