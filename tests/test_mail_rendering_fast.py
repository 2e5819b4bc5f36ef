"""The fast mail assembly builds exactly the bytes of the plain stdlib construction.

``mails._build`` assembles messages without the header registry's parse/refold round trips;
``mails._build_reference`` is the straightforward stdlib construction it must reproduce. Every
test here builds the same mail both ways and compares the bytes, the parsed-back message and
header access on the message object itself.
"""

from __future__ import annotations

import copy
import email
import email.contentmanager
import email.policy
import hashlib
import io
import pickle
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from email.generator import BytesGenerator
from email.headerregistry import Address
from email.message import EmailMessage
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cegema_onboarding import mails
from cegema_onboarding.errors import InvalidInput
from cegema_onboarding.mails import MailSettings

SENT_AT = datetime(2026, 3, 2, 8, 39, 12, tzinfo=UTC)
MSG_ID = "<0123456789abcdef0123456789abcdef@portail.example>"
LINK = "https://portail.example/premiere-connexion/valider?token=AbC.dEf-123_x&p_l_id=20146"
NOT_ME = "https://portail.example/securite/ce-n-etait-pas-moi?token=NotMe.42"
FULL = MailSettings(
    contact_url="https://www.cegema.com/web/guest/nous-contacter",
    legal_url="https://www.cegema.com/mentionslegales_mail.php",
)
BARE = MailSettings(
    brand="Mutuelle Éléphant", sender="Mutuelle Éléphant <noreply@mutuelle.example>"
)

Builder = Callable[..., EmailMessage]


@contextmanager
def reference_assembly() -> Iterator[None]:
    """Builders assemble their messages the plain stdlib way while this is active."""
    with mock.patch.object(mails, "_build", mails._build_reference):
        yield


def both(
    builder: Builder, mail_settings: MailSettings, **kwargs: Any
) -> tuple[EmailMessage, EmailMessage]:
    """(fast, reference) messages for the same call."""
    fast = builder(mail_settings, **kwargs)
    with reference_assembly():
        reference = builder(mail_settings, **kwargs)
    return fast, reference


def _envelope(lang: str) -> dict[str, Any]:
    return {
        "to": "zoe.lefevre@example.fr",
        "name": "Zoé Lefèvre",
        "sent_at": SENT_AT,
        "message_id": MSG_ID,
        "lang": lang,
    }


BUILDERS: dict[str, tuple[Builder, dict[str, Any]]] = {
    "validation": (
        mails.validation_mail,
        {
            "address": "zoe.lefevre@example.fr",
            "link_url": LINK,
            "code": "K7QM-4ZPX",
            "valid_hours": 24,
        },
    ),
    "password_changed": (
        mails.password_changed_mail,
        {"ip": "172.17.0.14", "changed_at": SENT_AT, "not_me_url": NOT_ME},
    ),
    "reset_link": (
        mails.reset_link_mail,
        {"link_url": LINK, "code": None, "valid_hours": 1},
    ),
    "identifier_reminder": (mails.identifier_reminder_mail, {"member_number": "0123456789"}),
    "email_change_notice": (
        mails.email_change_notice_mail,
        {"new_address_hint": "z***@e***.fr", "not_me_url": NOT_ME},
    ),
    "activation": (mails.activation_mail, {}),
}


def test_every_public_builder_is_covered() -> None:
    builders = {name for name in mails.__all__ if name.endswith("_mail")}
    assert builders == {fn.__name__ for fn, _ in BUILDERS.values()}


def test_the_fast_path_is_in_use_on_this_python() -> None:
    assert mails._fast_path_sound() is True


