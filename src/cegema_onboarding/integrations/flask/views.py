"""The blueprint's views: one per screen of the guide, each a thin call to the service."""

from __future__ import annotations

from flask import Blueprint, Response, request
from werkzeug.wrappers import Response as WerkzeugResponse

from ...config import Settings
from ...flow import Reason, Refused, reset_checks_answer
from ...model import Channel, LinkPurpose, Step
from ...service import Ok, ProfileView, Screen
from ._context import (
    client_ip,
    config,
    current_screen,
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
    session_lost,
    state,
    t,
    user_agent,
)

View = Response | WerkzeugResponse

# Inputs longer than this are cut before they reach the service, which refuses over-long
# values itself; the cut only bounds what the web layer copies around.
_MAX_FIELD = 8192


def _field(name: str) -> str:
    value = request.form.get(name, "")
    return value[:_MAX_FIELD]


def register(bp: Blueprint, settings: Settings) -> None:
    """Add the journey's routes to ``bp``; link routes follow ``settings.link_paths``."""
    bp.add_url_rule("/", "index", index)
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
    if request.method == "GET":
        if state().account_id is not None:
            return go("index")
        return render("login.html", identifier="")
    identifier = _field("identifier")
    result = service().login(identifier, _field("password"), ip=client_ip(),
                             user_agent=user_agent(), remember=request.form.get("remember") == "1")
    if isinstance(result, Ok):
        return follow(result)
    # The same page for every refusal of the same reason: nothing tells accounts apart.
    return render("login.html", 400, errors=form_errors(result), identifier=identifier)


def logout() -> View:
    """End the session in this browser and forget it if it was remembered."""
    forget_remembered()
    state().log_out()
    return go("login")


# ---------------------------------------------------------------------- the email step


def email() -> View:
    """PREMIÈRE CONNEXION – ENTREZ VOTRE ADRESSE MAIL."""
    if request.method == "GET":
        screen = current_screen(Step.EMAIL)
        if not isinstance(screen, Screen):
            return screen
        return _email_page(screen, screen.prefill_email or "", "")
    session = state().session
    if session is None:
        return go("login")
    # POSTs go straight to the service, which refuses an event that does not fit the
    # member's stage; the screen is only loaded again to redraw a refused form.
    address, confirmation = _field("email"), _field("confirmation")
    result = service().submit_email(session, address, confirmation, ip=client_ip())
    if isinstance(result, Ok):
        return follow(result)
    screen = refused_redirect(result) or current_screen(Step.EMAIL)
    if not isinstance(screen, Screen):
        return screen
    return _email_page(screen, address, confirmation, result)


def _email_page(screen: Screen, address: str, confirmation: str,
                refused: Refused | None = None) -> Response:
    rejection = None
    if screen.rejection:
        rejection = t("screen.activation_rejected.body", reason=screen.rejection)
    return render("email.html", 400 if refused else 200,
                  errors=form_errors(refused) if refused else None,
                  email=address, confirmation=confirmation, rejection=rejection)


def no_email() -> View:
    """"Vous n'avez pas d'adresse email ?": explain, then join the staff queue on POST."""
    if request.method == "GET":
        screen = current_screen(None)
        if not isinstance(screen, Screen):
            return screen
        if screen.step not in (Step.EMAIL, Step.CHECK_MAILBOX):
            return go_step(screen.step)
        return render("no_email.html")
    session = state().session
    if session is None:
        return go("login")
    result = service().declare_no_email(session, ip=client_ip())
    if isinstance(result, Ok):
        return follow(result)
    return refused_redirect(result) or render("no_email.html", 400,
                                              errors=form_errors(result))


def check_mailbox() -> View:
    """"Connectez-vous à votre boîte mail": resend, change the address, or type the code."""
    screen = current_screen(Step.CHECK_MAILBOX)
    if not isinstance(screen, Screen):
        return screen
    return _mailbox_page(screen)


