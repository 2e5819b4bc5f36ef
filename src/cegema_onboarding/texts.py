"""Every text a member sees, in French (the printed guide's wording) and English.

The catalogue is deliberately a flat ``key -> {"fr": ..., "en": ...}`` mapping with
``str.format`` named placeholders only (no positional fields, attribute access, conversions
or format specs), so that it converts mechanically to gettext catalogs later: each key
becomes a msgid and each ``{name}`` a ``%(name)s``. ``unit.hours.one``/``unit.hours.other``
is the only plural pair; it maps to one ``ngettext`` call.

Key prefixes: ``reason.*`` (why something was refused, one per refusal value), ``screen.*``
(titles and paragraphs of each screen), ``label.*`` (field labels), ``button.*`` (buttons and
action links), ``notice.*`` (confirmations and banners), ``mail.*`` (mail subjects and
bodies), ``offline.*`` (notices sent by post, SMS or phone to members with no email) and
``unit.*`` (quantities with their unit).

Texts that answer a stranger's request (login, forgotten identifier or password, email
already in use) are worded so that they never tell whether an account exists.
"""

from __future__ import annotations

import re
import string
from typing import Final

__all__ = [
    "CATALOG",
    "DEFAULT_LANG",
    "LANGS",
    "REASONS",
    "placeholders",
    "resolve_lang",
    "text",
]

LANGS: Final = ("fr", "en")
DEFAULT_LANG: Final = "fr"

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

