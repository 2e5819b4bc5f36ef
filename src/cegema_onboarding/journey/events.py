"""The events a member, staff or the host can apply to an account, and their union
:data:`Event`. Each is a plain frozen value; secrets are kept out of ``repr``.
"""

from __future__ import annotations

import attrs

from ..model import Adviser, Channel


@attrs.frozen
class Login:
    """The member typed their member number (already resolved) and a password.

    ``remember`` is "Se souvenir de moi": an active member then gets a remember-me token.
    """

    password: str = attrs.field(repr=False)
    remember: bool = False


@attrs.frozen
class SubmitEmail:
    """PREMIÈRE CONNEXION: the address and its confirmation."""

    email: str
    confirmation: str


@attrs.frozen
class DeclareNoEmail:
    """"Vous n'avez pas d'adresse email ?": ask staff to activate the account."""


@attrs.frozen
class ResendLink:
    """Send the validation link again to the pending address."""


@attrs.frozen
class ChangeEmail:
    """Go back to the email step to type another address."""


@attrs.frozen
class ConfirmLink:
    """The member confirmed an opened validation link (POST, never GET).

    ``same_session`` is true when the request carries the live session of the account the
    link belongs to. Only then does confirming open the password step at once: a link
    confirmed elsewhere (perhaps by whoever reads a mistyped address) verifies the address
    and nothing more, and the member goes on by logging in with the initial credentials.
    """

    nonce_hash: str = attrs.field(repr=False)
    same_session: bool = False


@attrs.frozen
class SubmitCode:
    """The short code from the validation mail, typed instead of clicking the link."""

    code: str = attrs.field(repr=False)


@attrs.frozen
class SetPassword:
    """"Choisissez votre nouveau mot de passe" and its confirmation."""

    password: str = attrs.field(repr=False)
    confirmation: str = attrs.field(repr=False)


@attrs.frozen
class SetSecretAnswer:
    """The secret question chosen from the catalogue, the answer and its confirmation."""

    question_id: str
    answer: str = attrs.field(repr=False)
    confirmation: str = attrs.field(repr=False)


@attrs.frozen
class StaffActivate:
    """Staff activate a member who has no email address."""

    staff_id: str


@attrs.frozen
class StaffReject:
    """Staff turn down a no-email activation request, with a reason for the member."""

    staff_id: str
    reason: str


@attrs.frozen
class RememberLogin:
    """A remembered browser came back with its token (already parsed and hashed)."""

    series_id: str
    secret_hash: str = attrs.field(repr=False)


@attrs.frozen
class RevokeRemember:
    """Forget one remembered device, or all of them when ``series_id`` is None."""

    series_id: str | None = None


@attrs.frozen
class RequestReset:
    """"Mot de passe oublié ?": send a reset link to the verified address."""


@attrs.frozen
class CompleteReset:
    """The member confirmed an opened reset link (POST) with the answer and a new password."""

    nonce_hash: str = attrs.field(repr=False)
    answer: str | None = attrs.field(repr=False)
    password: str = attrs.field(repr=False)
    confirmation: str = attrs.field(repr=False)


@attrs.frozen
class StaffAssistedReset:
    """Staff confirmed the member's identity; the member answers and picks a new password."""

    staff_id: str
    answer: str = attrs.field(repr=False)
    password: str = attrs.field(repr=False)
    confirmation: str = attrs.field(repr=False)


@attrs.frozen
class ChangePassword:
    """A logged-in member changes their password, re-typing the current one."""

    current: str = attrs.field(repr=False)
    password: str = attrs.field(repr=False)
    confirmation: str = attrs.field(repr=False)


@attrs.frozen
class RemindIdentifier:
    """"Identifiant oublié ?": mail the member number to this account's verified address."""


@attrs.frozen
class RequestEmailChange:
    """Change the address after onboarding: re-authenticate, then confirm by link."""

    password: str = attrs.field(repr=False)
    email: str
    confirmation: str


@attrs.frozen
class ConfirmEmailChange:
    """The member confirmed the link sent to the new address (POST).

    ``same_session`` as for :class:`ConfirmLink`: confirmed elsewhere, the new address is
    verified but is no recovery channel until the member next logs in.
    """

    nonce_hash: str = attrs.field(repr=False)
    same_session: bool = False


@attrs.frozen
class ConfirmNotMe:
    """"Ce n'était pas moi" (POST): lock the account, end every session, start recovery."""

    nonce_hash: str = attrs.field(repr=False)


@attrs.frozen
class UpdateProfile:
    """"Mon profil et mes informations": the whole editable part, as the form sends it."""

    channels: tuple[Channel, ...] = ()
    pets: bool | None = None
    interests: tuple[str, ...] = ()
    comments: str = ""
    source: str = "web"


@attrs.frozen
class SetAdviser:
    """The host records the member's adviser or agency (host data); None clears it."""

    adviser: Adviser | None


@attrs.frozen
class StaffUnlock:
    """Staff lift a lock (the failure counter is cleared by the service)."""

    staff_id: str


@attrs.frozen
class StaffDisable:
    """Staff disable the account: every session and remembered device ends."""

    staff_id: str


@attrs.frozen
class StaffEnable:
    """Staff enable a disabled account again."""

    staff_id: str


@attrs.frozen
class StaffReissue:
    """Staff issue new initial credentials; the old ones, every link and session die."""

    staff_id: str


@attrs.frozen
class StaffVerifyEmail:
    """Staff mark an address as verified (the pending one when ``email`` is None)."""

    staff_id: str
    email: str | None = None


Event = (
    Login
    | SubmitEmail
    | DeclareNoEmail
    | ResendLink
    | ChangeEmail
    | ConfirmLink
    | SubmitCode
    | SetPassword
    | SetSecretAnswer
    | StaffActivate
    | StaffReject
    | RememberLogin
    | RevokeRemember
    | RequestReset
    | CompleteReset
    | StaffAssistedReset
    | ChangePassword
    | RemindIdentifier
    | RequestEmailChange
    | ConfirmEmailChange
    | ConfirmNotMe
    | UpdateProfile
    | SetAdviser
    | StaffUnlock
    | StaffDisable
    | StaffEnable
    | StaffReissue
    | StaffVerifyEmail
)
