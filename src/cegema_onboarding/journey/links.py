"""The life of a link: issued LIVE, then USED, SUPERSEDED by a newer one, REVOKED when
the address or the password changes, or past its lifetime.

Verification, reset and change-of-address links live in ``Account.links``; "ce n'était
pas moi" links live apart in ``Account.not_me_links`` because they must outlive the
changes they report. Every lookup compares against every stored hash in constant time.
"""

from __future__ import annotations

import hmac
from datetime import datetime, timedelta
from typing import Any

import attrs

from .. import normalize
from ..config import Settings
from ..model import Account, Link, LinkPurpose, LinkStatus, Stage
from ..tokens import code_digest, code_from_bytes, nonce_hash
from .inputs import Ctx
from .outcomes import Reason

_MAX_NOT_ME = 4


def inspect_link(
    account: Account, purpose: LinkPurpose, token_hash: str, now: datetime
) -> Reason | None:
    """What spending this link would say, without spending it (for GET requests).

    Returns ``None`` when the link is live and unexpired.
    """
    link = find_link(account, purpose, token_hash)
    if link is None:
        return Reason.LINK_INVALID
    if link.status is LinkStatus.USED:
        return Reason.LINK_USED
    if link.status is LinkStatus.SUPERSEDED:
        return Reason.LINK_SUPERSEDED
    if link.status is LinkStatus.REVOKED:
        return Reason.LINK_INVALID
    if now > link.expires_at:
        return Reason.LINK_EXPIRED
    return None


def live_link(account: Account, purpose: LinkPurpose) -> Link | None:
    """The newest link of ``purpose`` that can still be spent, expired or not."""
    for link in reversed(account.links):
        if link.purpose is purpose and link.status is LinkStatus.LIVE:
            return link
    return None


def find_link(account: Account, purpose: LinkPurpose, token_hash: str) -> Link | None:
    found = None
    if not isinstance(token_hash, str):
        return None
    # "Ce n'était pas moi" lives apart: it must outlive the changes it reports.
    candidates = account.links if purpose is not LinkPurpose.NOT_ME else account.not_me_links
    # Compare against every stored hash so the time taken does not depend on the match.
    for link in candidates:
        if hmac.compare_digest(link.nonce_hash.encode(), token_hash.encode()) and (
            link.purpose is purpose
        ):
            found = link
    return found


def link_lifetime(purpose: LinkPurpose, settings: Settings) -> timedelta:
    """How long a link of this purpose stays valid."""
    if purpose is LinkPurpose.RESET_PASSWORD:
        return settings.reset_link_lifetime
    if purpose is LinkPurpose.NOT_ME:
        return settings.not_me_link_lifetime
    return settings.link_lifetime


def cooling_down(link: Link, ctx: Ctx) -> bool:
    return ctx.now < link.issued_at + ctx.settings.resend_cooldown