@pytest.mark.parametrize("lang", ["fr", "en"])
@pytest.mark.parametrize("kind", sorted(BUILDERS))
@pytest.mark.parametrize("mail_settings", [FULL, BARE], ids=["full", "bare"])
def test_fast_bytes_equal_reference_bytes(
    kind: str, lang: str, mail_settings: MailSettings
) -> None:
    builder, extra = BUILDERS[kind]
    kwargs = {**_envelope(lang), **extra}
    mails._fast_path_sound()
    # The standard mails must not quietly take the fallback: it would hide a lost speed-up.
    with mock.patch.object(mails, "_assemble_reference", side_effect=AssertionError("fallback")):
        fast = builder(mail_settings, **kwargs)
    with reference_assembly():
        reference = builder(mail_settings, **kwargs)
    assert fast.as_bytes() == reference.as_bytes()
    # Serialising twice, or as text, changes nothing either.
    assert fast.as_bytes() == reference.as_bytes()
    assert fast.as_string() == reference.as_string()


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_header_access_on_the_fast_message(kind: str) -> None:
    builder, extra = BUILDERS[kind]
    fast, reference = both(builder, FULL, **_envelope("fr"), **extra)
    assert fast["Subject"] == reference["Subject"]
    assert fast["To"].addresses == reference["To"].addresses
    assert fast["To"].addresses[0].display_name == "Zoé Lefèvre"
    assert fast["From"].addresses == reference["From"].addresses
    assert fast["Date"].datetime == reference["Date"].datetime == SENT_AT
    assert fast["Message-ID"] == reference["Message-ID"] == MSG_ID
    assert fast["Content-Language"] == "fr"
    assert fast.get_content_type() == "multipart/alternative"
    assert fast.get_boundary() == reference.get_boundary()
    assert [p.get_content_type() for p in fast.iter_parts()] == ["text/plain", "text/html"]
    assert [p.get("MIME-Version") for p in fast.iter_parts()] == [None, None]
    for kind_ in ("plain", "html"):
        fast_body = fast.get_body(preferencelist=(kind_,))
        reference_body = reference.get_body(preferencelist=(kind_,))
        assert fast_body is not None and reference_body is not None
        assert fast_body.get_content() == reference_body.get_content()
        assert fast_body["Content-Type"].params == {"charset": "utf-8"}
    assert list(fast.keys()) == list(reference.keys())
    assert [str(v) for v in fast.values()] == [str(v) for v in reference.values()]


def test_other_policies_and_generators_match_too() -> None:
    # smtplib flattens with a cloned policy; a caller may ask for another policy outright.
    builder, extra = BUILDERS["validation"]
    fast, reference = both(builder, FULL, **_envelope("fr"), **extra)
    for policy in (email.policy.default, email.policy.SMTP.clone(linesep="\r\n")):
        assert fast.as_bytes(policy=policy) == reference.as_bytes(policy=policy)
    outputs = []
    for msg in (fast, reference):
        buffer = io.BytesIO()
        BytesGenerator(buffer).flatten(msg, linesep="\r\n")
        outputs.append(buffer.getvalue())
    assert outputs[0] == outputs[1]


def test_fast_messages_copy_and_pickle_like_the_reference() -> None:
    builder, extra = BUILDERS["validation"]
    for name in ("Zoé Lefèvre", "Dupont, Zoé"):
        fast, reference = both(builder, FULL, **{**_envelope("fr"), **extra, "name": name})
        expected = reference.as_bytes()
        assert copy.copy(fast).as_bytes() == expected
        assert copy.deepcopy(fast).as_bytes() == expected
        unpickled = pickle.loads(pickle.dumps(fast))  # noqa: S301 (our own bytes)
        assert unpickled.as_bytes() == expected
        assert unpickled["To"].addresses == reference["To"].addresses


# --------------------------------------------------------------------------- fallbacks


@contextmanager
def spy_fast_path(results: list[EmailMessage | None]) -> Iterator[None]:
    """Records what the fast path returns (None: it handed over to the reference)."""
    original = mails._assemble_fast

    def spy(*args: Any, **kw: Any) -> EmailMessage | None:
        result = original(*args, **kw)
        results.append(result)
        return result

    with mock.patch.object(mails, "_assemble_fast", spy):
        yield


def test_values_the_folder_rewrites_still_match() -> None:
    # A Message-ID too long for a line, an accented name, a quoted one, a long one: header
    # objects folded by the stdlib rather than raw values, still on the fast path.
    for name, message_id in [
        ("Zoé Lefèvre", mails.make_message_id("x" * 150, "portail.example")),
        ("Dupont, Jean", MSG_ID),
        ("X" * 53 + "éé", MSG_ID),
    ]:
        kwargs = {**_envelope("fr"), "name": name, "message_id": message_id}
        fast_results: list[EmailMessage | None] = []
        with spy_fast_path(fast_results):
            fast = mails.activation_mail(FULL, **kwargs)
        assert len(fast_results) == 1 and fast_results[0] is not None
        with reference_assembly():
            reference = mails.activation_mail(FULL, **kwargs)
        assert fast.as_bytes() == reference.as_bytes()
        assert fast["To"].addresses == reference["To"].addresses
        assert fast["Message-ID"] == reference["Message-ID"]