def _mailbox_page(screen: Screen, refused: Refused | None = None) -> Response:
    hours = int(service().settings.link_lifetime.total_seconds() // 3600)
    duration = t("unit.hours.one" if hours == 1 else "unit.hours.other", count=hours)
    return render("check_mailbox.html", 400 if refused else 200,
                  errors=form_errors(refused) if refused else None,
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
    screen = refused_redirect(result) or current_screen(Step.CHECK_MAILBOX)
    if not isinstance(screen, Screen):
        return screen
    return _mailbox_page(screen, result)


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
    if request.method == "GET":
        screen = current_screen(Step.CHECK_MAILBOX)
        if not isinstance(screen, Screen):
            return screen
        return render("code.html")
    session = state().session
    if session is None:
        return go("login")
    result = service().submit_code(session, _field("code"), ip=client_ip())
    if isinstance(result, Ok):
        return follow(result)
    return refused_redirect(result) or render("code.html", 400, errors=form_errors(result))


def awaiting() -> View:
    """"Votre demande est en cours de traitement" (the no-email path)."""
    screen = current_screen(Step.AWAITING_ACTIVATION)
    if not isinstance(screen, Screen):
        return screen
    return render("awaiting.html")


# ---------------------------------------------------------------------- the link


def verify_link() -> View:
    """The mailed link. GET only shows a page (mail scanners open links); POST spends it."""
    if request.method == "GET":
        token = link_token()
        check = service().open_link(token)
        if not check.valid:
            refused = Refused(check.reason) if check.reason else None
            return render("link.html", 400, token="", valid=False,
                          errors=form_errors(refused) if refused else None)
        return render("link.html", token=token, valid=True)
    token = _field("token")
    # Only this browser's own session opens the password step at once (see confirm_link).
    result = service().confirm_link(token, ip=client_ip(), session=state().session)
    if isinstance(result, Ok):
        return follow(result)
    return render("link.html", 400, token="", valid=False, errors=form_errors(result))


# ---------------------------------------------------------------------- password, question


def password() -> View:
    """"Choisissez votre nouveau mot de passe"."""
    if request.method == "GET":
        screen = current_screen(Step.PASSWORD)
        if not isinstance(screen, Screen):
            return screen
        return _password_page()
    session = state().session
    if session is None:
        return go("login")
    result = service().set_password(session, _field("password"), _field("confirmation"),
                                    ip=client_ip())
    if isinstance(result, Ok):
        return follow(result)
    return refused_redirect(result) or _password_page(result)


def _password_page(refused: Refused | None = None) -> Response:
    policy = service().settings.password_policy
    return render("password.html", 400 if refused else 200,
                  errors=form_errors(refused) if refused else None,
                  rules=t("notice.password_rules", min_length=policy.min_length),
                  min_length=policy.min_length, max_length=policy.max_length)


def question() -> View:
    """The secret question (step 7)."""
    if request.method == "GET":
        screen = current_screen(Step.QUESTION)
        if not isinstance(screen, Screen):
            return screen
        return _question_page("")
    session = state().session
    if session is None:
        return go("login")
    chosen = _field("question")
    result = service().set_secret_answer(session, chosen, _field("answer"),
                                         _field("confirmation"), ip=client_ip())
    if isinstance(result, Ok):
        if result.step is Step.PROFILE:
            state().flash("screen.connected.title")
        return follow(result)
    return refused_redirect(result) or _question_page(chosen, result)


def _question_page(chosen: str, refused: Refused | None = None) -> Response:
    language = lang()
    questions = [(q.id, q.label(language)) for q in service().settings.questions]
    return render("question.html", 400 if refused else 200,
                  errors=form_errors(refused) if refused else None,
                  questions=questions, chosen=chosen)


# ---------------------------------------------------------------------- profile


def profile() -> View:
    """"Mon profil et mes informations", with its completion meter and preferences."""
    if request.method == "GET":
        # One read gives both the step check and the page.
        session = state().session
        if session is None:
            return go("login")
        view = service().profile(session)
        if isinstance(view, Refused):
            return session_lost()
        if view.step is not Step.PROFILE:
            return go_step(view.step)
        return _profile_page(view)
    screen = current_screen(Step.PROFILE)
    if not isinstance(screen, Screen):
        return screen
    session = state().session
    assert session is not None
    channels = [_CHANNEL_VALUES[c] for c in request.form.getlist("channels")
                if c in _CHANNEL_VALUES]
    pets = {"yes": True, "no": False}.get(request.form.get("pets", ""))
    interests = [i.strip() for i in _field("interests").split(",") if i.strip()]
    result = service().update_profile(session, channels=channels, pets=pets,
                                      interests=interests, comments=_field("comments"),
                                      ip=client_ip())
    if isinstance(result, Ok):
        state().flash(result.notice or "ui.saved")
        return go("profile")
    if (moved := refused_redirect(result)) is not None:
        return moved
    view = service().profile(session)
    if isinstance(view, Refused):
        return session_lost()
    return _profile_page(view, result)


def _profile_page(view: ProfileView, refused: Refused | None = None) -> View:
    current = state()
    session = current.session
    assert session is not None
    welcome = current.notice == "screen.connected.title"
    if welcome:
        current.flash(None)
    host = config().profile_context
    extra = dict(host(session.account_id)) if host is not None else {}
    adviser = extra.pop("adviser", None) or view.profile.adviser
    return render("profile.html", 400 if refused else 200,
                  errors=form_errors(refused) if refused else None,
                  view=view, name=view.name, email=view.email, percent=view.completion,
                  profile=view.profile, channels=_CHANNELS, welcome=welcome,
                  chosen_channels={c.value for c in view.profile.channels},
                  adviser=adviser, editable=True,
                  devices=view.devices, **extra)


_CHANNELS = (("phone", "label.channel.phone"), ("email", "label.channel.email"),
             ("sms", "label.channel.sms"), ("post", "label.channel.post"))
_CHANNEL_VALUES = {c.value: c for c in Channel}


def change_password() -> View:
    """A logged-in member changes their password, re-typing the current one."""
    screen = current_screen(Step.PROFILE)
    if not isinstance(screen, Screen):
        return screen
    if request.method == "GET":
        return _change_password_page()
    session = state().session
    assert session is not None
    result = service().change_password(session, _field("current_password"), _field("password"),
                                       _field("confirmation"), ip=client_ip(),
                                       user_agent=user_agent())
    if isinstance(result, Ok):
        return follow(result)
    return refused_redirect(result) or _change_password_page(result)


def _change_password_page(refused: Refused | None = None) -> Response:
    policy = service().settings.password_policy
    return render("change_password.html", 400 if refused else 200,
                  errors=form_errors(refused) if refused else None,
                  rules=t("notice.password_rules", min_length=policy.min_length),
                  max_length=policy.max_length)


def request_email_change() -> View:
    """A logged-in member asks to change their address (a link goes to the new one)."""
    screen = current_screen(Step.PROFILE)
    if not isinstance(screen, Screen):
        return screen
    if request.method == "GET":
        return render("change_email.html", email="", confirmation="")
    session = state().session
    assert session is not None
    address, confirmation = _field("email"), _field("confirmation")
    result = service().request_email_change(session, _field("current_password"), address,
                                            confirmation, ip=client_ip(),
                                            user_agent=user_agent())
    if isinstance(result, Ok):
        return follow(result)
    return refused_redirect(result) or render(
        "change_email.html", 400, errors=form_errors(result), email=address,
        confirmation=confirmation)


def forget_devices() -> View:
    """Forget every remembered browser of this member."""
    session = state().session
    if session is None:
        return go("login")
    result = service().revoke_remembered(session, None, ip=client_ip())
    if isinstance(result, Refused):
        return refused_redirect(result) or go("profile")
    state().flash("ui.saved")
    return go("profile")


# ---------------------------------------------------------------------- recovery


def forgotten_identifier() -> View:
    """"Identifiant oublié ?": the same answer whether the address is known or not."""
    if request.method == "GET":
        return render("forgotten_identifier.html", email="")
    address = _field("email")
    result = service().forgot_identifier(address, ip=client_ip(), user_agent=user_agent())
    if isinstance(result, Ok):
        return follow(result)
    return render("forgotten_identifier.html", 400, errors=form_errors(result), email=address)


def forgotten_password() -> View:
    """"Mot de passe oublié ?": the same answer whether the member exists or not."""
    if request.method == "GET":
        return render("forgotten_password.html", identifier="")
    identifier = _field("identifier")
    result = service().forgot_password(identifier, ip=client_ip(), user_agent=user_agent())
    if isinstance(result, Ok):
        return follow(result)
    return render("forgotten_password.html", 400,
                  errors=form_errors(result, {"member_number": "identifier"}),
                  identifier=identifier)


def reset_link() -> View:
    """The reset link: GET shows the form (spends nothing); POST sets the new password."""
    asks_answer = reset_checks_answer(service().settings)
    if request.method == "GET":
        token = link_token()
        check = service().open_link(token, LinkPurpose.RESET_PASSWORD)
        if not check.valid:
            return _dead_link("reset.html", check.reason)
        return _reset_page(token, asks_answer)
    token = _field("token")
    answer = _field("answer") if asks_answer else None
    result = service().complete_reset(token, _field("password"), _field("confirmation"),
                                      answer=answer, ip=client_ip(), user_agent=user_agent())
    if isinstance(result, Ok):
        return follow(result)
    if result.reason in _LINK_REASONS:
        return _dead_link("reset.html", result.reason)
    return _reset_page(token, asks_answer, result)


def _reset_page(token: str, asks_answer: bool, refused: Refused | None = None) -> Response:
    policy = service().settings.password_policy
    question_label = _reset_question(token) if asks_answer else None
    return render("reset.html", 400 if refused else 200,
                  errors=form_errors(refused) if refused else None, token=token, valid=True,
                  asks_answer=asks_answer, question_label=question_label,
                  rules=t("notice.password_rules", min_length=policy.min_length),
                  max_length=policy.max_length)


def _reset_question(token: str) -> str | None:
    """The member's own question, named on the reset form (only for a live reset link)."""
    found = service().reset_question(token)
    return found.label(lang()) if found is not None else None


def not_me_link() -> View:
    """"Ce n'était pas moi": GET explains; POST locks the account and ends its sessions."""
    if request.method == "GET":
        token = link_token()
        check = service().open_link(token, LinkPurpose.NOT_ME)
        if not check.valid:
            return _dead_link("not_me.html", check.reason)
        return render("not_me.html", token=token, valid=True)
    result = service().confirm_not_me(_field("token"), ip=client_ip(), user_agent=user_agent())
    if isinstance(result, Ok):
        state().log_out()
        return follow(result)
    return _dead_link("not_me.html", result.reason)


def email_change_link() -> View:
    """The link sent to a new address: GET shows a button; POST changes the address."""
    if request.method == "GET":
        token = link_token()
        check = service().open_link(token, LinkPurpose.CHANGE_EMAIL)
        if not check.valid:
            return _dead_link("email_change_link.html", check.reason)
        return render("email_change_link.html", token=token, valid=True)
    # This browser's own session makes the new address a recovery channel at once.
    result = service().confirm_email_change(_field("token"), ip=client_ip(),
                                            session=state().session)
    if isinstance(result, Ok):
        return follow(result)
    return _dead_link("email_change_link.html", result.reason)


_LINK_REASONS = frozenset({Reason.LINK_INVALID, Reason.LINK_EXPIRED, Reason.LINK_USED,
                           Reason.LINK_SUPERSEDED})


def _dead_link(template: str, reason: Reason | None) -> Response:
    refused = Refused(reason or Reason.LINK_INVALID)
    return render(template, 400, token="", valid=False, errors=form_errors(refused))
