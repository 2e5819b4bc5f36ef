"""The views of the member's account and of recovery: what follows the first connection.

The profile and its changes (password, address, remembered devices), the forgotten
identifier and password, and the reset, "ce n'était pas moi" and address-change links.
Their routes are registered by :func:`.views.register`.
"""

from __future__ import annotations

from flask import Response, request

from ...flow import Reason, Refused, reset_checks_answer
from ...model import LinkPurpose, Step
from ...service import Ok, ProfileView, Screen
from .._web import (
    LINK_REASONS,
    PROFILE_CHANNELS,
    dead_link,
    local_time,
    parse_channels,
    parse_pets,
)
from ._context import (
    FormErrors,
    View,
    client_ip,
    config,
    current_screen,
    field,
    follow,
    form_errors,
    go,
    go_step,
    lang,
    link_token,
    refused_redirect,
    render,
    service,
    session_lost,
    state,
    t,
    user_agent,
)
from ._prg import kept_form, refuse

# ---------------------------------------------------------------------- profile


def profile() -> View:
    """"Mon profil et mes informations", with its completion meter and preferences."""
    if request.method != "POST":
        # One read gives both the step check and the page.
        session = state().session
        if session is None:
            return go("login")
        view = service().profile(session)
        if isinstance(view, Refused):
            return session_lost()
        if view.step is not Step.PROFILE:
            return go_step(view.step)
        return _profile_page(view, kept_form("profile")[0])
    screen = current_screen(Step.PROFILE)
    if not isinstance(screen, Screen):
        return screen
    session = state().session
    assert session is not None
    channels = parse_channels(request.form.getlist("channels"))
    pets = parse_pets(request.form.get("pets"))
    interests = [i.strip() for i in field("interests").split(",") if i.strip()]
    result = service().update_profile(session, channels=channels, pets=pets,
                                      interests=interests, comments=field("comments"),
                                      ip=client_ip())
    if isinstance(result, Ok):
        state().flash(result.notice or "ui.saved")
        return go("profile")
    return refused_redirect(result) or refuse(result, "profile")


def _profile_page(view: ProfileView, errors: FormErrors | None = None) -> View:
    current = state()
    session = current.session
    assert session is not None
    welcome = current.notice == "screen.connected.title"
    if welcome:
        current.flash(None)
    host = config().profile_context
    extra = dict(host(session.account_id)) if host is not None else {}
    adviser = extra.pop("adviser", None) or view.profile.adviser
    zone, language = service().settings.mail.timezone, lang()
    missing = [t("ui.completion.hint", points=points, item=t(f"ui.completion.{item}"))
               for item, points in view.missing]
    return render("profile.html", errors=errors, missing=missing,
                  view=view, name=view.name, email=view.email, percent=view.completion,
                  profile=view.profile, channels=_CHANNELS, welcome=welcome,
                  chosen_channels={c.value for c in view.profile.channels},
                  adviser=adviser, editable=True,
                  devices=[(d, local_time(d.last_used_at, zone, language))
                           for d in view.devices], **extra)


# (value, label key) of each channel the form offers, as the template lists them.
_CHANNELS = tuple((c.value, f"label.channel.{c.value}") for c in PROFILE_CHANNELS)


def change_password() -> View:
    """A logged-in member changes their password, re-typing the current one."""
    screen = current_screen(Step.PROFILE)
    if not isinstance(screen, Screen):
        return screen
    if request.method != "POST":
        return _change_password_page(kept_form("change_password")[0])
    session = state().session
    assert session is not None
    result = service().change_password(session, field("current_password"), field("password"),
                                       field("confirmation"), ip=client_ip(),
                                       user_agent=user_agent())
    if isinstance(result, Ok):
        return follow(result)
    return refused_redirect(result) or refuse(result, "change_password")


def _change_password_page(errors: FormErrors | None = None) -> Response:
    policy = service().settings.password_policy
    return render("change_password.html", errors=errors,
                  rules=t("notice.password_rules", min_length=policy.min_length),
                  max_length=policy.max_length)


