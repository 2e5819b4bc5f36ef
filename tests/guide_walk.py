"""The printed guide walked in Chromium, the same for both frameworks (issue #15).

:class:`GuideWalk` drives one page through the guide's steps and, at every screen, checks
the guide's French labels word for word, runs axe-core (no serious or critical violation,
see :mod:`tests.a11y`) and saves a screenshot (only when ``CEGEMA_TEST_ARTEFACTS`` is set).
After each form it presses Back: no browser error page, no form sent again. The mails'
sentences are checked as the guide prints them, and every time shown is local
(Europe/Paris, with its zone), from the fixed clock of the tests.

What differs between Flask and Django is a :class:`Site`: where the pages are and how a
mail is read (Flask's demo mailbox page in the browser, Django's outbox).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import attrs

from cegema_onboarding import texts

from .a11y import Artefacts, assert_tied_error, check_axe
from .conftest import GOOD_PASSWORD, START

#: START (09:39 UTC, 2 March) as the guide's members read it: Paris, winter time.
LOCAL_DATE = "02/03/2026"
LOCAL_TIME = "10:39 (CET)"
UTC_TIME = START.strftime("%H:%M")  # the stored time, never to be shown

SUBJECT_VALIDATION = "CEGEMA : Vérification de l'adresse mail"
SUBJECT_CHANGED = "CEGEMA : Votre mot de passe a été changé"

# Each screen's words, as the guide prints them (step by step).
LOGIN = (
    "SE CONNECTER À VOTRE COMPTE",
    "ENTREZ VOS IDENTIFIANTS CI-DESSOUS",
    "Identifiant",
    "Mot de passe",
    "Se souvenir de moi",
    "Ouvrir une session",
    "Identifiant oublié ?",
    "Mot de passe oublié ?",
)
FIRST_CONNECTION = (
    "PREMIÈRE CONNEXION",
    "ENTREZ VOTRE ADRESSE MAIL",
    "Email",
    "Confirmer votre email",
    "Valider",
    "Vous n'avez pas d'adresse email ?",
)
NO_EMAIL_PARAGRAPH = (
    "En ne renseignant pas d'adresse e-mail, vous ne pourrez pas profiter de toutes les "
    "fonctionnalités du site. Votre compte sera activé dans les plus brefs délais par CEGEMA "
    "afin que vous puissiez vous connecter. Un conseiller vous tiendra informé du statut de "
    "votre demande."
)
LINK_SENT = (
    "Un lien de validation vient de vous être envoyé sur votre adresse e-mail. Pour "
    "valider votre compte, il vous suffit de cliquer sur le lien que vous avez reçu "
    "dans l'e-mail de validation CEGEMA."
)
NEW_PASSWORD = (
    "Choisissez votre nouveau mot de passe",
    "Merci de confirmer votre nouveau mot de passe",
    "Enregistrer",
)
QUESTION = (
    "Mon profil",
    "Pour des raisons de sécurité, nous vous invitons à répondre à une "
    "question secrète. La réponse vous permettra de réinitialiser votre mot de passe "
    "en cas de perte ou d'oubli",
    "Choisissez votre question secrète",
    "Choisissez votre réponse",
    "Merci de confirmer votre réponse",
    "Enregistrer",
)
CONNECTED = (
    "Ça y est ! Vous êtes connecté !",
    "Mon profil et mes informations",
    "Profil complété à",
    "MON CONSEILLER",
    "MON PROFIL",
    "Mes préférences de communication",
    "Téléphone",
    "Email",
    "SMS",
    "Courrier",
    "Avez-vous des animaux de compagnie ?",
    "Mes centres d'intérêt",
    "Commentaires",
)
# The legal footer of every mail (steps 5 and 8).
FOOTER = (
    "Ceci est un message automatique généré par notre serveur ; merci de ne pas y répondre.",
    "Cliquer sur ce lien : Mentions Légales",
    "Ou copier cette URL dans votre navigateur : https://www.cegema.com/mentionslegales_mail.php",
)
VALIDATION_MAIL = (
    "Bonjour",
    "La validation de votre adresse email",
    "est nécessaire pour vous connecter à votre espace adhérent CEGEMA.",
    "A cette fin, vous pouvez cliquer sur le lien ci-dessous :",
    "Attention, ce lien n'est valable que 24 heures. Passé ce délai, il vous "
    "faudra recommencer la procédure depuis le site www.cegema.com",
    *FOOTER,
)
CHANGED_MAIL = (
    "Bonjour",
    "Le mot de passe d'accès à votre espace adhérent CEGEMA a été modifié.",
    "La demande a été faite depuis 127.0.0.1",
    "Si vous n'êtes pas à l'origine de cette modification, merci de bien vouloir "
    "contacter CEGEMA en cliquant ici : "
    "https://www.cegema.com/web/guest/nous-contacter",
    LOCAL_DATE,
    LOCAL_TIME,
    *FOOTER,
)
RESET_MAIL = ("qu'une heure", "depuis le site www.cegema.com", *FOOTER)
BROWSER_ERRORS = ("ERR_CACHE_MISS", "Confirm Form Resubmission", "ERR_", "This site can")


def fr(key: str, **params: object) -> str:
    """The French text of a catalogue key, with the demo brand."""
    if "brand" in texts.placeholders(key):
        params.setdefault("brand", "CEGEMA")
    return texts.text(key, "fr", **params)


def flat(text: str) -> str:
    """White space folded: a mail's lines are wrapped, a page's text has newlines."""
    return " ".join(text.split())


def assert_says(text: str, expected: Sequence[str], where: str) -> None:
    said = flat(text)
    missing = [words for words in expected if flat(words) not in said]
    assert not missing, f"{where} lacks {missing!r}:\n{said}"


@attrs.frozen
class Site:
    """What the walk needs to know of one framework's portal.

    ``slash`` ends every page's path (Django's URLs end with "/"); ``mail_text(subject)``
    is the newest mail of that subject, as text; ``show_mail(page, subject)``, if given,
    opens it in the browser (the demo's mailbox page) for the screenshot and axe.
    """

    name: str
    base: str
    slash: str
    mail_text: Callable[[str], str]
    show_mail: Callable[[Any, str], None] | None = None

    def url(self, path: str) -> str:
        return f"{self.base}{path}{self.slash}"


class GuideWalk:
    """One member's page through the guide, with the checks made at every screen."""

    def __init__(self, page: Any, site: Site, walk: str) -> None:
        self.page = page
        self.site = site
        self.shots = Artefacts(f"{site.name}-{walk}", group="guide")
        self.posts: list[str] = []
        page.on(
            "request",
            lambda request: self.posts.append(request.url) if request.method == "POST" else None,
        )

    # -------------------------------------------------------------- the checks

    def main(self) -> str:
        return str(self.page.locator("main").inner_text())

    def screen(self, label: str, expected: Sequence[str] = (), *, member: bool = True) -> str:
        """The guide's words on this screen, in French (a member's screen; staff's admin
        follows their browser); axe; a screenshot."""
        page = self.page
        if member:
            assert page.locator("html").get_attribute("lang") == "fr", page.url
        text = self.main()
        assert_says(text, expected, f"{self.site.name} screen {label!r}")
        check_axe(page, f"{self.site.name} {label}")
        self.shots(page, label)
        return text

    def submit(self, button: str) -> None:
        """Send the form of ``button`` (its exact name) and wait for the next page."""
        with self.page.expect_navigation():
            self.page.get_by_role("button", name=button, exact=True).first.click()

    def back_after_form(self) -> None:
        """Back, after a form: a page of the portal, no browser error, nothing sent again;
        then forward to where the member was."""
        page, here, sent = self.page, self.page.url, len(self.posts)
        page.go_back(wait_until="load")
        content = page.content()
        for error in BROWSER_ERRORS:
            assert error not in content, f"Back from {here} shows {error!r}"
        assert page.url.startswith(self.site.base), page.url
        assert page.locator("main h1").count() >= 1, page.url  # one of the portal's pages
        assert self.posts[sent:] == [], f"Back from {here} sent a form again"
        page.go_forward(wait_until="load")
        if page.url != here:
            page.goto(here)
        assert self.posts[sent:] == []

    def fill(self, label: str, value: str) -> None:
        self.page.get_by_label(label, exact=True).fill(value)

    def mail(self, subject: str, expected: Sequence[str], label: str) -> str:
        """The newest mail of ``subject`` says ``expected`` and shows no UTC time."""
        text = self.site.mail_text(subject)
        assert_says(text, expected, f"mail {subject!r}")
        if self.site.show_mail is not None:
            self.site.show_mail(self.page, subject)
            self.screen(label)
        return text

    # -------------------------------------------------------------- the guide

    def log_in(self, number: str, password: str, *, remember: bool = False) -> None:
        """Step 1: the login screen, as the guide shows it."""
        page = self.page
        page.goto(self.site.url("/connexion"))
        self.screen("login", LOGIN)
        # The member types at once: the identifier has the focus.
        page.wait_for_function("document.activeElement !== document.body")
        assert page.evaluate("document.activeElement.id") == (
            page.get_by_label("Identifiant", exact=True).get_attribute("id")
        )
        self.fill("Identifiant", number)
        self.fill("Mot de passe", password)
        if remember:
            self.page.get_by_label("Se souvenir de moi").check()
        with self.page.expect_navigation():
            self.page.get_by_role("button", name=re.compile("Ouvrir une session")).click()
        self.back_after_form()

    def first_connection(
        self, number: str, initial_password: str, name: str, email: str, adviser: Sequence[str]
    ) -> None:
        """Steps 1 to 8 and the profile: the whole guide for a member with an email."""
        page = self.page
        # The initial password is printed in capitals; typed in lower case, it still works.
        self.log_in(number, initial_password.lower())

        # Steps 2-3: PREMIÈRE CONNEXION; two different addresses are refused next to the field.
        self.screen("email", (*FIRST_CONNECTION, NO_EMAIL_PARAGRAPH))
        self.fill("Email", email)
        self.fill("Confirmer votre email", email.replace("@", "x@"))
        self.submit("Valider")
        assert_tied_error(
            page, page.get_by_label("Confirmer votre email", exact=True).get_attribute("id")
        )
        assert fr("reason.emails_differ") in self.main()
        assert page.get_by_label("Email", exact=True).input_value() == email
        self.screen("email-refused", FIRST_CONNECTION)
        self.back_after_form()
        self.fill("Email", email)  # the form, got again, may have forgotten the refusal
        self.fill("Confirmer votre email", email[0].upper() + email[1:])
        self.submit("Valider")

        # Step 4: the pop-up over the mailbox screen, a <dialog> that needs no script.
        dialog = page.get_by_role("dialog")
        assert dialog.is_visible()
        assert_says(dialog.inner_text(), (LINK_SENT,), "the pop-up")
        assert page.evaluate("document.activeElement.closest('dialog') !== null")
        self.screen("link-sent")
        page.keyboard.press("Enter")  # its "Fermer" button has the focus
        assert not dialog.is_visible()
        self.back_after_form()
        assert flat(email) in self.screen("check-mailbox", ("Connectez-vous à votre boîte mail",))

        # Step 5: the validation mail, its link followed.
        text = self.mail(SUBJECT_VALIDATION, (*VALIDATION_MAIL, name, email), "validation-mail")
        found = re.search(r"https?://\S+/premiere-connexion/valider/?\?token=[\w.\-]+", text)
        assert found is not None, text
        page.goto(found.group(0))
        self.screen("link-page", ("Vérification de l'adresse mail",))
        self.submit(fr("button.confirm_link"))

        # Step 6: a common password is refused next to its field, then a good one is saved.
        self.screen("password", NEW_PASSWORD)
        self.fill("Choisissez votre nouveau mot de passe", "qwerty123456")
        self.fill("Merci de confirmer votre nouveau mot de passe", "qwerty123456")
        self.submit("Enregistrer")
        assert fr("reason.password_common") in self.main()
        assert_tied_error(
            page,
            page.get_by_label("Choisissez votre nouveau mot de passe", exact=True).get_attribute(
                "id"
            ),
        )
        self.screen("password-refused", NEW_PASSWORD)
        self.back_after_form()
        self.fill("Choisissez votre nouveau mot de passe", GOOD_PASSWORD)
        self.fill("Merci de confirmer votre nouveau mot de passe", GOOD_PASSWORD)
        self.submit("Enregistrer")
        self.back_after_form()

        # Step 7: the secret question.
        self.screen("question", QUESTION)
        page.get_by_label("Choisissez votre question secrète").select_option(
            label="Nom de jeune fille de votre mère ?"
        )
        self.fill("Choisissez votre réponse", "Lefebvre")
        self.fill("Merci de confirmer votre réponse", "Lefebvre")
        self.submit("Enregistrer")

        # Connected: the profile, the adviser, a completion meter that moves. The welcome
        # is said once: Back and Forward show the profile without it.
        main = self.screen("connected", (*CONNECTED, *adviser))
        self.back_after_form()
        before = completion(main)
        page.get_by_label("SMS", exact=True).check()
        page.get_by_label("Mes centres d'intérêt").fill("randonnée, lecture")
        self.submit("Enregistrer")
        main = self.screen("profile-saved", CONNECTED[1:])
        assert completion(main) > before
        assert page.get_by_label("SMS", exact=True).is_checked()
        assert page.get_by_label("Mes centres d'intérêt").input_value() == "randonnée, lecture"
        self.back_after_form()

        # Step 8: the password-changed mail: the requester's IP, the local time, the way out.
        changed = self.mail(SUBJECT_CHANGED, (*CHANGED_MAIL, name), "password-changed-mail")
        assert f"{UTC_TIME} " not in changed, "the mail gives a UTC time"

    def remembered_device(self, number: str) -> None:
        """Logged in again with "Se souvenir de moi": the profile dates the device locally."""
        self.page.context.clear_cookies()
        self.log_in(number, GOOD_PASSWORD, remember=True)
        main = self.screen(
            "profile-remembered",
            ("Mon profil et mes informations", f"Dernière utilisation {LOCAL_DATE} {LOCAL_TIME}"),
        )
        assert f"{LOCAL_DATE} {UTC_TIME}" not in main  # never the stored UTC time

    def forgotten_password(self, number: str) -> None:
        """ "Mot de passe oublié ?": the reset mail says "qu'une heure" and where to start again."""
        page = self.page
        page.context.clear_cookies()
        page.goto(self.site.url("/connexion"))
        with page.expect_navigation():
            page.get_by_role("link", name="Mot de passe oublié ?").click()
        self.screen("forgotten-password", ("Identifiant", "Valider"))
        self.fill("Identifiant", number)
        self.submit("Valider")
        self.screen("forgotten-password-sent", (fr("notice.forgotten_password_sent"),))
        self.back_after_form()
        self.mail(fr("mail.reset.subject"), RESET_MAIL, "reset-mail")

    def declare_no_email(self, number: str, initial_password: str) -> str:
        """ "Vous n'avez pas d'adresse email ?": the member is told what happens next; the
        waiting page's text is returned."""
        self.log_in(number, initial_password)
        self.screen("email", (*FIRST_CONNECTION, NO_EMAIL_PARAGRAPH))
        with self.page.expect_navigation():
            self.page.get_by_role("link", name="Vous n'avez pas d'adresse email ?").click()
        self.screen("no-email", ("dans les plus brefs délais",))
        self.submit(fr("button.confirm_no_email"))
        self.back_after_form()
        return self.screen("awaiting", (fr("screen.awaiting_activation.title"),))


def completion(main: str) -> int:
    found = re.search(r"Profil complété à (\d+)\s?%", main)
    assert found is not None, main
    return int(found.group(1))
