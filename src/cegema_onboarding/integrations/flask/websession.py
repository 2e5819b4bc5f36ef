"""The extension's own signed session cookie and its CSRF synchronizer token.

The cookie is independent of the host's ``flask.session``: the extension controls its
flags (``Secure`` outside debug and testing, ``HttpOnly``, ``SameSite=Lax``, and the
``__Host-`` prefix whenever it is ``Secure``) without touching the host's configuration.
It holds only the account id, the account's session epoch (a password change raises the
epoch and so ends every other session), a CSRF token, a one-shot notice key and a refused
form's reasons and non-secret values until the page after its redirect shows them; it is
signed and timestamped with itsdangerous, and expires after an idle period.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from typing import Any

import attrs
from itsdangerous import BadData, Serializer, URLSafeTimedSerializer
from itsdangerous.encoding import base64_encode

from ...model import Session
from .._web import safe_next

_SALT = "cegema_onboarding.flask.session"
_MAX_COOKIE = 4096
# An unchanged cookie is signed again once it is this old (seconds), not on every request:
# the idle timeout slides by the minute, and never lasts longer than configured.
_RESIGN_AFTER = 60


@attrs.define
class WebState:
    """What one browser's cookie says, loaded once per request."""

    csrf: str = attrs.field(repr=False)
    account_id: str | None = None
    epoch: int = 0
    notice: str | None = None
    staff: bool = False
    #: Where to go once logged in and onboarded: a path checked by ``safe_next``.
    next_url: str | None = None
    #: A refused form, kept for the page its redirect shows (Post/Redirect/Get): see _prg.
    form: dict[str, Any] | None = None
    #: What the cookie held when it was read, and when it was signed (None for a new one).
    loaded: tuple[object, ...] | None = attrs.field(default=None, repr=False, eq=False)
    signed_at: float | None = attrs.field(default=None, repr=False, eq=False)

    def snapshot(self) -> tuple[object, ...]:
        """The fields the cookie stores, to tell whether a request changed them."""
        return (self.csrf, self.account_id, self.epoch, self.notice, self.staff,
                self.next_url, self.form)

    @property
    def session(self) -> Session | None:
        """The service session, when the browser is logged in."""
        if self.account_id is None:
            return None
        return Session(self.account_id, self.epoch)

    def log_in(self, session: Session) -> None:
        """Keep a session the service granted; a new CSRF token guards against fixation."""
        self.account_id = session.account_id
        self.epoch = session.epoch
        self.csrf = new_csrf_token()

    def log_out(self) -> None:
        """Forget the member (and staff rights); a fresh CSRF token for the next form."""
        self.account_id = None
        self.epoch = 0
        self.staff = False
        self.next_url = None
        self.csrf = new_csrf_token()

    def flash(self, notice: str | None) -> None:
        """Keep a notice key for the next page shown."""
        self.notice = notice

    def pop_notice(self) -> str | None:
        """The pending notice key, removed."""
        notice, self.notice = self.notice, None
        return notice

    def csrf_ok(self, submitted: object) -> bool:
        """Whether a submitted token is this session's, compared in constant time."""
        if not isinstance(submitted, str) or not submitted or len(submitted) > 128:
            return False
        return hmac.compare_digest(submitted.encode(), self.csrf.encode())


def new_csrf_token() -> str:
    """A fresh 256-bit synchronizer token."""
    return secrets.token_urlsafe(32)


class _CookieSerializer(URLSafeTimedSerializer):
    """itsdangerous' URL-safe timed serializer, minus the compression attempt on dump."""

    def dump_payload(self, obj: Any) -> bytes:
        # A few dozen bytes of random tokens never get shorter, so itsdangerous would keep
        # them as they are anyway; skipping the attempt spares setting up a deflate stream
        # on every response. Loading still accepts a compressed payload.
        return base64_encode(Serializer.dump_payload(self, obj))


class CookieCodec:
    """Signs and reads the session cookie. Anything malformed or expired is a new session."""

    def __init__(self, key: str | bytes, max_age: int) -> None:
        raw = key.encode() if isinstance(key, str) else key
        # itsdangerous derives the signing key from the secret and the salt on every sign
        # and check ("django-concat": sha256(salt + "signer" + secret)). Deriving it once
        # here and signing with it as is gives the very same signatures.
        derived = hashlib.sha256(_SALT.encode() + b"signer" + raw).digest()
        self._serializer = _CookieSerializer(
            derived, salt=_SALT,
            signer_kwargs={"digest_method": hashlib.sha256, "key_derivation": "none"})
        self.max_age = max_age

    def __repr__(self) -> str:
        return "CookieCodec(key=<hidden>)"

    def load(self, raw: str | None) -> WebState:
        """The state in a cookie value, or a fresh anonymous one."""
        if not raw or len(raw) > _MAX_COOKIE:
            return WebState(csrf=new_csrf_token())
        data: Any
        try:
            data, signed = self._serializer.loads(raw, max_age=self.max_age,
                                                  return_timestamp=True)
        except (BadData, ValueError, TypeError, UnicodeError):
            return WebState(csrf=new_csrf_token())
        if not isinstance(data, dict):
            return WebState(csrf=new_csrf_token())
        csrf = data.get("c")
        account_id = data.get("a")
        epoch = data.get("e", 0)
        notice = data.get("n")
        nxt = data.get("x")
        if not isinstance(csrf, str) or not 20 <= len(csrf) <= 128:
            return WebState(csrf=new_csrf_token())
        state = WebState(
            csrf=csrf,
            account_id=account_id if isinstance(account_id, str) else None,
            epoch=epoch if isinstance(epoch, int) and not isinstance(epoch, bool) else 0,
            notice=notice if isinstance(notice, str) and len(notice) <= 80 else None,
            staff=data.get("s") is True,
            next_url=safe_next(nxt) if isinstance(nxt, str) else None,
            form=form if isinstance(form := data.get("f"), dict) else None,
        )
        state.loaded = state.snapshot()
        state.signed_at = signed.timestamp()
        return state

    def needs_dump(self, state: WebState) -> bool:
        """Whether the response must carry the cookie again: new, changed, or a minute old."""
        if state.loaded is None or state.signed_at is None or state.loaded != state.snapshot():
            return True
        return time.time() - state.signed_at >= min(_RESIGN_AFTER, self.max_age / 10)

    def dump(self, state: WebState) -> str:
        """The signed cookie value of a state."""
        data: dict[str, object] = {"c": state.csrf}
        if state.account_id is not None:
            data["a"] = state.account_id
            data["e"] = state.epoch
        if state.notice is not None:
            data["n"] = state.notice
        if state.staff:
            data["s"] = True
        if state.next_url is not None:
            data["x"] = state.next_url
        if state.form is not None:
            data["f"] = state.form
        value = self._serializer.dumps(data)
        assert isinstance(value, str)
        return value