def test_a_boundary_clash_falls_back_to_the_reference() -> None:
    # The deterministic boundary in the body: the reference then leaves the boundary to the
    # generator (random), which the fast path does not imitate.
    clash = "=_" + hashlib.sha256(MSG_ID.encode("ascii")).hexdigest()[:40]
    fast_results: list[EmailMessage | None] = []
    with spy_fast_path(fast_results):
        msg = mails.activation_mail(FULL, **{**_envelope("fr"), "name": clash})
    assert fast_results == [None]
    raw = msg.as_bytes()
    assert msg.get_boundary() != clash
    parsed = email.message_from_bytes(raw, policy=email.policy.SMTP)
    assert parsed["To"].addresses[0].display_name == clash


def test_a_differing_email_package_disables_the_fast_path() -> None:
    mails._fast_path_sound.cache_clear()
    try:
        with mock.patch.object(mails, "_encode_body", return_value=("7bit", "changed\n")):
            assert mails._fast_path_sound() is False
    finally:
        mails._fast_path_sound.cache_clear()
    assert mails._fast_path_sound() is True


# --------------------------------------------------------------------------- the pieces


def stdlib_encoding(body: str) -> tuple[str, str]:
    part = EmailMessage(policy=email.policy.SMTP)
    email.contentmanager.raw_data_manager.set_content(part, body, subtype="plain", charset="utf-8")
    # The stored payload, which the generator writes (get_payload() would decode 8bit text).
    payload = part._payload
    assert isinstance(payload, str)
    return str(part["Content-Transfer-Encoding"]), payload


@pytest.mark.parametrize(
    ("body", "cte"),
    [
        ("Short ASCII lines.\nAnother one.\n", "7bit"),
        ("", "7bit"),
        ("Des lignes courtes, accentuées.\n", "8bit"),
        ("Une ligne bien trop longue pour tenir, accentuée : é " * 3 + "\n", "quoted-printable"),
        ("ligne é ordinaire\n" * 11 + "x" * 100 + "\n", "quoted-printable"),
        ("日本語のテキスト" * 12 + "\n", "base64"),
        ("日本語のテキスト" * 12 + "\n" + "ascii\n" * 20, "base64"),
        ("x" * 79 + "\r\n" + "y\r" + "z", "quoted-printable"),
    ],
)
def test_body_encoding_matches_set_content(body: str, cte: str) -> None:
    assert mails._encode_body(body) == stdlib_encoding(body)
    assert mails._encode_body(body)[0] == cte


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=400))
def test_body_encoding_matches_set_content_on_any_text(body: str) -> None:
    assert mails._encode_body(body) == stdlib_encoding(body)


def stdlib_fold(name: str, value: str) -> str:
    folded: str = email.policy.SMTP.header_factory(name, value).fold(policy=email.policy.SMTP)
    return folded


@settings(max_examples=100)
@given(st.from_regex(mails._VERBATIM_TO, fullmatch=True))
def test_verbatim_recipients_are_what_the_folder_writes(value: str) -> None:
    if mails._verbatim("To", value, mails._VERBATIM_TO) is not None:
        assert mails._written("To", value) == stdlib_fold("To", value)


@settings(max_examples=100)
@given(st.from_regex(mails._VERBATIM_ID, fullmatch=True))
def test_verbatim_message_ids_are_what_the_folder_writes(value: str) -> None:
    if mails._verbatim("Message-ID", value, mails._VERBATIM_ID) is not None:
        assert mails._written("Message-ID", value) == stdlib_fold("Message-ID", value)


@settings(max_examples=200)
@given(st.datetimes(min_value=datetime(1000, 1, 1), timezones=st.just(UTC)))
def test_verbatim_dates_are_what_the_folder_writes(when: datetime) -> None:
    value = email.utils.format_datetime(when)
    assert mails._verbatim("Date", value, mails._VERBATIM_DATE) == value
    assert mails._written("Date", value) == stdlib_fold("Date", value)


WORD_CHARS = st.one_of(
    st.sampled_from("abcXYZ019'-_!*+/éèêàçÉØåßñÆœ"),
    st.characters(codec="utf-8", categories=("L", "M", "N", "P", "S", "Cf", "Zs")),
)
DISPLAY_NAMES = st.lists(st.text(WORD_CHARS, min_size=1, max_size=14), min_size=1, max_size=6).map(
    " ".join
)


