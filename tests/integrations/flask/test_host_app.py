"""What a host app gets (issue #14): who is logged in, ``member_required``, a safe
``next``, the completion signal, Flask-Login, the host's own ``/``, its layout and the CSP."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("flask")

from flask import Flask, render_template_string
from flask.testing import FlaskClient

from cegema_onboarding.adapters.memory import (
    ManualClock,
    MemoryMailer,
    MemoryNotifier,
    MemoryStorage,
)
from cegema_onboarding.errors import ConfigurationError
from cegema_onboarding.integrations._web import safe_next
from cegema_onboarding.integrations.flask import (
    Member,
    Onboarding,
    journey_completed,
    member_required,
)
from cegema_onboarding.service import OnboardingService

from ...conftest import GOOD_PASSWORD, START, link_token, make_settings

SESSION_KEY = "flask-host-tests-session-key-0123456789abcdef"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
NUMBER = "100234567"


class Host:
    """A host app with its own ``/`` and a members-only page, and the onboarding."""

    def __init__(self, *, home_first: bool = True, template_folder: str | None = None,
                 **config: Any) -> None:
        self.mailer = MemoryMailer()
        self.service = OnboardingService(MemoryStorage(), self.mailer, settings=make_settings(),
                                         clock=ManualClock(START), notifier=MemoryNotifier())
        app = Flask(__name__, template_folder=template_folder)
        app.config.update({"SECRET_KEY": SESSION_KEY, "TESTING": True, **config})
        if home_first:
            app.add_url_rule("/", "home", lambda: "host home")
        self.onboarding = Onboarding(app, service=self.service)
        if not home_first:
            app.add_url_rule("/", "home", lambda: "host home")

        @app.get("/espace-membre")
        @member_required
        def members_only() -> str:
            member = Onboarding.current_member()
            assert member is not None
            return f"members only: {member.display_name}"

        self.app = app
        self.initial = self.service.staff.provision(NUMBER, "Marie Dupont").initial_password

    def client(self) -> FlaskClient:
        return self.app.test_client()


def post(client: FlaskClient, path: str, data: dict[str, str], *, form: str | None = None
         ) -> Any:
    page = client.get(form or path, follow_redirects=True).get_data(as_text=True)
    found = CSRF.search(page)
    assert found is not None, f"no form on {form or path}"
    return client.post(path, data={**data, "csrf_token": found.group(1)})


def log_in(client: FlaskClient, password: str) -> Any:
    return post(client, "/connexion", {"identifier": NUMBER, "password": password})


def walk_to_question(host: Host, client: FlaskClient) -> str:
    """From the initial-password login to the secret question; the question's id."""
    assert log_in(client, host.initial).location == "/premiere-connexion"
    post(client, "/premiere-connexion", {"email": "marie@example.com",
                                         "confirmation": "marie@example.com"})
    token = link_token(host.mailer)
    post(client, "/premiere-connexion/valider", {"token": token},
         form=f"/premiere-connexion/valider?token={token}")
    post(client, "/mot-de-passe", {"password": GOOD_PASSWORD, "confirmation": GOOD_PASSWORD})
    return next(iter(host.service.settings.questions)).id


def walk_journey(host: Host, client: FlaskClient) -> Any:
    """From the initial-password login to the profile; the last response."""
    question = walk_to_question(host, client)
    return post(client, "/question-secrete", {"question": question, "answer": "Rex le chien",
                                              "confirmation": "Rex le chien"})


@pytest.fixture
def host() -> Host:
    return Host()


# ---------------------------------------------------------------------- safe next


@pytest.mark.parametrize("url", ["/espace-membre", "/a/b?x=1&y=2", "/profil#top", "/"])
def test_safe_next_keeps_paths_of_this_site(url: str) -> None:
    assert safe_next(url) == url