def request_email_change() -> View:
    """A logged-in member asks to change their address (a link goes to the new one)."""
    screen = current_screen(Step.PROFILE)
    if not isinstance(screen, Screen):
        return screen
    if request.method != "POST":
        errors, typed = kept_form("request_email_change")
        return render("change_email.html", errors=errors, email=typed.get("email", ""),
                      confirmation=typed.get("confirmation", ""))
    session = state().session
    assert session is not None
    address, confirmation = field("email"), field("confirmation")
    result = service().request_email_change(session, field("current_password"), address,
                                            confirmation, ip=client_ip(),
                                            user_agent=user_agent())
    if isinstance(result, Ok):
        return follow(result)
    return refused_redirect(result) or refuse(result, "request_email_change", email=address,
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
    if request.method != "POST":
        errors, typed = kept_form("forgotten_identifier")
        return render("forgotten_identifier.html", errors=errors,
                      email=typed.get("email", ""))
    address = field("email")
    result = service().forgot_identifier(address, ip=client_ip(), user_agent=user_agent())
    if isinstance(result, Ok):
        return follow(result)
    return refuse(result, "forgotten_identifier", email=address)


def forgotten_password() -> View:
    """"Mot de passe oublié ?": the same answer whether the member exists or not."""
    if request.method != "POST":
        errors, typed = kept_form("forgotten_password")
        return render("forgotten_password.html", errors=errors,
                      identifier=typed.get("identifier", ""))
    identifier = field("identifier")
    result = service().forgot_password(identifier, ip=client_ip(), user_agent=user_agent())
    if isinstance(result, Ok):
        return follow(result)
    return refuse(result, "forgotten_password", {"member_number": "identifier"},
                  identifier=identifier)


def reset_link() -> View:
    """The reset link: GET shows the form (spends nothing); POST sets the new password."""
    asks_answer = reset_checks_answer(service().settings)
    if request.method != "POST":
        errors, _ = kept_form("reset_link")
        token = link_token()
        check = service().open_link(token, LinkPurpose.RESET_PASSWORD)
        if not check.valid:
            if errors is not None:
                # The POST found the link dead: say why (the same words as its refusal).
                return render("reset.html", token="", valid=False, errors=errors)
            return _dead_link("reset.html", check.reason)
        return _reset_page(token, asks_answer, errors)
    token = field("token")
    answer = field("answer") if asks_answer else None
    result = service().complete_reset(token, field("password"), field("confirmation"),
                                      answer=answer, ip=client_ip(), user_agent=user_agent())
    if isinstance(result, Ok):
        return follow(result)
    if result.reason in LINK_REASONS:
        return refuse(dead_link(result.reason), "reset_link")
    return refuse(result, "reset_link")


def _reset_page(token: str, asks_answer: bool, errors: FormErrors | None = None) -> Response:
    policy = service().settings.password_policy
    question_label = _reset_question(token) if asks_answer else None
    return render("reset.html", errors=errors, token=token, valid=True,
                  asks_answer=asks_answer, question_label=question_label,
                  rules=t("notice.password_rules", min_length=policy.min_length),
                  max_length=policy.max_length)


def _reset_question(token: str) -> str | None:
    """The member's own question, named on the reset form (only for a live reset link)."""
    found = service().reset_question(token)
    return found.label(lang()) if found is not None else None


def not_me_link() -> View:
    """"Ce n'était pas moi": GET explains; POST locks the account and ends its sessions."""
    if request.method != "POST":
        errors, _ = kept_form("not_me_link")
        if errors is not None:
            return render("not_me.html", token="", valid=False, errors=errors)
        token = link_token()
        check = service().open_link(token, LinkPurpose.NOT_ME)
        if not check.valid:
            return _dead_link("not_me.html", check.reason)
        return render("not_me.html", token=token, valid=True)
    result = service().confirm_not_me(field("token"), ip=client_ip(), user_agent=user_agent())
    if isinstance(result, Ok):
        state().log_out()
        return follow(result)
    return refuse(dead_link(result.reason), "not_me_link")


def email_change_link() -> View:
    """The link sent to a new address: GET shows a button; POST changes the address."""
    if request.method != "POST":
        errors, _ = kept_form("email_change_link")
        if errors is not None:
            return render("email_change_link.html", token="", valid=False, errors=errors)
        token = link_token()
        check = service().open_link(token, LinkPurpose.CHANGE_EMAIL)
        if not check.valid:
            return _dead_link("email_change_link.html", check.reason)
        return render("email_change_link.html", token=token, valid=True)
    # This browser's own session makes the new address a recovery channel at once.
    result = service().confirm_email_change(field("token"), ip=client_ip(),
                                            session=state().session)
    if isinstance(result, Ok):
        return follow(result)
    return refuse(dead_link(result.reason), "email_change_link")


def _dead_link(template: str, reason: Reason | None) -> Response:
    return render(template, 400, token="", valid=False, errors=form_errors(dead_link(reason)))