@settings(max_examples=300)
@given(
    DISPLAY_NAMES, st.sampled_from(["zoe.lefevre@example.fr", "a@b.example", "x" * 40 + "@y.fr"])
)
def test_encoded_recipients_are_what_the_folder_writes(name: str, addr_spec: str) -> None:
    recipient = Address(display_name=name, addr_spec=addr_spec)
    raw = mails._encoded_recipient(recipient)
    if raw is not None:
        assert mails._written("To", raw) == stdlib_fold("To", str(recipient))
        parsed = email.policy.SMTP.header_fetch_parse("To", raw)
        assert parsed.addresses == (recipient,)


def test_common_accented_names_are_encoded_without_the_stdlib() -> None:
    for name in ["Zoé Lefèvre", "Jean Dupré Martin", "Łukasz Żółć", "Дмитрий Иванов", "山田 太郎"]:
        recipient = Address(display_name=name, addr_spec="zoe.lefevre@example.fr")
        raw = mails._encoded_recipient(recipient)
        assert raw is not None
        assert mails._written("To", raw) == stdlib_fold("To", str(recipient))
    # Quoted names, words that look encoded, lines too long: left to the stdlib.
    for name in ["Dupont, Zoé", "=?utf-8?q?x?= Zoé", "Zoé " + "é" * 40]:
        recipient = Address(display_name=name, addr_spec="zoe.lefevre@example.fr")
        assert mails._encoded_recipient(recipient) is None


def test_the_verbatim_forms_are_narrow() -> None:
    # Anything the folder could rewrite goes to a header object folded by the stdlib.
    for name, value, pattern in [
        ("To", '"Dupont, Jean" <a@b.fr>', mails._VERBATIM_TO),
        ("To", "=?utf-8?q?x?= <a@b.fr>", mails._VERBATIM_TO),
        ("To", "Zoé <a@b.fr>", mails._VERBATIM_TO),
        ("To", "x" * 80 + " <a@b.fr>", mails._VERBATIM_TO),
        ("Message-ID", "<" + "x" * 80 + "@b.fr>", mails._VERBATIM_ID),
        ("Date", "Sat, 01 Jan 0099 00:00:00 +0000", mails._VERBATIM_DATE),
    ]:
        assert mails._verbatim(name, value, pattern) is None
    assert mails._verbatim("To", "Zoe Lefevre <zoe@example.fr>", mails._VERBATIM_TO)


# --------------------------------------------------------------------------- properties

NAME_CHARS = st.characters(
    codec="utf-8",
    categories=("L", "M", "N", "P", "S", "Zs"),
)
NAMES = st.one_of(
    st.text(NAME_CHARS, max_size=40),
    st.sampled_from(
        [
            "",
            "Zoé Lefèvre",
            "O'Brien, Jr.",
            'Jean "Jeannot" Dupré',
            "Łukasz Żółć",
            "Дмитрий Иванов",
            "山田 太郎",
            "محمد علي",
            "=?utf-8?q?Zo=C3=A9?=",
            "a" * 70,
            "é" * 60,
            "Marie-Thérèse de la Tour d'Auvergne-Lauraguais " * 2,
        ]
    ),
    st.text(st.sampled_from("abcdé XYZ'-.,\"()"), min_size=55, max_size=80),
)
LOCALS = st.from_regex(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,20}(\.[A-Za-z0-9_-]{1,10}){0,2}", fullmatch=True
)
DOMAINS = st.one_of(
    st.from_regex(r"[a-z0-9]{1,12}(-[a-z0-9]{1,5})?\.(fr|com|example)", fullmatch=True),
    st.sampled_from(["exämple.fr", "mutuelle-santé.fr", "例え.jp"]),
)
ADDRESSES = st.builds(lambda local, domain: f"{local}@{domain}", LOCALS, DOMAINS)
BRANDS = st.one_of(
    st.sampled_from(["CEGEMA", "Mutuelle Éléphant", "Ωmega Santé", "健康保険"]),
    st.text(NAME_CHARS, min_size=1, max_size=64).filter(lambda s: s.strip()),
)
SENDERS = st.sampled_from(
    [
        "CEGEMA <ne-pas-repondre@example.invalid>",
        "Mutuelle Éléphant <noreply@mutuelle.example>",
        "noreply@mutuelle.example",
        '"Service, Adhérents" <adherents@mutuelle.example>',
    ]
)
ZONES = st.sampled_from(
    [UTC, timezone(timedelta(hours=1)), timezone(timedelta(hours=-9, minutes=-30))]
)
TIMES = st.datetimes(
    min_value=datetime(1980, 1, 1), max_value=datetime(2200, 1, 1), timezones=ZONES
)
MESSAGE_IDS = st.builds(
    mails.make_message_id,
    st.from_regex(r"[0-9a-f]{32}|[A-Za-z0-9.+=_-]{1,80}", fullmatch=True),
    st.sampled_from(["portail.example", "mail.mutuelle-sante.fr", "x"]),
)
IPS = st.one_of(
    st.none(),
    st.ip_addresses().map(str),
    st.text(max_size=40),
)
CODES = st.one_of(st.none(), st.text(NAME_CHARS, min_size=1, max_size=32))
URLS = st.sampled_from(
    [LINK, NOT_ME, "https://exämple.fr/a?b=c&d=é", "http://x.example/" + "a" * 120]
)


