"""The message ids of the member's screens: refusals, then each step of the journey.

Data only, in catalogue order: the first part of :data:`cegema_onboarding.texts.keys.KEYS`
(see that module for how ``scripts/i18n.py`` extracts the ``N_`` markers).
"""

from __future__ import annotations

from typing import Final

from .marker import N_

__all__ = ["SCREEN_KEYS"]

#: Refusals, then the screens' titles, paragraphs, labels, buttons and notices, step by step.
SCREEN_KEYS: Final[tuple[str, ...]] = (
    # --- Refusals -----------------------------------------------------------------------------
    # TRANSLATORS: Same words whether the identifier is unknown or the password is wrong: no
    # enumeration.
    N_("reason.bad_credentials"),
    # TRANSLATORS: Shown for unknown identifiers too (they are throttled alike), so it reveals
    # nothing.
    N_("reason.locked"),
    N_("reason.disabled"),
    N_("reason.initial_credentials_expired"),
    N_("reason.invalid_step"),
    N_("reason.input_invalid"),
    N_("reason.rate_limited"),
    N_("reason.session_expired"),
    N_("reason.email_invalid"),
    N_("reason.emails_differ"),
    # TRANSLATORS: Must not confirm that another member uses this address.
    N_("reason.email_in_use"),
    N_("reason.link_invalid"),
    # TRANSLATORS: No hour count here: the lifetime is configurable and the mail already stated
    # it.
    N_("reason.link_expired"),
    N_("reason.link_used"),
    N_("reason.link_superseded"),
    N_("reason.code_invalid"),
    N_("reason.code_attempts_exceeded"),
    N_("reason.passwords_differ"),
    N_("reason.password_empty"),
    N_("reason.password_too_short"),
    N_("reason.password_too_long"),
    N_("reason.password_common"),
    N_("reason.password_contains_member_number"),
    N_("reason.password_contains_email"),
    N_("reason.password_contains_name"),
    N_("reason.password_contains_site_name"),
    # TRANSLATORS: The password is long enough and on no list, but made of guessable parts
    # (words, names, keyboard rows, dates). Suggest a longer sentence of unrelated words.
    N_("reason.password_too_guessable"),
    N_("reason.password_same_as_initial"),
    N_("reason.answers_differ"),
    N_("reason.answer_empty"),
    N_("reason.answer_too_long"),
    N_("reason.answer_trivial"),
    N_("reason.answer_same_as_member_number"),
    N_("reason.answer_same_as_email"),
    N_("reason.answer_same_as_password"),
    N_("reason.question_unknown"),
    N_("reason.questions_disabled"),
    # TRANSLATORS: Worded so that it does not tell whether the account has an email or an answer.
    N_("reason.reset_not_available"),
    # TRANSLATORS: Only reached with a valid reset link in hand: the account is already known to
    # them.
    N_("reason.answer_wrong"),
    N_("reason.email_unchanged"),
    N_("reason.not_found_generic"),
    # --- Login --------------------------------------------------------------------------------
    N_("screen.login.title"),
    N_("screen.login.subtitle"),
    # TRANSLATORS: The guide adds "à saisir en MAJUSCULES": dropped, because input case is
    # normalised.
    N_("screen.login.hint"),
    N_("label.identifier"),
    N_("label.password"),
    N_("label.remember_me"),
    N_("button.login"),
    N_("button.forgotten_identifier"),
    N_("button.forgotten_password"),
    # --- First connection: email --------------------------------------------------------------
    N_("screen.email.title"),
    N_("screen.email.subtitle"),
    N_("screen.email.hint"),
    N_("label.email"),
    N_("label.email_confirm"),
    N_("button.validate"),
    N_("button.no_email"),
    N_("notice.no_email"),
    N_("button.confirm_no_email"),
    N_("notice.link_sent"),
    N_("notice.email_verified_login"),
    # --- Check your mailbox -------------------------------------------------------------------
    N_("screen.check_mailbox.title"),
    N_("screen.check_mailbox.body"),
    # TRANSLATORS: Closes the confirmation pop-up shown after "Valider" (step 4).
    N_("button.close"),
    N_("button.resend_link"),
    N_("button.change_address"),
    N_("button.enter_code"),
    N_("notice.link_resent"),
    # TRANSLATORS: A resend asked for before the cool-down is over; {duration} is the wait
    # left, rounded up ("45 secondes", "une minute").
    N_("notice.resend_wait"),
    # TRANSLATORS: Any rate-limited request (login, forgotten password...); {duration} is the
    # wait left, rounded up ("30 secondes", "une minute"), never "quelques minutes".
    N_("notice.rate_limited_wait"),
    N_("screen.code.title"),
    N_("screen.code.body"),
    N_("label.code"),
    # --- No email: awaiting activation by staff -----------------------------------------------
    N_("screen.awaiting_activation.title"),
    N_("screen.awaiting_activation.body"),
    # TRANSLATORS: On the waiting screen, how the member will be told that the account is active.
    N_("screen.awaiting_activation.channel.post"),
    N_("screen.awaiting_activation.channel.sms"),
    N_("screen.awaiting_activation.channel.phone"),
    N_("screen.awaiting_activation.channel.email"),
    N_("screen.activation_rejected.title"),
    N_("screen.activation_rejected.body"),
    # --- Link landing pages: a GET only shows this, the button (POST) spends the link ---------
    N_("screen.confirm_link.title"),
    N_("screen.confirm_link.body"),
    N_("button.confirm_link"),
    N_("screen.confirm_reset.title"),
    N_("screen.confirm_reset.body"),
    N_("button.confirm_reset"),
    # --- New password -------------------------------------------------------------------------
    N_("label.new_password"),
    N_("label.new_password_confirm"),
    N_("notice.password_rules"),
    N_("button.save"),
    # --- Secret question ----------------------------------------------------------------------
    N_("screen.question.title"),
    N_("screen.question.intro"),
    N_("label.question"),
    N_("label.answer"),
    N_("label.answer_confirm"),
    # --- Connected and profile ----------------------------------------------------------------
    N_("screen.connected.title"),
    N_("screen.connected.body"),
    N_("screen.connected.farewell"),
    N_("screen.profile.title"),
    N_("screen.profile.section"),
    N_("label.profile_completion"),
    N_("label.communication_preferences"),
    N_("label.channel.phone"),
    N_("label.channel.email"),
    N_("label.channel.sms"),
    N_("label.channel.post"),
    N_("label.pets"),
    N_("label.yes"),
    N_("label.no"),
    # TRANSLATORS: The third answer to "Avez-vous des animaux ?": clears an earlier yes or no.
    N_("label.not_said"),
    N_("label.interests"),
    N_("label.comments"),
    N_("label.adviser"),
    N_("label.adviser.agency_name"),
    N_("label.adviser.address"),
    N_("label.adviser.orias"),
    N_("label.adviser.more_info"),
    # --- Forgotten identifier and password: same answer whether an account matches ------------
    N_("screen.forgotten_identifier.title"),
    N_("screen.forgotten_identifier.intro"),
    N_("notice.forgotten_identifier_sent"),
    N_("screen.forgotten_password.title"),
    N_("screen.forgotten_password.intro"),
    N_("notice.forgotten_password_sent"),
    N_("notice.forgotten_password_no_email"),
    N_("screen.reset.title"),
    N_("label.reset_answer"),
    N_("notice.password_changed"),
    N_("notice.password_changed_mail_sent"),
    # --- "This wasn't me": GET shows this page, the button (POST) locks the account -----------
    N_("screen.not_me.title"),
    N_("screen.not_me.body"),
    N_("button.not_me"),
    N_("notice.password_reset_done"),
    N_("notice.email_change_sent"),
    N_("notice.email_changed"),
    N_("notice.profile_saved"),
    N_("notice.not_me_done"),
)