def cooldown_params(link: Link, ctx: Ctx) -> tuple[tuple[str, int], ...]:
    """The refusal's ``wait_seconds``: the whole seconds left, rounded up, so that the
    screen says the actual wait ("45 secondes") and a member who waits that long is served.
    """
    left = (link.issued_at + ctx.settings.resend_cooldown - ctx.now).total_seconds()
    return (("wait_seconds", max(1, -int(-left // 1))),)


def issue_link(account: Account, purpose: LinkPurpose, address: str | None,
               ctx: Ctx, **changes: Any) -> tuple[Account, str, str]:
    """The account with a new live link (older ones of its purpose superseded), its token
    and code; ``changes`` are other fields set in the same copy of the account."""
    fresh = ctx.fresh()
    crypto = ctx.crypto
    token = crypto.signer.issue(account.account_id, purpose.value, fresh.nonce)
    code = code_from_bytes(fresh.code)
    link = Link(
        purpose=purpose,
        nonce_hash=nonce_hash(fresh.nonce),
        issued_at=ctx.now,
        expires_at=ctx.now + link_lifetime(purpose, ctx.settings),
        address=address,
        code_digest=code_digest(crypto.pepper, account.account_id, code),
    )
    links = _trim((*retired(account.links, purpose, LinkStatus.SUPERSEDED), link),
                  ctx.settings.link_history)
    return attrs.evolve(account, links=links, **changes), token, code


def _trim(links: tuple[Link, ...], keep: int) -> tuple[Link, ...]:
    # Equivalent as "<": with exactly ``keep`` links the code below drops none either.
    if len(links) <= keep:  # pragma: no mutate
        return links
    # Live links are never dropped; the oldest spent ones go first.
    spent = [lk for lk in links if lk.status is not LinkStatus.LIVE]
    drop = {id(lk) for lk in spent[: len(links) - keep]}
    return tuple(lk for lk in links if id(lk) not in drop)


def retired(links: tuple[Link, ...], purpose: LinkPurpose, status: LinkStatus
            ) -> tuple[Link, ...]:
    """``links`` with the live ones of ``purpose`` given ``status``."""
    return tuple(
        attrs.evolve(lk, status=status)
        if lk.purpose is purpose and lk.status is LinkStatus.LIVE else lk
        for lk in links
    )


def retire_links(account: Account, purpose: LinkPurpose, status: LinkStatus,
                 **changes: Any) -> Account:
    """The account with its live links of ``purpose`` retired, and ``changes``.

    One copy of the account for both: copying one costs more than most transitions' rules.
    """
    return attrs.evolve(account, links=retired(account.links, purpose, status), **changes)


def retire_all_links(account: Account, **changes: Any) -> Account:
    """The account with every live link revoked, and ``changes`` (one copy)."""
    links = tuple(
        attrs.evolve(lk, status=LinkStatus.REVOKED) if lk.status is LinkStatus.LIVE else lk
        for lk in account.links
    )
    return attrs.evolve(account, links=links, **changes)


def replace_link(account: Account, old: Link, new: Link) -> Account:
    return attrs.evolve(account, links=tuple(new if lk is old else lk for lk in account.links))


def recovery_address(account: Account) -> str | None:
    """The address recovery may write to: verified, and proven to be the member's.

    A reset link, the member number and a "ce n'était pas moi" recovery only ever go
    here. ``None`` when the member has no such address.
    """
    if account.email is None or account.email_verified_at is None or account.email_unproven:
        return None
    return account.email


def move_address(account: Account, address: str, ctx: Ctx, *, proven: bool,
                 spent: Link | None = None, stage: Stage | None = None) -> Account:
    """Make ``address`` the verified one: every change of address, by member or staff.

    Every live link or code sent to another address dies with the change (a reset link
    at the old address must not outlive it). "Ce n'était pas moi" links stay: they exist
    to report changes, and :func:`.recovery.confirm_not_me` knows which ones predate this one.
    ``spent`` (the link that proved the address) is marked used and ``stage`` set in the
    same copy: one copy of the account instead of three, on the journey's hot path.
    """
    key = normalize.email_key(address)
    changed = account.email is None or normalize.email_key(account.email) != key
    links = tuple(
        attrs.evolve(lk, status=LinkStatus.USED) if lk is spent
        else attrs.evolve(lk, status=LinkStatus.REVOKED)
        if lk.status is LinkStatus.LIVE
        and (lk.address is None or normalize.email_key(lk.address) != key) else lk
        for lk in account.links
    )
    # Re-confirming the same address keeps a proof already made.
    unproven = not proven and (changed or account.email_unproven)
    return attrs.evolve(
        account, links=links, email=address, email_verified_at=ctx.now, pending_email=None,
        email_unproven=unproven, stage=account.stage if stage is None else stage,
        email_changed_at=ctx.now if changed else account.email_changed_at)


def issue_not_me(account: Account, address: str, nonce: bytes,
                  ctx: Ctx) -> tuple[Account, str]:
    """A "this wasn't me" link to ``address``; it supersedes only the one sent there."""
    token = ctx.crypto.signer.issue(account.account_id, LinkPurpose.NOT_ME.value, nonce)
    link = Link(purpose=LinkPurpose.NOT_ME, nonce_hash=nonce_hash(nonce), issued_at=ctx.now,
                expires_at=ctx.now + ctx.settings.not_me_link_lifetime, address=address)
    key = normalize.email_key(address)
    kept = tuple(
        attrs.evolve(lk, status=LinkStatus.SUPERSEDED)
        if lk.status is LinkStatus.LIVE and lk.address is not None
        and normalize.email_key(lk.address) == key else lk
        for lk in account.not_me_links
    )
    # Bounded: live links to other addresses stay, the oldest spent ones go first.
    return attrs.evolve(account, not_me_links=_trim((*kept, link), _MAX_NOT_ME)), token


def retire_not_me(account: Account, status: LinkStatus) -> tuple[Link, ...]:
    return tuple(attrs.evolve(lk, status=status) if lk.status is LinkStatus.LIVE else lk
                 for lk in account.not_me_links)
