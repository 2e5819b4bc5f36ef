"""The message ids: every key a member may see, in catalogue order, marked for extraction.

This is the one file ``scripts/i18n.py`` extracts the template from (see ``babel.cfg``):
each ``N_("...")`` call below becomes a message id of ``locale/cegema_onboarding.pot``, and a
``TRANSLATORS:`` comment just above it becomes a note in every language's catalogue. It
holds data only, so that the lookups in :mod:`cegema_onboarding.texts` stay short enough to
read, and so that adding a key touches nothing but this file and the ``.po`` files.

Key prefixes: ``reason.*`` (why something was refused, one per refusal value), ``screen.*``
(titles and paragraphs of each screen), ``label.*`` (field labels), ``button.*`` (buttons and
action links), ``notice.*`` (confirmations and banners), ``mail.*`` (mail subjects and
bodies), ``offline.*`` (notices sent by post, SMS or phone to members with no email),
``unit.*`` (quantities with their unit), ``ui.*`` (the page furniture of the web
integrations: navigation, form errors, footer) and ``demo.*`` (the narration of the
terminal demo, ``cegema-onboarding demo``).
"""

from __future__ import annotations

from typing import Final

__all__ = ["KEYS", "N_", "REASONS"]


def N_(key: str) -> str:
    """Mark ``key`` for ``pybabel extract -k N_`` and return it unchanged."""
    return key


# The refusal values the flow may name; each has a ``reason.<value>`` text.
REASONS: Final = (
    "bad_credentials",
    "locked",
    "disabled",
    "initial_credentials_expired",
    "invalid_step",
    "input_invalid",
    "rate_limited",
    "session_expired",
    "email_invalid",
    "emails_differ",
    "email_in_use",
    "link_invalid",
    "link_expired",
    "link_used",
    "link_superseded",
    "code_invalid",
    "code_attempts_exceeded",
    "passwords_differ",
    "password_empty",
    "password_too_short",
    "password_too_long",
    "password_common",
    "password_contains_member_number",
    "password_contains_email",
    "password_contains_name",
    "password_contains_site_name",
    "password_too_guessable",
    "password_same_as_initial",
    "answers_differ",
    "answer_empty",
    "answer_too_long",
    "answer_trivial",
    "answer_same_as_member_number",
    "answer_same_as_email",
    "answer_same_as_password",
    "question_unknown",
    "questions_disabled",
    "reset_not_available",
    "not_found_generic",
    "answer_wrong",
    "email_unchanged",
)

