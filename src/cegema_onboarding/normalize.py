"""Input checks and normalisation for everything a member types.

Every function here is pure. Each one first checks the type and the raw length of its input,
before any Unicode work, so that a huge string costs nothing (SECURITY.md: "over-long input is
refused before any hashing or parsing work"). Errors are :class:`~cegema_onboarding.errors.
InvalidInput` carrying the field name and a short reason, never the value, because the value may
be a secret.

Reasons used: ``"type"``, ``"too_long"``, ``"control_char"``, ``"encoding"`` (lone surrogates,
which cannot be encoded as UTF-8), ``"empty"`` and ``"malformed"``.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

import idna
from email_validator import EmailNotValidError, validate_email

from cegema_onboarding.credentials import ALPHABET
from cegema_onboarding.errors import InvalidInput

__all__ = [
    "MAX_ANSWER",
    "MAX_CODE",
    "MAX_EMAIL",
    "MAX_INITIAL_PASSWORD",
    "MAX_MEMBER_NUMBER",
    "MAX_NAME",
    "MAX_PASSWORD",
    "MAX_TOKEN",
    "ascii_domain",
    "ascii_email",
    "check_text",
    "email_key",
    "fold_for_comparison",
    "normalize_answer",
    "normalize_email",
    "normalize_initial_password",
    "normalize_member_number",
    "normalize_name",
    "normalize_password",
]

MAX_MEMBER_NUMBER: Final = 64
MAX_PASSWORD: Final = 1024
MAX_EMAIL: Final = 254
MAX_ANSWER: Final = 256
MAX_TOKEN: Final = 512
MAX_CODE: Final = 32
MAX_NAME: Final = 200
# RFC 1035: a domain name on the wire. Checked before IDNA, whose work grows with the length.
_MAX_DOMAIN: Final = 253
# Printed as 19 characters with dashes; room for stray spaces, but nothing more.
MAX_INITIAL_PASSWORD: Final = 64

# Category Cc is exactly C0, DEL and C1; none of them belongs in anything a person types.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_CONTROL_BUT_NEWLINE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")
# Lone surrogates can sneak in through surrogateescape decoding and would crash UTF-8 encoding
# later, deep inside hashing; refuse them at the door instead.
_SURROGATE = re.compile("[\ud800-\udfff]")
_MEMBER_NUMBER = re.compile(r"[A-Za-z0-9./-]+")

# Dash look-alikes that NFKC leaves alone but keyboards' autocorrect likes to produce.
_DASHES: Final = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"
# Crockford base32 decoding rules: what a person may read or type in place of a real symbol.
_LOOKALIKES: Final = str.maketrans({"O": "0", "I": "1", "L": "1", "U": "V"})
_ALPHABET_SET: Final = frozenset(ALPHABET)


def check_text(value: object, field: str, max_len: int, *, allow_blank: bool = False,
               allow_newlines: bool = False) -> str:
    """Check that ``value`` is a short, printable, non-empty str and return it unchanged.

    ``allow_newlines`` lets line feeds through, for multi-line text such as a postal address.
    """
    if not isinstance(value, str):
        raise InvalidInput(field, "type")
    # Length first: everything after this line is linear in len(value), so bound it now.
    if len(value) > max_len:
        raise InvalidInput(field, "too_long")
    if (_CONTROL_BUT_NEWLINE if allow_newlines else _CONTROL).search(value):
        raise InvalidInput(field, "control_char")
    if _SURROGATE.search(value):
        raise InvalidInput(field, "encoding")
    if value == "" or (not allow_blank and _is_blank(value)):
        raise InvalidInput(field, "empty")
    return value


def _is_blank(value: str) -> bool:
    # Invisible format characters (U+200B, U+200D, U+2060, bidi marks...) show nothing,
    # so text made only of them and whitespace is as empty as "".
    return all(c.isspace() or unicodedata.category(c) == "Cf" for c in value)


def _nfkc(value: str, field: str, max_len: int) -> str:
    # NFKC can expand a single code point up to 18 times (U+FDFA), so measure again.
    out = unicodedata.normalize("NFKC", value)
    if len(out) > max_len:
        raise InvalidInput(field, "too_long")
    return out


def _strip_marks(value: str) -> str:
    decomposed = unicodedata.normalize("NFD", value)
    kept = "".join(c for c in decomposed if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", kept)


def normalize_member_number(raw: str) -> str:
    """Return the canonical member number: NFKC, no whitespace, upper case."""
    field = "member_number"
    check_text(raw, field, MAX_MEMBER_NUMBER)
    value = "".join(_nfkc(raw, field, MAX_MEMBER_NUMBER).split())
    if not value:
        raise InvalidInput(field, "empty")
    # Match before upper-casing: str.upper() maps some non-ASCII letters to ASCII ones
    # ("ß" -> "SS", dotless "ı" -> "I"), which would let distinct inputs collide.
    if not _MEMBER_NUMBER.fullmatch(value):
        raise InvalidInput(field, "malformed")
    return value.upper()


def _crockford(raw: str, field: str, max_len: int) -> str:
    value = _nfkc(raw, field, max_len)
    value = "".join(value.split())
    value = "".join(c for c in value if c not in _DASHES)
    if not value:
        raise InvalidInput(field, "empty")
    if not value.isascii():
        raise InvalidInput(field, "malformed")
    value = value.upper().translate(_LOOKALIKES)
    if not set(value) <= _ALPHABET_SET:
        raise InvalidInput(field, "malformed")
    return value


def normalize_initial_password(raw: str) -> str:
    """Return a typed initial password in canonical form (Crockford base32, look-alikes mapped)."""
    field = "initial_password"
    check_text(raw, field, MAX_INITIAL_PASSWORD)
    return _crockford(raw, field, MAX_INITIAL_PASSWORD)


def normalize_email(raw: str, *, check_deliverability: bool = False) -> str:
    """Validate an email address and return email-validator's normalised form.

    This is the form stored and shown: the domain in Unicode (IDNA 2008 U-labels, UTS #46
    mapped), readable by the member. Mail goes to :func:`ascii_email` of it, the A-label
    form email-validator computes as ``ascii_email``; the two are in one-to-one
    correspondence, so storing either names the same mailbox.
    """
    field = "email"
    check_text(raw, field, MAX_EMAIL)
    # Fullwidth forms from an IME ("ａ＠ｂ.fr") are the same address to the member.
    value = _nfkc(raw.strip(), field, MAX_EMAIL)
    if _nfkc_disagrees_with_idna(raw.strip()):
        raise InvalidInput(field, "malformed")
    normalized: str | None
    try:
        # SMTPUTF8 local parts are refused: the mail adapters send with plain SMTP, and an
        # address we could not write to must be refused here, not fail later in a mail.
        normalized = validate_email(value, check_deliverability=check_deliverability,
                                    allow_smtputf8=False).normalized
    except EmailNotValidError:
        normalized = None
    # Raised outside the except block so that the library's message, which quotes the
    # address, is not even kept as __context__.
    if normalized is None:
        raise InvalidInput(field, "malformed")
    return normalized


def _nfkc_disagrees_with_idna(value: str) -> bool:
    # NFKC (what we store) then UTS #46 (what IDNA applies) and UTS #46 alone (what every
    # mail library applies to the typed text) agree on almost every character; where not,
    # the one address names two domains ("𝛓" is "ς" to NFKC, "σ" to UTS #46: ßς.de and
    # ßσ.de have other owners), so the typed text is refused rather than guessed.
    for char in value:
        if char.isascii():
            continue
        try:
            direct = idna.uts46_remap(char, std3_rules=False, transitional=False)
            after_nfkc = idna.uts46_remap(unicodedata.normalize("NFKC", char),
                                          std3_rules=False, transitional=False)
        except (idna.IDNAError, UnicodeError, ValueError):
            continue  # refused by IDNA: the validation below refuses it too
        if after_nfkc != direct:
            return True
    return False


def email_key(normalized: str) -> str:
    """Return the lookup and uniqueness key of an already normalised address.

    The local part is casefolded; the domain keeps its IDNA 2008 form (UTS #46 mapping, which
    already folds case). casefold() would turn "straße.de" into "strasse.de" and a final
    sigma into a medial one: other domains, with other owners, whose members must never
    share a key (a forgotten-identifier lookup would find the wrong accounts). Two
    normalised addresses get one key exactly when mail to them goes to one ASCII address,
    up to the case of the local part.
    """
    local, at, domain = normalized.rpartition("@")
    if not at:
        return normalized.casefold()
    return f"{local.casefold()}@{_domain_key(domain)}"


def _domain_key(domain: str) -> str:
    if domain.isascii():
        return domain.lower()
    try:
        # The identity on what normalize_email returns; a text it never returns is left as
        # it is rather than raising inside a storage adapter.
        return idna.uts46_remap(domain, std3_rules=False, transitional=False)
    except (idna.IDNAError, UnicodeError, ValueError):
        return domain


def ascii_domain(domain: str, *, field: str = "email") -> str:
    """Return the domain as mail carries it: email-validator's ``ascii_domain``.

    That is IDNA 2008 with UTS #46 non-transitional mapping, as normalize_email validated
    it. Never Python's "idna" codec (also behind Django's ``sanitize_address``): it is
    IDNA 2003, which writes "straße.de" as "strasse.de", reads a final sigma as a medial
    one and drops ZWJ/ZWNJ, each time naming another domain with another owner. An
    all-ASCII domain is only lower-cased, as email-validator does. Raises InvalidInput
    (``field``, "malformed") for a domain IDNA 2008 refuses.
    """
    if not isinstance(domain, str) or len(domain) > _MAX_DOMAIN:
        raise InvalidInput(field, "malformed")
    if domain.isascii():
        wire = domain.lower()
    else:
        # Invisible characters (ZWJ, ZWNJ, soft hyphen, spaces, controls) are refused as
        # email-validator refuses them: mapping them away would name a look-alike domain.
        if any(unicodedata.category(c)[0] not in "LMNPS" for c in domain):
            raise InvalidInput(field, "malformed")
        try:
            mapped = idna.uts46_remap(domain, std3_rules=False, transitional=False)
            # email-validator's own steps: UTS #46 mapping, then each label to its A-label.
            wire = ".".join(label if label.isascii() else idna.alabel(label).decode("ascii")
                            for label in mapped.split("."))
        except (idna.IDNAError, UnicodeError, ValueError):
            wire = ""
    # What the "idna" codec refused too: an empty label ("a..b"), one over 63 octets.
    if not wire or len(wire) > _MAX_DOMAIN or any(not 0 < len(label) < 64
                                                  for label in wire.split(".")):
        raise InvalidInput(field, "malformed")
    return wire


def ascii_email(address: str, *, field: str = "email") -> str:
    """Return ``local@ascii_domain``: the address as the SMTP envelope and To header carry it.

    The local part is kept as it is (normalize_email only accepts ASCII ones).
    """
    if not isinstance(address, str):
        raise InvalidInput(field, "type")
    local, at, domain = address.rpartition("@")
    if not at or not local:
        raise InvalidInput(field, "malformed")
    return f"{local}@{ascii_domain(domain, field=field)}"


def normalize_password(raw: str, *, max_len: int = MAX_PASSWORD) -> str:
    """Return the NFKC form of a member-chosen password; whitespace is kept, nothing truncated."""
    field = "password"
    check_text(raw, field, max_len, allow_blank=True)
    return _nfkc(raw, field, max_len)


def _fold_answer(raw: str) -> str:
    value = _nfkc(raw, "answer", MAX_ANSWER)
    value = _strip_marks(value.casefold())
    # Format characters are invisible: "\u202e1234" must compare equal to "1234".
    value = "".join(c for c in value if unicodedata.category(c) != "Cf")
    # All punctuation (apostrophes, dashes, "?", "." ...) becomes a space, so "O'Brien",
    # "o brien" and "O-Brien ?" all compare equal, and "St.Louis" equals "St. Louis".
    value = "".join(" " if unicodedata.category(c).startswith("P") else c for c in value)
    return " ".join(value.split())


def normalize_answer(raw: str) -> str:
    """Return the comparison form of a secret answer: casefolded, no accents or punctuation."""
    check_text(raw, "answer", MAX_ANSWER)
    value = _fold_answer(raw)
    if not value:
        raise InvalidInput("answer", "empty")
    return value


def normalize_name(raw: str) -> str:
    """Return a display name with NFKC applied and runs of whitespace collapsed."""
    field = "name"
    check_text(raw, field, MAX_NAME)
    return " ".join(_nfkc(raw, field, MAX_NAME).split())


def fold_for_comparison(value: str) -> str:
    """Return ``value`` NFKC-normalised, casefolded and without accents, for containment checks."""
    return _strip_marks(unicodedata.normalize("NFKC", value).casefold())