@pytest.mark.parametrize("url", [
    None, "", "//evil.example", "///evil.example", "/\\evil.example", "\\\\evil.example",
    "https://evil.example/", "javascript:alert(1)", "evil.example/x", "profil",
    "/x\r\nSet-Cookie: a=b", "/\t/evil.example", "/x\x00", "/x\x7f", "/" + "a" * 2000,
])
def test_safe_next_refuses_anything_that_could_leave_the_site(url: str | None) -> None:
    assert safe_next(url) is None


# ---------------------------------------------------------------------- current_member


def test_current_member_is_none_for_a_stranger_and_not_onboarded_inside_the_journey(
        host: Host) -> None:
    client = host.client()
    seen: list[Member | None] = []
    host.app.add_url_rule("/who", "who", lambda: str(seen.append(
        Onboarding.current_member())))
    client.get("/who")
    assert log_in(client, host.initial).status_code == 303
    client.get("/who")
    assert seen[0] is None
    inside = seen[1]
    # Logged in with the initial password: a member, but never a finished one.
    assert inside is not None and inside.member_number == NUMBER
    assert inside.display_name == "Marie Dupont"
    assert inside.onboarded is False and inside.is_authenticated is False
    walk_journey(host, host.client())  # another browser finishes the journey
    done_client = host.client()
    log_in(done_client, GOOD_PASSWORD)
    with host.app.test_request_context():
        assert Onboarding.current_member() is None
    done_client.get("/who")
    done = seen[2]
    assert done is not None and done.onboarded and done.is_authenticated
    assert done.get_id() == done.account_id and not done.is_anonymous


def test_current_member_is_a_template_global_in_host_templates(host: Host) -> None:
    host.app.add_url_rule("/hello", "hello", lambda: render_template_string(
        "{% if current_member %}{{ current_member.display_name }}"
        "{{ ' onboarded' if current_member.onboarded else ' in the journey' }}"
        "{% else %}nobody{% endif %}"))
    client = host.client()
    assert client.get("/hello").get_data(as_text=True) == "nobody"
    log_in(client, host.initial)
    assert client.get("/hello").get_data(as_text=True) == "Marie Dupont in the journey"


# ---------------------------------------------------------------------- member_required, next


def test_member_required_sends_a_stranger_to_log_in_and_back_after_the_journey(
        host: Host) -> None:
    client = host.client()
    r = client.get("/espace-membre?tab=1")
    assert r.status_code == 303
    assert r.location == "/connexion?next=/espace-membre?tab%3D1"
    client.get(r.location)
    last = walk_journey(host, client)
    # The journey done, the member lands where they wanted to go, not on the profile.
    assert last.location == "/espace-membre?tab=1"
    assert client.get(last.location).get_data(as_text=True) == "members only: Marie Dupont"


def test_member_required_sends_a_member_in_the_journey_to_their_screen(host: Host) -> None:
    client = host.client()
    log_in(client, host.initial)
    r = client.get("/espace-membre")
    assert r.status_code == 303 and r.location == "/premiere-connexion"


def test_login_honours_a_safe_next_for_an_onboarded_member(host: Host) -> None:
    walk_journey(host, host.client())
    client = host.client()
    client.get("/connexion?next=/espace-membre")
    assert log_in(client, GOOD_PASSWORD).location == "/espace-membre"
    # Spent: the next login goes to the profile.
    post(client, "/deconnexion", {}, form="/profil")
    assert log_in(client, GOOD_PASSWORD).location == "/profil"


@pytest.mark.parametrize("unsafe", ["//evil.example/x", "https://evil.example/",
                                    "/\\evil.example"])
def test_login_ignores_an_unsafe_next(host: Host, unsafe: str) -> None:
    walk_journey(host, host.client())
    client = host.client()
    client.get("/connexion", query_string={"next": unsafe})
    assert log_in(client, GOOD_PASSWORD).location == "/profil"


# ---------------------------------------------------------------------- the signal