#: Every key, in catalogue order. ``pybabel extract -k N_`` builds the template from this
#: tuple; ``TRANSLATORS:`` comments become notes in every language's catalogue.
KEYS: Final[tuple[str, ...]] = (
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
    # --- Mails --------------------------------------------------------------------------------
    N_("mail.greeting"),
    N_("mail.greeting_no_name"),
    N_("mail.footer.auto"),
    N_("mail.footer.legal_intro"),
    N_("mail.footer.legal_label"),
    N_("mail.footer.legal_copy"),
    N_("mail.copy_link"),
    N_("mail.code_hint"),
    N_("mail.code"),
    # TRANSLATORS: {duration} is a duration such as "24 heures" or "une heure" (French "que"
    # becomes "qu'" before a vowel by itself). This one is for hosts that name no site.
    N_("mail.validity"),
    # TRANSLATORS: As mail.validity, ending with the site's address ({site}, such as
    # www.cegema.com). No full stop after it, as in the guide: a stop glued to an address
    # gets copied into the address bar.
    N_("mail.validity_site"),
    N_("mail.contact_if_not_you"),
    N_("mail.contact_if_not_you_no_link"),
    N_("mail.validation.subject"),
    N_("mail.validation.intro"),
    N_("mail.validation.link_intro"),
    N_("mail.password_changed.subject"),
    N_("mail.password_changed.intro"),
    N_("mail.password_changed.when"),
    N_("mail.password_changed.ip"),
    N_("mail.password_changed.unknown_ip"),
    N_("mail.not_me.intro"),
    N_("mail.not_me.label"),
    N_("mail.reset.subject"),
    N_("mail.reset.intro"),
    N_("mail.reset.link_intro"),
    N_("mail.reset.ignore"),
    N_("mail.identifier.subject"),
    N_("mail.identifier.intro"),
    N_("mail.identifier.value"),
    N_("mail.identifier.ignore"),
    N_("mail.email_change.subject"),
    N_("mail.email_change.intro"),
    N_("mail.email_change.old_address"),
    N_("mail.activation.subject"),
    N_("mail.activation.intro"),
    N_("mail.activation.next"),
    N_("mail.remember_theft.subject"),
    N_("mail.remember_theft.intro"),
    N_("mail.remember_theft.advice"),
    # --- Notices by post, SMS or phone, for members with no email address ---------------------
    # TRANSLATORS: Filled in with name, brand and detail (the staff's reason, for a rejection).
    N_("offline.validation"),
    N_("offline.password_changed"),
    N_("offline.activated"),
    N_("offline.activation_rejected"),
    N_("offline.reset"),
    N_("offline.identifier"),
    N_("offline.email_change"),
    N_("offline.email_change_notice"),
    N_("offline.remember_theft"),
    # --- Units: texts.duration picks .one for a count of 1, .other otherwise ----------------
    # TRANSLATORS: One unit, in words ("une heure", not "1 heure"). French "que" before it is
    # elided by the code ("qu'une heure"): write the unit alone.
    N_("unit.seconds.one"),
    N_("unit.seconds.other"),
    N_("unit.minutes.one"),
    N_("unit.minutes.other"),
    N_("unit.hours.one"),
    N_("unit.hours.other"),
    N_("unit.days.one"),
    N_("unit.days.other"),
    # --- Django admin: model names and staff actions, in the staff's language --------------
    # TRANSLATORS: Staff-facing names of the Django admin's tables, lower case as Django shows them.
    N_("ui.admin.account"),
    N_("ui.admin.accounts"),
    N_("ui.admin.no_email_request"),
    N_("ui.admin.no_email_queue"),
    # TRANSLATORS: Stand-in rows written so that unknown members cost the same work.
    N_("ui.admin.decoy"),
    N_("ui.admin.decoys"),
    N_("ui.admin.throttle"),
    N_("ui.admin.throttles"),
    # TRANSLATORS: Rate-limit windows: requests counted per IP or per identifier.
    N_("ui.admin.rate_limit"),
    N_("ui.admin.rate_limits"),
    N_("ui.admin.outbox"),
    N_("ui.admin.outboxes"),
    N_("ui.admin.audit"),
    N_("ui.admin.audits"),
    # TRANSLATORS: A notice for a member without email, that staff send by post, SMS or phone.
    N_("ui.admin.notice"),
    N_("ui.admin.notices"),
    N_("ui.admin.mark_handled"),
    # TRANSLATORS: Admin message after the action; {count} is how many notices.
    N_("ui.admin.marked_handled"),
    # --- Web page furniture around the journey (Flask and Django integrations) ---------------
    # TRANSLATORS: Shown when a form's anti-forgery token has expired; the member just resends it.
    N_("ui.csrf"),
    N_("ui.logout"),
    N_("ui.login_again"),
    # TRANSLATORS: Accessibility link at the very top of each page, for keyboard users.
    N_("ui.skip"),
    N_("ui.language"),
    # TRANSLATORS: Marker after the label of a required field.
    N_("ui.required"),
    N_("ui.errors"),
    # TRANSLATORS: Separates two alternative actions, lower case.
    N_("ui.or"),
    N_("ui.not_found"),
    N_("ui.saved"),
    # TRANSLATORS: Page footer; {brand} is the insurer's name.
    N_("ui.copyright"),
    N_("ui.main_nav"),
    N_("ui.change_password"),
    N_("ui.current_password"),
    N_("ui.change_email"),
    N_("ui.change_email.intro"),
    N_("ui.confirm_email_change"),
    N_("ui.devices"),
    N_("ui.devices.none"),
    N_("ui.devices.forget_all"),
    N_("ui.devices.last_used"),
    # --- The completion meter's hints: what each missing part adds ---------------------------
    N_("ui.completion.missing"),
    # TRANSLATORS: One hint under the meter: {points} is what filling {item} adds ("+10 % : vos
    # animaux"); {item} is one of the ui.completion.<part> texts below.
    N_("ui.completion.hint"),
    N_("ui.completion.email"),
    N_("ui.completion.phone"),
    N_("ui.completion.postal_address"),
    N_("ui.completion.channels"),
    N_("ui.completion.pets"),
    N_("ui.completion.interests"),
    N_("ui.completion.comments"),
    N_("ui.completion.secret_answer"),
    # TRANSLATORS: The demo staff login asks for a password only: no identifier to mention.
    N_("ui.staff_login_failed"),
    N_("ui.security"),
    N_("ui.interests.hint"),
    # --- The screens by name, wherever a screen is named rather than shown ------------------
    # TRANSLATORS: The name of the screen where a first-time member enters an email address.
    N_("screen.email.name"),
    N_("screen.check_mailbox.name"),
    # TRANSLATORS: The screen of a member without email, until staff activate the account.
    N_("screen.awaiting_activation.name"),
    N_("screen.password.name"),
    N_("screen.question.name"),
    N_("screen.profile.name"),
    N_("screen.login.name"),
    # --- The terminal demo (cegema-onboarding demo): what it says between the screens --------
    N_("demo.created"),
    N_("demo.member_number"),
    N_("demo.initial_password"),
    # TRANSLATORS: A heading: the step's number in the printed guide, then its title.
    N_("demo.step"),
    # TRANSLATORS: {screen} is one of the screen.*.name texts.
    N_("demo.next_screen"),
    # TRANSLATORS: {reason} is one of the reason.* texts.
    N_("demo.refused"),
    # TRANSLATORS: A confirmation shown on the screen, quoted: {notice} is one of notice.*.
    N_("demo.notice"),
    N_("demo.case_ignored"),
    N_("demo.emails_differ"),
    N_("demo.emails_match"),
    N_("demo.link_sent"),
    N_("demo.interruption"),
    # TRANSLATORS: {valid} is label.yes or label.no.
    N_("demo.link_opened"),
    N_("demo.link_again"),
    N_("demo.common_password"),
    N_("demo.question_chosen"),
    # TRANSLATORS: {step} is the number of the step under which that mail was printed.
    N_("demo.mail_of_step"),
    N_("demo.initial_dead"),
    N_("demo.reset_answer"),
    N_("demo.link_once"),
    N_("demo.mails_sent"),
    # --- The demo portal's own pages: its local mailbox and its staff page --------------------
    # TRANSLATORS: The demo portal's local mailbox: its title, and the label of its tabs.
    N_("ui.demo.mailbox"),
    N_("ui.demo.mailbox.emails"),
    N_("ui.demo.mailbox.letters"),
    N_("ui.demo.mailbox.emails.hint"),
    N_("ui.demo.mailbox.letters.hint"),
    N_("ui.demo.mailbox.sms.hint"),
    N_("ui.demo.mailbox.emails.none"),
    N_("ui.demo.mailbox.letters.none"),
    N_("ui.demo.mailbox.sms.none"),
    # TRANSLATORS: {phone} is the member's phone number.
    N_("ui.demo.mailbox.call"),
    N_("ui.demo.mailbox.text_message"),
    # TRANSLATORS: {date} is the day and time the letter was written.
    N_("ui.demo.mailbox.letter"),
    N_("ui.demo.staff.title"),
    N_("ui.demo.staff.queue"),
    N_("ui.demo.staff.name"),
    N_("ui.demo.staff.requested"),
    N_("ui.demo.staff.actions"),
    N_("ui.demo.staff.activate"),
    # TRANSLATORS: Staff page: the accessible name of one row's button; {member_number} is
    # the member's.
    N_("ui.demo.staff.activate_member"),
    N_("ui.demo.staff.reject_reason"),
    N_("ui.demo.staff.reject"),
    N_("ui.demo.staff.empty"),
    # TRANSLATORS: Staff page: followed by the member number and the new initial password.
    N_("ui.demo.staff.reissued"),
    N_("ui.demo.staff.one_account"),
    N_("ui.demo.staff.unlock"),
    N_("ui.demo.staff.reissue"),
    # TRANSLATORS: Staff page: how the member will be told that the account is active.
    N_("ui.demo.staff.channel"),
    N_("ui.demo.staff.recipient"),
    N_("ui.demo.staff.unknown_recipient"),
    # TRANSLATORS: After staff activate a no-email member; {recipient}: the address on one line.
    N_("ui.demo.staff.activated.post"),
    N_("ui.demo.staff.activated.sms"),
    N_("ui.demo.staff.activated.phone"),
    N_("ui.demo.staff.activated.email"),
    N_("ui.demo.staff.activated.unreachable"),
    N_("ui.demo.staff.rejected"),
)