def _extras(draw: st.DrawFn, kind: str) -> dict[str, Any]:
    if kind == "validation":
        return {
            "address": draw(ADDRESSES),
            "link_url": draw(URLS),
            "code": draw(CODES),
            "valid_hours": draw(st.integers(1, 200)),
        }
    if kind == "password_changed":
        return {
            "ip": draw(IPS),
            "changed_at": draw(TIMES),
            "not_me_url": draw(st.one_of(st.none(), URLS)),
        }
    if kind == "reset_link":
        return {
            "link_url": draw(URLS),
            "code": draw(CODES),
            "valid_hours": draw(st.integers(1, 200)),
        }
    if kind == "identifier_reminder":
        return {"member_number": draw(st.text(NAME_CHARS, min_size=1, max_size=64))}
    if kind == "email_change_notice":
        return {"new_address_hint": draw(ADDRESSES), "not_me_url": draw(st.one_of(st.none(), URLS))}
    return {}


@st.composite
def mail_calls(draw: st.DrawFn) -> tuple[Builder, MailSettings, dict[str, Any]]:
    kind = draw(st.sampled_from(sorted(BUILDERS)))
    mail_settings = MailSettings(
        brand=draw(BRANDS),
        sender=draw(SENDERS),
        contact_url=draw(st.sampled_from(["", FULL.contact_url])),
        legal_url=draw(st.sampled_from(["", FULL.legal_url])),
        timezone=draw(st.sampled_from(["Europe/Paris", "UTC", "Asia/Tokyo"])),
    )
    kwargs = {
        "to": draw(ADDRESSES),
        "name": draw(NAMES),
        "sent_at": draw(TIMES),
        "message_id": draw(MESSAGE_IDS),
        "lang": draw(st.sampled_from(["fr", "en", "de"])),
        **_extras(draw, kind),
    }
    return BUILDERS[kind][0], mail_settings, kwargs


def _outcome(
    builder: Builder, mail_settings: MailSettings, kwargs: dict[str, Any]
) -> EmailMessage | tuple[str, str]:
    try:
        return builder(mail_settings, **kwargs)
    except InvalidInput as error:
        return error.field, error.reason


def _summary(msg: EmailMessage) -> tuple[list[tuple[str, str]], list[str]]:
    headers = [(k, str(v)) for k, v in msg.items()]
    # Parsed back from policy.SMTP bytes, the bodies keep their CRLF line ends.
    bodies = [str(part.get_content()).replace("\r\n", "\n") for part in msg.iter_parts()]
    return headers, bodies


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(mail_calls())
def test_fast_and_reference_agree_on_any_mail(
    call: tuple[Builder, MailSettings, dict[str, Any]],
) -> None:
    builder, mail_settings, kwargs = call
    fast = _outcome(builder, mail_settings, kwargs)
    with reference_assembly():
        reference = _outcome(builder, mail_settings, kwargs)
    if not isinstance(reference, EmailMessage):
        # Rejected input is rejected the same way, for the same field.
        assert fast == reference
        return
    assert isinstance(fast, EmailMessage)
    raw = fast.as_bytes()
    assert raw == reference.as_bytes()
    parsed = email.message_from_bytes(raw, policy=email.policy.SMTP)
    assert isinstance(parsed, EmailMessage)
    reparsed = email.message_from_bytes(reference.as_bytes(), policy=email.policy.SMTP)
    assert isinstance(reparsed, EmailMessage)
    assert _summary(parsed) == _summary(reparsed)
    # The message objects themselves: same headers and bodies, read through the header API.
    assert _summary(fast) == _summary(reference)
    assert fast["To"].addresses == reference["To"].addresses
    assert fast["Subject"] == reference["Subject"]
    fast_plain = fast.get_body(preferencelist=("plain",))
    reference_plain = reference.get_body(preferencelist=("plain",))
    assert fast_plain is not None and reference_plain is not None
    assert fast_plain.get_content() == reference_plain.get_content()
