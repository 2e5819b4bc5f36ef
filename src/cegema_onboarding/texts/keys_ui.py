"""The message ids around the journey: staff admin, web page furniture and the demos.

Data only, in catalogue order: the last part of :data:`cegema_onboarding.texts.keys.KEYS`
(see that module for how ``scripts/i18n.py`` extracts the ``N_`` markers).
"""

from __future__ import annotations

from typing import Final

from .marker import N_

__all__ = ["UI_KEYS"]

#: The Django admin, the web integrations' page furniture, screen names and the demos.
UI_KEYS: Final[tuple[str, ...]] = (
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
    # TRANSLATORS: The admin's column, filter, actions and their outcome labels (an outcome is
    # followed by a count), and the reject and re-issue pages; in the staff's language.
    N_("ui.admin.email"),
    N_("ui.admin.filter.status"),
    N_("ui.admin.filter.pending"),
    N_("ui.admin.filter.handled"),
    N_("ui.admin.action.activate"),
    N_("ui.admin.action.reject"),
    N_("ui.admin.action.unlock"),
    N_("ui.admin.action.disable"),
    N_("ui.admin.action.enable"),
    N_("ui.admin.action.mark_email_verified"),
    N_("ui.admin.action.reissue"),
    N_("ui.admin.outcome.activated"),
    N_("ui.admin.outcome.rejected"),
    N_("ui.admin.outcome.unlocked"),
    N_("ui.admin.outcome.disabled"),
    N_("ui.admin.outcome.enabled"),
    N_("ui.admin.outcome.address_verified"),
    N_("ui.admin.outcome.refused"),
    # TRANSLATORS: Admin message after an action: {outcome} is one of the outcomes above,
    # {count} how many accounts (French puts a space before the colon).
    N_("ui.admin.outcome.count"),
    N_("ui.admin.reject.title"),
    N_("ui.admin.reject.reason"),
    N_("ui.admin.reject.missing"),
    N_("ui.admin.reject.submit"),
    N_("ui.admin.reissued.title"),
    N_("ui.admin.reissued.intro"),
    N_("ui.admin.reissued.number"),
    N_("ui.admin.reissued.name"),
    N_("ui.admin.reissued.password"),
    # TRANSLATORS: The admin's funnel page; a step name is lower case, as in a table row.
    N_("ui.admin.funnel.title"),
    N_("ui.admin.funnel.step"),
    N_("ui.admin.funnel.members"),
    N_("ui.admin.funnel.share"),
    N_("ui.admin.funnel.median"),
    N_("ui.admin.funnel.step.provisioned"),
    N_("ui.admin.funnel.step.first_login"),
    N_("ui.admin.funnel.step.email"),
    N_("ui.admin.funnel.step.verified"),
    N_("ui.admin.funnel.step.password"),
    N_("ui.admin.funnel.step.active"),
    N_("ui.admin.funnel.email_step"),
    # TRANSLATORS: {pending} and {awaiting} are numbers of members.
    N_("ui.admin.funnel.waiting"),
    N_("ui.admin.funnel.stuck"),
    N_("ui.admin.funnel.link_expired"),
    N_("ui.admin.funnel.awaiting_longer"),
    # TRANSLATORS: A median wait in the funnel, under an hour; {seconds} has two digits.
    N_("ui.admin.funnel.duration.minutes"),
    # TRANSLATORS: A median wait under a day; {minutes} has two digits.
    N_("ui.admin.funnel.duration.hours"),
    # TRANSLATORS: A median wait of a day or more, with one decimal: {whole} days and
    # {tenths} tenths of a day ("3.5 days"); put the language's decimal separator between.
    N_("ui.admin.funnel.duration.days"),
    # TRANSLATORS: A step's share of all members, with one decimal ("21.4%"): {whole} and
    # {tenths}, with the language's decimal separator and percent sign spacing.
    N_("ui.admin.funnel.percent"),
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
