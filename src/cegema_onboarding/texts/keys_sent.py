"""The message ids of what is sent to members: mails, offline notices, and units.

Data only, in catalogue order: the second part of :data:`cegema_onboarding.texts.keys.KEYS`
(see that module for how ``scripts/i18n.py`` extracts the ``N_`` markers).
"""

from __future__ import annotations

from typing import Final

from .marker import N_

__all__ = ["SENT_KEYS"]

#: Mail subjects and bodies, notices by post, SMS or phone, and quantities with their unit.
SENT_KEYS: Final[tuple[str, ...]] = (
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
)