def test_journey_completed_is_sent_once_per_account(host: Host) -> None:
    received: list[tuple[object, Member]] = []

    def listener(sender: object, member: Member) -> None:
        received.append((sender, member))

    with journey_completed.connected_to(listener):
        client = host.client()
        walk_journey(host, client)
        client.get("/profil")
        client.get("/mon-espace")
        post(client, "/deconnexion", {}, form="/profil")
        log_in(client, GOOD_PASSWORD)
        client.get("/profil")
    assert len(received) == 1
    sender, member = received[0]
    assert sender is host.app
    assert member.member_number == NUMBER and member.onboarded


def test_completing_the_journey_reads_the_account_for_the_signal_only_when_it_is_heard(
        host: Host, monkeypatch: pytest.MonkeyPatch) -> None:
    reads: list[str] = []
    get = host.service.storage.get

    def counting_get(account_id: str) -> Any:
        reads.append(account_id)
        return get(account_id)

    monkeypatch.setattr(host.service.storage, "get", counting_get)

    # No listener (the signal's existing test has one): the POST that completes the
    # journey reads the account once, for its own step, not again for a Member to announce.
    client = host.client()
    question = walk_to_question(host, client)
    page = client.get("/question-secrete").get_data(as_text=True)
    found = CSRF.search(page)
    assert found is not None
    reads.clear()
    response = client.post("/question-secrete", data={
        "question": question, "answer": "Rex le chien", "confirmation": "Rex le chien",
        "csrf_token": found.group(1)})
    assert response.status_code == 303 and response.location == "/profil"
    assert len(reads) == 1, reads


# ---------------------------------------------------------------------- Flask-Login


def test_flask_login_login_required_admits_onboarded_members_only(host: Host) -> None:
    flask_login = pytest.importorskip("flask_login")
    manager = flask_login.LoginManager(host.app)
    host.onboarding.use_flask_login(manager)

    @host.app.get("/contrats")
    @flask_login.login_required
    def contracts() -> str:
        return f"contracts of {flask_login.current_user.member_number}"

    client = host.client()
    r = client.get("/contrats")
    assert r.status_code == 302 and r.location.startswith("/connexion?next=")
    assert safe_next(r.location.split("next=")[1].replace("%2F", "/")) == "/contrats"
    log_in(client, host.initial)
    # Inside the journey: still not logged in for the host's pages.
    assert client.get("/contrats").status_code == 302
    client.get("/connexion?next=/contrats")
    last = walk_journey(host, client)
    assert last.location == "/contrats"
    assert client.get("/contrats").get_data(as_text=True) == f"contracts of {NUMBER}"


# ---------------------------------------------------------------------- the host's "/"


@pytest.mark.parametrize("home_first", [True, False])
def test_the_hosts_own_home_page_keeps_answering(home_first: bool) -> None:
    host = Host(home_first=home_first)
    client = host.client()
    assert client.get("/").get_data(as_text=True) == "host home"
    log_in(client, host.initial)
    assert client.get("/").get_data(as_text=True) == "host home"
    # The blueprint's entry has a path of its own.
    assert client.get("/mon-espace").location == "/premiere-connexion"


def test_without_a_home_of_its_own_the_root_is_still_not_the_blueprints() -> None:
    bare = Flask(__name__)
    bare.config.update(SECRET_KEY=SESSION_KEY, TESTING=True)
    Onboarding(bare, service=Host().service)
    assert bare.test_client().get("/").status_code == 404
    assert "/" not in {rule.rule for rule in bare.url_map.iter_rules()}


def test_the_root_redirect_is_an_explicit_opt_in() -> None:
    host = Host(home_first=False, CEGEMA_ONBOARDING_ROOT_REDIRECT=True)
    # Registered before the host's own "/", the opted-in redirect answers it.
    assert host.client().get("/").location == "/connexion"


