"""The blueprint's routes, and the views of the first-connection journey.

One view per screen of the guide, each a thin call to the service: login, the email step,
the mailbox and its code, the validation link, the password and the secret question. The
logged-in member's own pages and the recovery paths are in :mod:`.views_account`. Both
read their helpers from :mod:`._context` and never import the extension.

Only a POST submits a form: every other method a route answers shows its page. Flask
answers HEAD on every GET route through the same view, and a view that took any method but
GET for a submission would let a body-less HEAD (an uptime probe) log in, spend a link or
count against a limit, with no CSRF token checked (the token is checked on POST).
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from ... import texts
from ...config import Settings
from ...flow import Refused
from ...model import LinkPurpose, Step
from ...service import Ok, Screen
from .._web import safe_next
from ._context import (
    FormErrors,
    View,
    client_ip,
    current_screen,
    field,
    follow,
    forget_remembered,
    form_errors,
    go,
    go_step,
    lang,
    link_token,
    link_view,
    refused_redirect,
    render,
    service,
    state,
    t,
    user_agent,
)
from ._prg import kept_form, refuse
from .members import announce_completed
from .views_account import (
    change_password,
    email_change_link,
    forget_devices,
    forgotten_identifier,
    forgotten_password,
    not_me_link,
    profile,
    request_email_change,
    reset_link,
)

#: Where "where do I stand?" answers when the blueprint does not have the root.
INDEX_PATH = "/mon-espace"


def register(bp: Blueprint, settings: Settings, *, root: bool = False) -> None:
    """Add the journey's routes to ``bp``; link routes follow ``settings.link_paths``.

    ``/`` is the host's unless it gives it (``root``): the blueprint's entry is
    :data:`INDEX_PATH`, and also ``/`` (built first, so links point there) when given.
    """
    if root:
        bp.add_url_rule("/", "index", index)
    bp.add_url_rule(INDEX_PATH, "index", index)
    bp.add_url_rule("/connexion", "login", login, methods=["GET", "POST"])
    bp.add_url_rule("/deconnexion", "logout", logout, methods=["POST"])
    bp.add_url_rule("/premiere-connexion", "email", email, methods=["GET", "POST"])
    bp.add_url_rule("/premiere-connexion/sans-email", "no_email", no_email,
                    methods=["GET", "POST"])
    bp.add_url_rule("/premiere-connexion/boite-mail", "check_mailbox", check_mailbox)
    bp.add_url_rule("/premiere-connexion/renvoyer", "resend", resend, methods=["POST"])
    bp.add_url_rule("/premiere-connexion/modifier", "change_email", change_email,
                    methods=["POST"])
    bp.add_url_rule("/premiere-connexion/code", "code", code, methods=["GET", "POST"])
    bp.add_url_rule("/premiere-connexion/en-attente", "awaiting", awaiting)
    bp.add_url_rule(settings.link_paths[LinkPurpose.VERIFY_EMAIL], "verify_link",
                    link_view(verify_link), methods=["GET", "POST"])
    bp.add_url_rule("/mot-de-passe", "password", password, methods=["GET", "POST"])
    bp.add_url_rule("/question-secrete", "question", question, methods=["GET", "POST"])
    bp.add_url_rule("/profil", "profile", profile, methods=["GET", "POST"])
    bp.add_url_rule("/profil/mot-de-passe", "change_password", change_password,
                    methods=["GET", "POST"])
    bp.add_url_rule("/profil/email", "request_email_change", request_email_change,
                    methods=["GET", "POST"])
    bp.add_url_rule("/profil/appareils/oublier", "forget_devices", forget_devices,
                    methods=["POST"])
    bp.add_url_rule("/identifiant-oublie", "forgotten_identifier", forgotten_identifier,
                    methods=["GET", "POST"])
    bp.add_url_rule("/mot-de-passe-oublie", "forgotten_password", forgotten_password,
                    methods=["GET", "POST"])
    # The four mailed links: their token leaves the URL before the view runs (link_view).
    bp.add_url_rule(settings.link_paths[LinkPurpose.RESET_PASSWORD], "reset_link",
                    link_view(reset_link), methods=["GET", "POST"])
    bp.add_url_rule(settings.link_paths[LinkPurpose.NOT_ME], "not_me_link",
                    link_view(not_me_link), methods=["GET", "POST"])
    bp.add_url_rule(settings.link_paths[LinkPurpose.CHANGE_EMAIL], "email_change_link",
                    link_view(email_change_link), methods=["GET", "POST"])


# ---------------------------------------------------------------------- entry and login


def index() -> View:
    """Where the member stands: their current screen, or the login page."""
    screen = current_screen(None)
    if isinstance(screen, Screen):
        return go_step(screen.step)
    return screen


def login() -> View:
    """SE CONNECTER À VOTRE COMPTE."""
    if request.method != "POST":
        wanted = safe_next(request.args.get("next"))
        if wanted is not None:
            # Kept in the session cookie: the journey may take several visits.
            state().next_url = wanted
        if state().account_id is not None:
            return go("index")
        errors, typed = kept_form("login")
        return render("login.html", errors=errors, identifier=typed.get("identifier", ""))
    identifier = field("identifier")
    result = service().login(identifier, field("password"), ip=client_ip(),
                             user_agent=user_agent(), remember=request.form.get("remember") == "1")
    if isinstance(result, Ok):
        return follow(result)
    # The same page for every refusal of the same reason: nothing tells accounts apart.
    return refuse(result, "login", identifier=identifier)


def logout() -> View:
    """End the session in this browser and forget it if it was remembered."""
    forget_remembered()
    state().log_out()
    return go("login")


# ---------------------------------------------------------------------- the email step


def email() -> View:
    """PREMIÈRE CONNEXION – ENTREZ VOTRE ADRESSE MAIL."""
    if request.method != "POST":
        screen = current_screen(Step.EMAIL)
        if not isinstance(screen, Screen):
            return screen
        errors, typed = kept_form("email")
        return _email_page(screen, typed.get("email", screen.prefill_email or ""),
                           typed.get("confirmation", ""), errors)
    session = state().session
    if session is None:
        return go("login")
    # POSTs go straight to the service, which refuses an event that does not fit the
    # member's stage; the screen is only loaded again to redraw a refused form.
    address, confirmation = field("email"), field("confirmation")
    result = service().submit_email(session, address, confirmation, ip=client_ip())
    if isinstance(result, Ok):
        return follow(result)
    return refused_redirect(result) or refuse(result, "email", email=address,
                                              confirmation=confirmation)


def _email_page(screen: Screen, address: str, confirmation: str,
                errors: FormErrors | None = None) -> Response:
    rejection = None
    if screen.rejection:
        rejection = t("screen.activation_rejected.body", reason=screen.rejection)
    return render("email.html", errors=errors, email=address, confirmation=confirmation,
                  rejection=rejection)


def no_email() -> View:
    """"Vous n'avez pas d'adresse email ?": explain, then join the staff queue on POST."""
    if request.method != "POST":
        screen = current_screen(None)
        if not isinstance(screen, Screen):
            return screen
        if screen.step not in (Step.EMAIL, Step.CHECK_MAILBOX):
            return go_step(screen.step)
        return render("no_email.html", errors=kept_form("no_email")[0])
    session = state().session
    if session is None:
        return go("login")
    result = service().declare_no_email(session, ip=client_ip())
    if isinstance(result, Ok):
        return follow(result)
    return refused_redirect(result) or refuse(result, "no_email")


def check_mailbox() -> View:
    """"Connectez-vous à votre boîte mail": resend, change the address, or type the code."""
    screen = current_screen(Step.CHECK_MAILBOX)
    if not isinstance(screen, Screen):
        return screen
    duration = texts.duration(service().settings.link_lifetime, lang())
    # The guide's step 4 is a pop-up over the screen: a <dialog> rather than the banner.
    current = state()
    sent = current.notice == "notice.link_sent"
    if sent:
        current.flash(None)
    return render("check_mailbox.html", errors=kept_form("check_mailbox")[0],
                  sent=t("notice.link_sent") if sent else None,
                  body=t("screen.check_mailbox.body", address=screen.prefill_email or "",
                         duration=duration))


def resend() -> View:
    """Send the link again (the previous one stops working)."""
    session = state().session
    if session is None:
        return go("login")
    result = service().resend_link(session, ip=client_ip())
    if isinstance(result, Ok):
        state().flash("notice.link_resent")
        return go_step(result.step)
    # Back on the mailbox screen the member came from, saying how long to wait.
    return refused_redirect(result) or refuse(result, "check_mailbox")


def change_email() -> View:
    """Back to the email step to type another address."""
    session = state().session
    if session is None:
        return go("login")
    result = service().change_email(session, ip=client_ip())
    if isinstance(result, Ok):
        return follow(result)
    return refused_redirect(result) or go("index")


def code() -> View:
    """Type the short code from the mail instead of clicking the link."""
    if request.method != "POST":
        screen = current_screen(Step.CHECK_MAILBOX)
        if not isinstance(screen, Screen):
            return screen
        return render("code.html", errors=kept_form("code")[0])
    session = state().session
    if session is None:
        return go("login")
    result = service().submit_code(session, field("code"), ip=client_ip())
    if isinstance(result, Ok):
        return follow(result)
    return refused_redirect(result) or refuse(result, "code")


def awaiting() -> View:
    """"Votre demande est en cours de traitement" (the no-email path)."""
    screen = current_screen(Step.AWAITING_ACTIVATION)
    if not isinstance(screen, Screen):
        return screen
    return render("awaiting.html", notice_channel=screen.notice_channel)


# ---------------------------------------------------------------------- the link


def verify_link() -> View:
    """The mailed link. GET only shows a page (mail scanners open links); POST spends it."""
    if request.method != "POST":
        errors, _ = kept_form("verify_link")
        if errors is not None:
            return render("link.html", token="", valid=False, errors=errors)
        token = link_token()
        check = service().open_link(token)
        if not check.valid:
            refused = Refused(check.reason) if check.reason else None
            return render("link.html", 400, token="", valid=False,
                          errors=form_errors(refused) if refused else None)
        return render("link.html", token=token, valid=True)
    token = field("token")
    # Only this browser's own session opens the password step at once (see confirm_link).
    result = service().confirm_link(token, ip=client_ip(), session=state().session)
    if isinstance(result, Ok):
        return follow(result)
    return refuse(result, "verify_link")


# ---------------------------------------------------------------------- password, question


def password() -> View:
    """"Choisissez votre nouveau mot de passe"."""
    if request.method != "POST":
        screen = current_screen(Step.PASSWORD)
        if not isinstance(screen, Screen):
            return screen
        return _password_page(kept_form("password")[0])
    session = state().session
    if session is None:
        return go("login")
    result = service().set_password(session, field("password"), field("confirmation"),
                                    ip=client_ip())
    if isinstance(result, Ok):
        return _moved_on(result)
    return refused_redirect(result) or refuse(result, "password")


def _password_page(errors: FormErrors | None = None) -> Response:
    policy = service().settings.password_policy
    return render("password.html", errors=errors,
                  rules=t("notice.password_rules", min_length=policy.min_length),
                  min_length=policy.min_length, max_length=policy.max_length)


def question() -> View:
    """The secret question (step 7)."""
    if request.method != "POST":
        screen = current_screen(Step.QUESTION)
        if not isinstance(screen, Screen):
            return screen
        errors, typed = kept_form("question")
        return _question_page(typed.get("question", ""), errors)
    session = state().session
    if session is None:
        return go("login")
    chosen = field("question")
    result = service().set_secret_answer(session, chosen, field("answer"),
                                         field("confirmation"), ip=client_ip())
    if isinstance(result, Ok):
        if result.step is Step.PROFILE:
            state().flash("screen.connected.title")
        return _moved_on(result)
    return refused_redirect(result) or refuse(result, "question", question=chosen)


def _moved_on(result: Ok) -> View:
    """Follow a step of the journey; the one that reaches the profile completes it."""
    response = follow(result)
    if result.step is Step.PROFILE:
        # Only the password and question steps lead here, and each is passed once per
        # journey: the signal goes once per account.
        announce_completed()
    return response


def _question_page(chosen: str, errors: FormErrors | None = None) -> Response:
    language = lang()
    questions = [(q.id, q.label(language)) for q in service().settings.questions]
    return render("question.html", errors=errors,
                  questions=questions, chosen=chosen)