CATALOG: Final[dict[str, dict[str, str]]] = {
    # --- Refusals -------------------------------------------------------------------------
    # Same words whether the identifier is unknown or the password is wrong: no enumeration.
    "reason.bad_credentials": {
        "fr": "Identifiant ou mot de passe incorrect.",
        "en": "Incorrect identifier or password.",
    },
    # Shown for unknown identifiers too (they are throttled alike), so it reveals nothing.
    "reason.locked": {
        "fr": "Trop de tentatives. Réessayez plus tard.",
        "en": "Too many attempts. Please try again later.",
    },
    "reason.disabled": {
        "fr": "Votre compte est désactivé. Merci de contacter votre conseiller.",
        "en": "Your account is disabled. Please contact your adviser.",
    },
    "reason.initial_credentials_expired": {
        "fr": (
            "Le mot de passe présent sur vos Conditions Particulières n'est plus valable. "
            "Merci de contacter votre conseiller pour en recevoir un nouveau."
        ),
        "en": (
            "The password printed on your Conditions Particulières (your contract's "
            "personal terms) is no longer valid. Please contact your adviser for a new one."
        ),
    },
    "reason.invalid_step": {
        "fr": (
            "Cette étape n'est pas disponible pour le moment. Connectez-vous pour reprendre "
            "là où vous vous étiez arrêté."
        ),
        "en": "This step is not available right now. Log in to continue where you left off.",
    },
    "reason.input_invalid": {
        "fr": "Les informations saisies ne sont pas valides. Merci de les vérifier.",
        "en": "The information you entered is not valid. Please check it.",
    },
    "reason.rate_limited": {
        "fr": "Trop de demandes. Merci de patienter quelques minutes avant de réessayer.",
        "en": "Too many requests. Please wait a few minutes before trying again.",
    },
    "reason.session_expired": {
        "fr": "Votre session a expiré. Merci de vous reconnecter.",
        "en": "Your session has expired. Please log in again.",
    },
    "reason.email_invalid": {
        "fr": "Cette adresse email n'est pas valide.",
        "en": "This email address is not valid.",
    },
    "reason.emails_differ": {
        "fr": "Les deux adresses email saisies ne sont pas identiques.",
        "en": "The two email addresses you entered do not match.",
    },
    # Must not confirm that another member uses this address.
    "reason.email_in_use": {
        "fr": "Cette adresse ne peut pas être utilisée. Merci d'en saisir une autre.",
        "en": "This address cannot be used. Please enter another one.",
    },
    "reason.link_invalid": {
        "fr": (
            "Ce lien n'est pas valide. Vérifiez que vous l'avez copié en entier, ou "
            "recommencez la procédure depuis le site."
        ),
        "en": (
            "This link is not valid. Check that you copied all of it, or start again from the site."
        ),
    },
    # No hour count here: the lifetime is configurable and the mail already stated it.
    "reason.link_expired": {
        "fr": (
            "Attention, ce lien n'est plus valable : son délai de validité est dépassé. "
            "Il vous faut recommencer la procédure depuis le site."
        ),
        "en": (
            "This link is no longer valid: its time limit has passed. Please start again "
            "from the site."
        ),
    },
    "reason.link_used": {
        "fr": (
            "Ce lien a déjà été utilisé. Connectez-vous pour reprendre là où vous vous "
            "étiez arrêté."
        ),
        "en": "This link has already been used. Log in to continue where you left off.",
    },
    "reason.link_superseded": {
        "fr": (
            "Un lien plus récent vous a été envoyé. Merci d'utiliser le dernier lien reçu "
            "dans votre boîte mail."
        ),
        "en": (
            "A newer link has been sent to you. Please use the most recent link in your mailbox."
        ),
    },
    "reason.code_invalid": {
        "fr": "Ce code n'est pas valide. Vérifiez-le et réessayez.",
        "en": "This code is not valid. Check it and try again.",
    },
    "reason.code_attempts_exceeded": {
        "fr": "Trop de codes erronés. Merci de demander l'envoi d'un nouveau lien.",
        "en": "Too many wrong codes. Please ask for a new link.",
    },
    "reason.passwords_differ": {
        "fr": "Les deux mots de passe saisis ne sont pas identiques.",
        "en": "The two passwords you entered do not match.",
    },
    "reason.password_empty": {
        "fr": "Merci de choisir un mot de passe.",
        "en": "Please choose a password.",
    },
    "reason.password_too_short": {
        "fr": "Votre mot de passe doit contenir au moins {min_length} caractères.",
        "en": "Your password must be at least {min_length} characters long.",
    },
    "reason.password_too_long": {
        "fr": "Votre mot de passe ne doit pas dépasser {max_length} caractères.",
        "en": "Your password must not be longer than {max_length} characters.",
    },
    "reason.password_common": {
        "fr": "Ce mot de passe est trop courant. Merci d'en choisir un autre.",
        "en": "This password is too common. Please choose another one.",
    },
    "reason.password_contains_member_number": {
        "fr": "Votre mot de passe ne doit pas contenir votre numéro d'adhérent.",
        "en": "Your password must not contain your member number.",
    },
    "reason.password_contains_email": {
        "fr": "Votre mot de passe ne doit pas contenir votre adresse email.",
        "en": "Your password must not contain your email address.",
    },
    "reason.password_contains_name": {
        "fr": "Votre mot de passe ne doit pas contenir votre nom ou votre prénom.",
        "en": "Your password must not contain your name.",
    },
    "reason.password_contains_site_name": {
        "fr": "Votre mot de passe ne doit pas contenir le nom du site.",
        "en": "Your password must not contain the name of the site.",
    },
    "reason.password_same_as_initial": {
        "fr": (
            "Votre nouveau mot de passe doit être différent de celui présent sur vos "
            "Conditions Particulières."
        ),
        "en": (
            "Your new password must be different from the one printed on your "
            "Conditions Particulières."
        ),
    },
    "reason.answers_differ": {
        "fr": "Les deux réponses saisies ne sont pas identiques.",
        "en": "The two answers you entered do not match.",
    },
    "reason.answer_empty": {
        "fr": "Merci de choisir une réponse.",
        "en": "Please choose an answer.",
    },
    "reason.answer_too_long": {
        "fr": "Votre réponse est trop longue.",
        "en": "Your answer is too long.",
    },
    "reason.answer_trivial": {
        "fr": "Cette réponse est trop simple à deviner. Merci d'en choisir une autre.",
        "en": "This answer is too easy to guess. Please choose another one.",
    },
    "reason.answer_same_as_member_number": {
        "fr": "Votre réponse ne doit pas être votre numéro d'adhérent.",
        "en": "Your answer must not be your member number.",
    },
    "reason.answer_same_as_email": {
        "fr": "Votre réponse ne doit pas être votre adresse email.",
        "en": "Your answer must not be your email address.",
    },
    "reason.answer_same_as_password": {
        "fr": "Votre réponse ne doit pas être votre mot de passe.",
        "en": "Your answer must not be your password.",
    },
    "reason.question_unknown": {
        "fr": "Merci de choisir une question secrète dans la liste.",
        "en": "Please choose a secret question from the list.",
    },
    "reason.questions_disabled": {
        "fr": "Les questions secrètes ne sont pas utilisées sur ce site.",
        "en": "Secret questions are not used on this site.",
    },
    # Worded so that it does not tell whether the account has an email or an answer.
    "reason.reset_not_available": {
        "fr": (
            "La réinitialisation de votre mot de passe en ligne n'est pas possible. "
            "Merci de contacter votre conseiller."
        ),
        "en": "Your password cannot be reset online. Please contact your adviser.",
    },
    # Only reached with a valid reset link in hand: the account is already known to them.
    "reason.answer_wrong": {
        "fr": "La réponse à votre question secrète est incorrecte.",
        "en": "The answer to your secret question is not correct.",
    },
    "reason.email_unchanged": {
        "fr": "Cette adresse email est déjà celle de votre compte.",
        "en": "This email address is already the one of your account.",
    },
    "reason.not_found_generic": {
        "fr": (
            "Votre demande n'a pas pu aboutir. Merci de vérifier les informations saisies "
            "ou de contacter votre conseiller."
        ),
        "en": (
            "Your request could not be completed. Please check the information you "
            "entered or contact your adviser."
        ),
    },
    # --- Login ----------------------------------------------------------------------------
    "screen.login.title": {
        "fr": "SE CONNECTER À VOTRE COMPTE",
        "en": "LOG IN TO YOUR ACCOUNT",
    },
    "screen.login.subtitle": {
        "fr": "ENTREZ VOS IDENTIFIANTS CI-DESSOUS",
        "en": "ENTER YOUR CREDENTIALS BELOW",
    },
    # The guide adds "à saisir en MAJUSCULES": dropped, because input case is normalised.
    "screen.login.hint": {
        "fr": (
            "Renseignez votre numéro d'adhérent et votre mot de passe (présent sur vos "
            "Conditions Particulières)."
        ),
        "en": (
            "Enter your member number and your password (printed on your Conditions "
            "Particulières, the personal terms of your contract)."
        ),
    },
    "label.identifier": {"fr": "Identifiant", "en": "Identifier"},
    "label.password": {"fr": "Mot de passe", "en": "Password"},
    "label.remember_me": {"fr": "Se souvenir de moi", "en": "Remember me"},
    "button.login": {"fr": "Ouvrir une session", "en": "Log in"},
    "button.forgotten_identifier": {
        "fr": "Identifiant oublié ?",
        "en": "Forgotten your identifier?",
    },
    "button.forgotten_password": {
        "fr": "Mot de passe oublié ?",
        "en": "Forgotten your password?",
    },
    # --- First connection: email ----------------------------------------------------------
    "screen.email.title": {"fr": "PREMIÈRE CONNEXION", "en": "FIRST CONNECTION"},
    "screen.email.subtitle": {
        "fr": "ENTREZ VOTRE ADRESSE MAIL",
        "en": "ENTER YOUR EMAIL ADDRESS",
    },
    "screen.email.hint": {
        "fr": "Renseignez et confirmez votre adresse mail.",
        "en": "Enter and confirm your email address.",
    },
    "label.email": {"fr": "Email", "en": "Email"},
    "label.email_confirm": {"fr": "Confirmer votre email", "en": "Confirm your email"},
    "button.validate": {"fr": "Valider", "en": "Submit"},
    "button.no_email": {
        "fr": "Vous n'avez pas d'adresse email ?",
        "en": "You don't have an email address?",
    },
    "notice.no_email": {
        "fr": (
            "En ne renseignant pas d'adresse e-mail, vous ne pourrez pas profiter de toutes "
            "les fonctionnalités du site. Votre compte sera activé dans les plus brefs délais "
            "par {brand} afin que vous puissiez vous connecter. Un conseiller vous tiendra "
            "informé du statut de votre demande."
        ),
        "en": (
            "Without an email address, you will not be able to use all of the site's "
            "features. Your account will be activated by {brand} as soon as possible so that "
            "you can log in. An adviser will keep you informed of the status of your request."
        ),
    },
    "button.confirm_no_email": {
        "fr": "Continuer sans adresse email",
        "en": "Continue without an email address",
    },
    "notice.link_sent": {
        "fr": (
            "Un lien de validation vient de vous être envoyé sur votre adresse e-mail. Pour "
            "valider votre compte, il vous suffit de cliquer sur le lien que vous avez reçu "
            "dans l'e-mail de validation {brand}."
        ),
        "en": (
            "A validation link has just been sent to your email address. To validate your "
            "account, simply click the link in the {brand} validation email."
        ),
    },
    # --- Check your mailbox ---------------------------------------------------------------
    "screen.check_mailbox.title": {
        "fr": "Connectez-vous à votre boîte mail",
        "en": "Check your mailbox",
    },
    "screen.check_mailbox.body": {
        "fr": (
            "Un lien de validation a été envoyé à l'adresse {address}. Cliquez sur ce lien "
            "pour valider votre compte. Attention, ce lien n'est valable que {duration}."
        ),
        "en": (
            "A validation link has been sent to {address}. Click this link to validate your "
            "account. Please note that this link is only valid for {duration}."
        ),
    },
    "button.resend_link": {"fr": "Renvoyer le lien", "en": "Send the link again"},
    "button.change_address": {
        "fr": "Modifier mon adresse email",
        "en": "Change my email address",
    },
    "button.enter_code": {
        "fr": "Saisir le code reçu par email",
        "en": "Enter the code from the email",
    },
    "notice.link_resent": {
        "fr": "Un nouveau lien de validation vient de vous être envoyé. L'ancien lien ne "
        "fonctionne plus.",
        "en": "A new validation link has just been sent to you. The previous link no longer works.",
    },
    "screen.code.title": {
        "fr": "Saisissez le code reçu par email",
        "en": "Enter the code you received by email",
    },
    "screen.code.body": {
        "fr": "Le code figure dans l'e-mail de validation {brand}, sous le lien.",
        "en": "The code is in the {brand} validation email, below the link.",
    },
    "label.code": {"fr": "Code de validation", "en": "Validation code"},
    # --- No email: awaiting activation by staff -------------------------------------------
    "screen.awaiting_activation.title": {
        "fr": "Votre demande est en cours de traitement",
        "en": "Your request is being processed",
    },
    "screen.awaiting_activation.body": {
        "fr": (
            "Votre demande est en cours de traitement. Votre compte sera activé dans les plus "
            "brefs délais par {brand} afin que vous puissiez vous connecter. Un conseiller "
            "vous tiendra informé du statut de votre demande."
        ),
        "en": (
            "Your request is being processed. Your account will be activated by {brand} as "
            "soon as possible so that you can log in. An adviser will keep you informed of "
            "the status of your request."
        ),
    },
    "screen.activation_rejected.title": {
        "fr": "Votre demande n'a pas pu être acceptée",
        "en": "Your request could not be accepted",
    },
    "screen.activation_rejected.body": {
        "fr": (
            "Votre demande d'activation sans adresse email n'a pas pu être acceptée : "
            "{reason}. Merci de renseigner votre adresse mail pour continuer."
        ),
        "en": (
            "Your request to activate your account without an email address could not be "
            "accepted: {reason}. Please enter your email address to continue."
        ),
    },
    # --- Link landing pages: a GET only shows this, the button (POST) spends the link -----
    "screen.confirm_link.title": {
        "fr": "Vérification de l'adresse mail",
        "en": "Email address verification",
    },
    "screen.confirm_link.body": {
        "fr": "Pour valider votre adresse email, cliquez sur le bouton ci-dessous.",
        "en": "To verify your email address, click the button below.",
    },
    "button.confirm_link": {
        "fr": "Valider mon adresse email",
        "en": "Verify my email address",
    },
    "screen.confirm_reset.title": {
        "fr": "Réinitialisation de votre mot de passe",
        "en": "Reset your password",
    },
    "screen.confirm_reset.body": {
        "fr": "Pour choisir un nouveau mot de passe, cliquez sur le bouton ci-dessous.",
        "en": "To choose a new password, click the button below.",
    },
    "button.confirm_reset": {
        "fr": "Réinitialiser mon mot de passe",
        "en": "Reset my password",
    },
    # --- New password ---------------------------------------------------------------------
    "label.new_password": {
        "fr": "Choisissez votre nouveau mot de passe",
        "en": "Choose your new password",
    },
    "label.new_password_confirm": {
        "fr": "Merci de confirmer votre nouveau mot de passe",
        "en": "Please confirm your new password",
    },
    "notice.password_rules": {
        "fr": (
            "Votre mot de passe doit contenir au moins {min_length} caractères. Une phrase "
            "de plusieurs mots est à la fois plus sûre et plus facile à retenir."
        ),
        "en": (
            "Your password must be at least {min_length} characters long. A phrase of "
            "several words is both safer and easier to remember."
        ),
    },
    "button.save": {"fr": "Enregistrer", "en": "Save"},
    # --- Secret question ------------------------------------------------------------------
    "screen.question.title": {"fr": "Mon profil", "en": "My profile"},
    "screen.question.intro": {
        "fr": (
            "Pour des raisons de sécurité, nous vous invitons à répondre à une question "
            "secrète. La réponse vous permettra de réinitialiser votre mot de passe en cas de "
            "perte ou d'oubli"
        ),
        "en": (
            "For security reasons, please answer a secret question. The answer will let you "
            "reset your password if you lose or forget it"
        ),
    },
    "label.question": {
        "fr": "Choisissez votre question secrète",
        "en": "Choose your secret question",
    },
    "label.answer": {"fr": "Choisissez votre réponse", "en": "Choose your answer"},
    "label.answer_confirm": {
        "fr": "Merci de confirmer votre réponse",
        "en": "Please confirm your answer",
    },
    # --- Connected and profile ------------------------------------------------------------
    "screen.connected.title": {
        "fr": "Ça y est ! Vous êtes connecté !",
        "en": "That's it! You are logged in!",
    },
    "screen.connected.body": {
        "fr": (
            "Renseignez vos informations & préférences de communication, poursuivez votre "
            "navigation et découvrez les nouvelles fonctionnalités !"
        ),
        "en": (
            "Fill in your details and communication preferences, carry on browsing and "
            "discover the new features!"
        ),
    },
    "screen.connected.farewell": {
        "fr": "Nous vous souhaitons une bonne navigation",
        "en": "Enjoy your visit",
    },
    "screen.profile.title": {
        "fr": "Mon profil et mes informations",
        "en": "My profile and my details",
    },
    "screen.profile.section": {"fr": "MON PROFIL", "en": "MY PROFILE"},
    "label.profile_completion": {
        "fr": "Profil complété à {percent}%",
        "en": "Profile {percent}% complete",
    },
    "label.communication_preferences": {
        "fr": "Mes préférences de communication",
        "en": "My communication preferences",
    },
    "label.channel.phone": {"fr": "Téléphone", "en": "Phone"},
    "label.channel.email": {"fr": "Email", "en": "Email"},
    "label.channel.sms": {"fr": "SMS", "en": "SMS"},
    "label.channel.post": {"fr": "Courrier", "en": "Post"},
    "label.pets": {
        "fr": "Avez-vous des animaux de compagnie ?",
        "en": "Do you have any pets?",
    },
    "label.yes": {"fr": "Oui", "en": "Yes"},
    "label.no": {"fr": "Non", "en": "No"},
    "label.interests": {"fr": "Mes centres d'intérêt", "en": "My interests"},
    "label.comments": {"fr": "Commentaires", "en": "Comments"},
    "label.adviser": {"fr": "MON CONSEILLER", "en": "MY ADVISER"},
    "label.adviser.agency_name": {"fr": "Nom de l'agence", "en": "Agency name"},
    "label.adviser.address": {"fr": "Adresse", "en": "Address"},
    "label.adviser.orias": {"fr": "N° Orias", "en": "ORIAS no."},
    "label.adviser.more_info": {"fr": "Plus d'informations", "en": "More information"},
    # --- Forgotten identifier and password: same answer whether an account matches -------
    "screen.forgotten_identifier.title": {
        "fr": "Identifiant oublié",
        "en": "Forgotten identifier",
    },
    "screen.forgotten_identifier.intro": {
        "fr": (
            "Renseignez l'adresse email de votre espace adhérent. Si elle correspond à un "
            "compte, vous recevrez votre identifiant par email."
        ),
        "en": (
            "Enter the email address of your member area. If it matches an account, you "
            "will receive your identifier by email."
        ),
    },
    "notice.forgotten_identifier_sent": {
        "fr": (
            "Si un compte correspond à cette adresse, un message contenant votre identifiant "
            "vient de vous être envoyé."
        ),
        "en": (
            "If an account matches this address, a message with your identifier has just "
            "been sent to it."
        ),
    },
    "screen.forgotten_password.title": {
        "fr": "Mot de passe oublié",
        "en": "Forgotten password",
    },
    "screen.forgotten_password.intro": {
        "fr": (
            "Renseignez votre identifiant (votre numéro d'adhérent). Si un compte correspond, "
            "vous recevrez un lien de réinitialisation par email."
        ),
        "en": (
            "Enter your identifier (your member number). If it matches an account, you will "
            "receive a reset link by email."
        ),
    },
    "notice.forgotten_password_sent": {
        "fr": (
            "Si un compte correspond à cet identifiant, un lien de réinitialisation vient "
            "d'être envoyé à l'adresse email associée."
        ),
        "en": (
            "If an account matches this identifier, a reset link has just been sent to its "
            "email address."
        ),
    },
    "notice.forgotten_password_no_email": {
        "fr": (
            "Vous n'avez pas d'adresse email ? Contactez votre conseiller : il vous aidera à "
            "réinitialiser votre mot de passe."
        ),
        "en": (
            "You don't have an email address? Contact your adviser, who will help you reset "
            "your password."
        ),
    },
    "screen.reset.title": {
        "fr": "Réinitialisation de votre mot de passe",
        "en": "Reset your password",
    },
    "label.reset_answer": {
        "fr": "Répondez à votre question secrète",
        "en": "Answer your secret question",
    },
    "notice.password_changed": {
        "fr": "Votre mot de passe a été changé.",
        "en": "Your password has been changed.",
    },
    "notice.password_changed_mail_sent": {
        "fr": "Un email de confirmation vous a été envoyé.",
        "en": "A confirmation email has been sent to you.",
    },
    # --- "This wasn't me": GET shows this page, the button (POST) locks the account -------
    "screen.not_me.title": {"fr": "Ce n'était pas moi", "en": "This wasn't me"},
    "screen.not_me.body": {
        "fr": (
            "Vous n'êtes pas à l'origine du changement de votre mot de passe ? Pour protéger "
            "votre compte, cliquez sur le bouton ci-dessous : votre compte sera bloqué et "
            "toutes vos sessions seront fermées."
        ),
        "en": (
            "You did not change your password? To protect your account, click the button "
            "below: your account will be locked and all your sessions will be closed."
        ),
    },
    "button.not_me": {"fr": "Bloquer mon compte", "en": "Lock my account"},
    "notice.password_reset_done": {
        "fr": (
            "Votre mot de passe a été réinitialisé. Connectez-vous avec votre nouveau mot de "
            "passe."
        ),
        "en": "Your password has been reset. Log in with your new password.",
    },
    "notice.email_change_sent": {
        "fr": (
            "Un lien de confirmation vient d'être envoyé à votre nouvelle adresse mail. Votre "
            "adresse ne changera qu'une fois ce lien confirmé."
        ),
        "en": (
            "A confirmation link has just been sent to your new email address. Your address "
            "will only change once you confirm it."
        ),
    },
    "notice.email_changed": {
        "fr": "Votre adresse mail a été modifiée.",
        "en": "Your email address has been changed.",
    },
    "notice.profile_saved": {
        "fr": "Vos informations ont été enregistrées.",
        "en": "Your information has been saved.",
    },
    "notice.not_me_done": {
        "fr": (
            "Votre compte a été bloqué par mesure de sécurité. Merci de contacter {brand} "
            "pour le rétablir."
        ),
        "en": (
            "Your account has been locked as a security measure. Please contact {brand} to "
            "restore it."
        ),
    },
    # --- Mails ----------------------------------------------------------------------------
    "mail.greeting": {"fr": "Bonjour ! {name}", "en": "Hello {name}!"},
    "mail.greeting_no_name": {"fr": "Bonjour !", "en": "Hello!"},
    "mail.footer.auto": {
        "fr": (
            "Ceci est un message automatique généré par notre serveur ; merci de ne pas y répondre."
        ),
        "en": "This is an automatic message sent by our server; please do not reply to it.",
    },
    "mail.footer.legal_intro": {"fr": "Cliquer sur ce lien :", "en": "Follow this link:"},
    "mail.footer.legal_label": {"fr": "Mentions Légales", "en": "Legal notice"},
    "mail.footer.legal_copy": {
        "fr": "Ou copier cette URL dans votre navigateur : {url}",
        "en": "Or copy this URL into your browser: {url}",
    },
    "mail.footer.legal_text": {
        "fr": "Mentions Légales : {url}",
        "en": "Legal notice: {url}",
    },
    "mail.copy_link": {
        "fr": "Si le lien ne s'ouvre pas, copiez-le et collez-le dans votre navigateur.",
        "en": "If the link does not open, copy and paste it into your browser.",
    },
    "mail.code_hint": {
        "fr": "Vous lisez cet e-mail sur un autre appareil ?",
        "en": "Reading this email on another device?",
    },
    "mail.code": {
        "fr": "Vous pouvez aussi saisir ce code : {code}",
        "en": "You can also enter this code: {code}",
    },
    "mail.validity": {
        "fr": (
            "Attention, ce lien n'est valable que {duration}. Passé ce délai, il vous faudra "
            "recommencer la procédure depuis le site."
        ),
        "en": (
            "Please note that this link is only valid for {duration}. After that, you will "
            "need to start again from the site."
        ),
    },
    "mail.contact_if_not_you": {
        "fr": (
            "Si vous n'êtes pas à l'origine de cette modification, merci de bien vouloir "
            "contacter {brand} en cliquant ici :"
        ),
        "en": "If you did not make this change, please contact {brand} by clicking here:",
    },
    "mail.contact_if_not_you_no_link": {
        "fr": (
            "Si vous n'êtes pas à l'origine de cette modification, merci de bien vouloir "
            "contacter {brand} au plus vite."
        ),
        "en": "If you did not make this change, please contact {brand} as soon as possible.",
    },
    "mail.validation.subject": {
        "fr": "{brand} : Vérification de l'adresse mail",
        "en": "{brand}: Verify your email address",
    },
    "mail.validation.intro": {
        "fr": (
            "La validation de votre adresse email {address} est nécessaire pour vous "
            "connecter à votre espace adhérent {brand}."
        ),
        "en": (
            "Your email address {address} must be verified before you can log in to your "
            "{brand} member area."
        ),
    },
    "mail.validation.link_intro": {
        "fr": "A cette fin, vous pouvez cliquer sur le lien ci-dessous :",
        "en": "To do so, click the link below:",
    },
    "mail.password_changed.subject": {
        "fr": "{brand} : Votre mot de passe a été changé",
        "en": "{brand}: Your password has been changed",
    },
    "mail.password_changed.intro": {
        "fr": "Le mot de passe d'accès à votre espace adhérent {brand} a été modifié.",
        "en": "The password of your {brand} member area has been changed.",
    },
    "mail.password_changed.when": {
        "fr": "La modification a eu lieu le {date} à {time} ({timezone}).",
        "en": "The change was made on {date} at {time} ({timezone}).",
    },
    "mail.password_changed.ip": {
        "fr": "La demande a été faite depuis {ip}.",
        "en": "The request was made from {ip}.",
    },
    "mail.password_changed.unknown_ip": {
        "fr": "une adresse inconnue",
        "en": "an unknown address",
    },
    "mail.not_me.intro": {
        "fr": (
            "Vous pouvez aussi bloquer immédiatement votre compte en cliquant sur le lien "
            "ci-dessous (ce lien ne fonctionne qu'une fois) :"
        ),
        "en": (
            "You can also lock your account right away by clicking the link below (it works "
            "only once):"
        ),
    },
    "mail.not_me.label": {"fr": "Ce n'était pas moi", "en": "This wasn't me"},
    "mail.reset.subject": {
        "fr": "{brand} : Réinitialisation de votre mot de passe",
        "en": "{brand}: Reset your password",
    },
    "mail.reset.intro": {
        "fr": (
            "Vous avez demandé la réinitialisation du mot de passe de votre espace adhérent "
            "{brand}."
        ),
        "en": "You asked to reset the password of your {brand} member area.",
    },
    "mail.reset.link_intro": {
        "fr": "Pour choisir un nouveau mot de passe, cliquez sur le lien ci-dessous :",
        "en": "To choose a new password, click the link below:",
    },
    "mail.reset.ignore": {
        "fr": (
            "Si vous n'êtes pas à l'origine de cette demande, ignorez ce message : votre mot "
            "de passe reste inchangé."
        ),
        "en": ("If you did not ask for this, ignore this message: your password stays unchanged."),
    },
    "mail.identifier.subject": {
        "fr": "{brand} : Votre identifiant",
        "en": "{brand}: Your identifier",
    },
    "mail.identifier.intro": {
        "fr": ("Vous avez demandé à recevoir l'identifiant de votre espace adhérent {brand}."),
        "en": "You asked to receive the identifier of your {brand} member area.",
    },
    "mail.identifier.value": {
        "fr": "Votre identifiant (numéro d'adhérent) est : {member_number}",
        "en": "Your identifier (member number) is: {member_number}",
    },
    "mail.identifier.ignore": {
        "fr": "Si vous n'êtes pas à l'origine de cette demande, vous pouvez ignorer ce message.",
        "en": "If you did not ask for this, you can ignore this message.",
    },
    "mail.email_change.subject": {
        "fr": "{brand} : Changement de votre adresse mail",
        "en": "{brand}: Change of your email address",
    },
    "mail.email_change.intro": {
        "fr": (
            "Une demande de changement de l'adresse email de votre espace adhérent {brand} "
            "a été faite. La nouvelle adresse est {new_address}."
        ),
        "en": (
            "A request was made to change the email address of your {brand} member area. "
            "The new address is {new_address}."
        ),
    },
    "mail.email_change.old_address": {
        "fr": "Ce message est envoyé à votre ancienne adresse pour vous en informer.",
        "en": "This message is sent to your previous address to let you know.",
    },
    "mail.activation.subject": {
        "fr": "{brand} : Votre compte est activé",
        "en": "{brand}: Your account is activated",
    },
    "mail.activation.intro": {
        "fr": "Votre compte sur votre espace adhérent {brand} a été activé par votre conseiller.",
        "en": "Your adviser has activated your account on your {brand} member area.",
    },
    "mail.activation.next": {
        "fr": (
            "Vous pouvez maintenant vous connecter avec votre numéro d'adhérent et le mot de "
            "passe présent sur vos Conditions Particulières, puis choisir votre nouveau mot de "
            "passe."
        ),
        "en": (
            "You can now log in with your member number and the password printed on your "
            "Conditions Particulières, then choose your new password."
        ),
    },
    # --- Notices by post, SMS or phone, for members with no email address -----------------
    # Filled in with name, brand and detail (the staff's reason, for a rejection).
    "offline.validation": {
        "fr": (
            "Bonjour {name}, un lien de validation de votre adresse mail vient de vous être "
            "envoyé pour votre espace adhérent {brand}."
        ),
        "en": (
            "Hello {name}, a link to verify your email address has just been sent to you "
            "for your {brand} member area."
        ),
    },
    "offline.password_changed": {
        "fr": (
            "Bonjour {name}, le mot de passe d'accès à votre espace adhérent {brand} a été "
            "modifié. Si vous n'êtes pas à l'origine de cette modification, merci de bien "
            "vouloir contacter {brand}."
        ),
        "en": (
            "Hello {name}, the password of your {brand} member area has been changed. If you "
            "did not make this change, please contact {brand}."
        ),
    },
    "offline.activated": {
        "fr": (
            "Bonjour {name}, votre compte sur votre espace adhérent {brand} a été activé. "
            "Connectez-vous avec votre numéro d'adhérent et le mot de passe présent sur vos "
            "Conditions Particulières, puis choisissez votre nouveau mot de passe."
        ),
        "en": (
            "Hello {name}, your account on your {brand} member area has been activated. Log "
            "in with your member number and the password printed on your Conditions "
            "Particulières, then choose your new password."
        ),
    },
    "offline.activation_rejected": {
        "fr": (
            "Bonjour {name}, votre demande d'activation de votre espace adhérent {brand} sans "
            "adresse email n'a pas pu être acceptée : {detail}. Connectez-vous pour "
            "renseigner votre adresse mail."
        ),
        "en": (
            "Hello {name}, your request to activate your {brand} member area without an "
            "email address could not be accepted: {detail}. Log in to enter your email "
            "address."
        ),
    },
    "offline.reset": {
        "fr": (
            "Bonjour {name}, un lien de réinitialisation de votre mot de passe vient de vous "
            "être envoyé pour votre espace adhérent {brand}."
        ),
        "en": (
            "Hello {name}, a link to reset your password has just been sent to you for your "
            "{brand} member area."
        ),
    },
    "offline.identifier": {
        "fr": (
            "Bonjour {name}, votre identifiant de l'espace adhérent {brand} vient de vous être "
            "envoyé par email."
        ),
        "en": (
            "Hello {name}, the identifier of your {brand} member area has just been sent to "
            "you by email."
        ),
    },
    "offline.email_change": {
        "fr": (
            "Bonjour {name}, un lien de confirmation de votre nouvelle adresse mail vient de "
            "vous être envoyé pour votre espace adhérent {brand}."
        ),
        "en": (
            "Hello {name}, a link to confirm your new email address has just been sent to "
            "you for your {brand} member area."
        ),
    },
    "offline.email_change_notice": {
        "fr": (
            "Bonjour {name}, une demande de changement de l'adresse mail de votre espace "
            "adhérent {brand} a été faite. Si vous n'en êtes pas à l'origine, merci de "
            "contacter {brand}."
        ),
        "en": (
            "Hello {name}, a request was made to change the email address of your {brand} "
            "member area. If you did not make it, please contact {brand}."
        ),
    },
    # --- Units (one plural pair each; ngettext after the gettext move) --------------------
    "unit.hours.one": {"fr": "{count} heure", "en": "{count} hour"},
    "unit.hours.other": {"fr": "{count} heures", "en": "{count} hours"},
}