def test_a_url_prefix_keeps_every_route_under_it() -> None:
    host = Host(CEGEMA_ONBOARDING_URL_PREFIX="/espace")
    client = host.client()
    assert client.get("/").get_data(as_text=True) == "host home"
    assert client.get("/connexion").status_code == 404
    assert client.get("/espace/connexion").status_code == 200
    r = client.get("/espace-membre")
    assert r.location == "/espace/connexion?next=/espace-membre"


# ---------------------------------------------------------------------- layout and CSP


@pytest.fixture
def layout_folder(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / "layout.html").write_text(
        "<!DOCTYPE html><html lang=\"{{ lang }}\"><head><title>{% block title %}{% endblock %}"
        " | Mon portail</title>{% block head %}{% endblock %}"
        "<script nonce=\"{{ csp_nonce }}\">window.portal = 1;</script></head><body>"
        "<nav>PORTAL NAV {% include 'cegema_onboarding/_account_nav.html' %}</nav>"
        "{% include 'cegema_onboarding/_notice.html' %}"
        "<main>{% block content %}{% endblock %}</main></body></html>", encoding="utf-8")
    yield tmp_path


def test_the_screens_render_inside_the_hosts_layout(layout_folder: Path) -> None:
    host = Host(template_folder=str(layout_folder), CEGEMA_ONBOARDING_LAYOUT="layout.html")
    client = host.client()
    page = client.get("/connexion")
    body = page.get_data(as_text=True)
    assert body.startswith("<!DOCTYPE html><html lang=\"fr\">")
    assert "| Mon portail</title>" in body and "PORTAL NAV" in body
    assert "onboarding.css" in body  # the head block keeps the screens' stylesheet
    assert 'class="lang-switch"' in body and 'name="identifier"' in body
    # The layout's inline script carries this response's nonce, which the CSP allows.
    nonce = re.search(r'<script nonce="([^"]+)">', body)
    assert nonce is not None
    policy = page.headers["Content-Security-Policy"]
    script_src = next(d for d in policy.split("; ") if d.startswith("script-src "))
    assert f"'nonce-{nonce.group(1)}'" in script_src.split()
    assert "'unsafe-inline'" not in policy
    # The next response has a nonce of its own.
    assert nonce.group(1) not in client.get("/connexion").headers["Content-Security-Policy"]
    log_in(client, host.initial)
    journey = client.get("/premiere-connexion").get_data(as_text=True)
    assert 'action="/deconnexion"' in journey  # the logout form, for a logged-in browser


def test_the_default_page_has_the_three_blocks_and_a_strict_policy(host: Host) -> None:
    page = host.client().get("/connexion")
    policy = dict(d.split(" ", 1) for d in page.headers["Content-Security-Policy"].split("; "))
    assert policy["default-src"] == "'self'" and policy["object-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'" and policy["base-uri"] == "'none'"
    assert re.fullmatch(r"'self' 'nonce-[A-Za-z0-9_\-]{22}'", policy["script-src"])
    assert policy["style-src"] == policy["script-src"]


def test_the_policy_is_a_setting(tmp_path: Path) -> None:
    host = Host(CEGEMA_ONBOARDING_CSP={"default-src": ["'self'"],
                                       "img-src": ["'self'", "https://cdn.example"],
                                       "script-src": ["'none'"]})
    policy = host.client().get("/connexion").headers["Content-Security-Policy"]
    assert "img-src 'self' https://cdn.example" in policy
    assert re.search(r"script-src 'nonce-[^']+'(;|$)", policy)  # 'none' gave way to the nonce


@pytest.mark.parametrize("bad", ["default-src 'self'", {}, {"default-src": "'self'"},
                                 {"default-src": ["'self'; script-src *"]}])
def test_a_malformed_policy_is_refused_at_start_up(bad: object) -> None:
    with pytest.raises(ConfigurationError, match="CEGEMA_ONBOARDING_CSP"):
        Host(CEGEMA_ONBOARDING_CSP=bad)