# "fr-FR", "en_GB.UTF-8", "EN", "fr;q=0.9": the primary subtag is all we need.
_PRIMARY = re.compile(r"\s*([A-Za-z]{2,3})(?:[-_.;,@\s]|$)")
_FORMATTER = string.Formatter()


def resolve_lang(lang: str | None) -> str:
    """The supported language for a tag such as "fr-FR" or "en_GB"; French when unknown."""
    if not isinstance(lang, str):
        return DEFAULT_LANG
    # Bound the work on host-supplied headers before matching.
    match = _PRIMARY.match(lang[:64])
    if match is None:
        return DEFAULT_LANG
    primary = match.group(1).lower()
    return primary if primary in LANGS else DEFAULT_LANG


def placeholders(key: str) -> frozenset[str]:
    """The placeholder names the French text of ``key`` needs; KeyError if unknown."""
    return frozenset(
        field for _, field, _, _ in _FORMATTER.parse(_entry(key)[DEFAULT_LANG]) if field
    )


def text(key: str, lang: str | None = None, /, **params: object) -> str:
    """The text of ``key`` in ``lang`` (French by default), with ``params`` filled in."""
    template = _entry(key)[resolve_lang(lang)]
    # str.format raises KeyError naming the first missing placeholder.
    return template.format(**params)


def _entry(key: str) -> dict[str, str]:
    try:
        return CATALOG[key]
    except KeyError:
        raise KeyError(key) from None
