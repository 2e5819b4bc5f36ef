"""Only a POST submits a form: HEAD (which Flask answers on every GET route) shows the page.

A view that took every method but GET for a submission let a body-less HEAD, an uptime
probe say, log in, submit an email, spend a mailed link or count against the login limit,
with no CSRF token checked (the extension checks it on POST). The first test sends a HEAD
with a full form body to every route that takes both GET and POST, at every stage of a
member's life, and asserts that the storage is exactly as it was.
"""

from __future__ import annotations

from typing import Any

import pytest

flask = pytest.importorskip("flask")

from cegema_onboarding.adapters.memory import MemoryStorage  # noqa: E402
from cegema_onboarding.integrations.flask._context import BLUEPRINT  # noqa: E402

from ...conftest import GOOD_PASSWORD  # noqa: E402
from .test_views import Env, csrf  # noqa: E402

NUMBER = "100234567"


def snapshot(storage: MemoryStorage) -> tuple[Any, ...]:
    """Everything the memory storage holds (its values are frozen, comparable records)."""
    return (dict(storage._accounts), dict(storage._throttles), dict(storage._outbox),
            list(storage._audit), dict(storage._decoys))


def body(env: Env, token: str, initial: str) -> dict[str, str]:
    """A form body every view would accept on POST, CSRF token included."""
    question = next(iter(env.service.settings.questions)).id
    return {"csrf_token": token, "identifier": NUMBER, "password": initial,
            "confirmation": "marie@example.com", "email": "marie@example.com",
            "current_password": GOOD_PASSWORD, "new_password": GOOD_PASSWORD,
            "question": question, "answer": "Rex le chien", "code": "123456",
            "token": "x", "name": "Marie Dupont"}


def form_routes(env: Env) -> list[str]:
    """Every path of the blueprint that takes both GET and POST, without arguments."""
    return sorted(rule.rule for rule in env.app.url_map.iter_rules()
                  if rule.endpoint.startswith(f"{BLUEPRINT}.") and not rule.arguments
                  and {"GET", "POST"} <= (rule.methods or set()))


def head_everywhere(env: Env, client: Any, initial: str) -> None:
    token = csrf(client)
    routes = form_routes(env)
    assert len(routes) >= 10, routes  # the journey's screens, the profile's, recovery
    for path in routes:
        before = snapshot(env.storage)
        response = client.open(path, method="HEAD", data=body(env, token, initial))
        assert response.status_code < 500, path
        assert snapshot(env.storage) == before, f"HEAD {path} changed the storage"


def test_no_head_changes_anything_at_any_stage() -> None:
    env = Env()
    member = env.service.staff.provision(NUMBER, "Marie Dupont")
    anonymous = env.client()
    head_everywhere(env, anonymous, member.initial_password)
    # Logged in, at the email step: the POST would have queued a validation mail.
    client = env.client()
    login = client.post("/connexion", data={"csrf_token": csrf(client), "identifier": NUMBER,
                                            "password": member.initial_password})
    assert login.status_code == 303
    head_everywhere(env, client, member.initial_password)
    # An active member: profile, email and password changes, the secret question.
    other = Env()
    active = other.active_member()
    signed = other.client()
    assert signed.post("/connexion", data={"csrf_token": csrf(signed), "identifier": NUMBER,
                                           "password": GOOD_PASSWORD}).status_code == 303
    head_everywhere(other, signed, active.initial_password)


def test_a_head_with_credentials_does_not_log_in() -> None:
    env = Env()
    member = env.service.staff.provision(NUMBER, "Marie Dupont")
    client = env.client()
    token = csrf(client)
    response = client.open("/connexion", method="HEAD", data={
        "csrf_token": token, "identifier": NUMBER, "password": member.initial_password})
    assert response.status_code == 200 and response.get_data() == b""
    # Still the login form: nobody is logged in.
    assert 'name="identifier"' in client.get("/connexion").get_data(as_text=True)


def test_head_probes_do_not_count_against_the_login_limit() -> None:
    env = Env()
    member = env.service.staff.provision(NUMBER, "Marie Dupont")
    probe = env.client()
    for _ in range(40):
        assert probe.open("/connexion", method="HEAD").status_code == 200
    client = env.client()
    response = client.post("/connexion", data={"csrf_token": csrf(client), "identifier": NUMBER,
                                               "password": member.initial_password})
    assert response.status_code == 303


def test_a_head_on_a_mailed_link_leaves_it_usable() -> None:
    env = Env()
    member = env.service.staff.provision(NUMBER, "Marie Dupont")
    client = env.client()
    client.post("/connexion", data={"csrf_token": csrf(client), "identifier": NUMBER,
                                    "password": member.initial_password})
    email = "marie@example.com"
    client.post("/premiere-connexion", data={"csrf_token": csrf(client, "/premiere-connexion"),
                                             "email": email, "confirmation": email})
    link = env.path_of(env.last_link())
    path, token = link.split("?token=")
    # A mail scanner's HEAD on the link itself, then one with the token in a body.
    assert client.open(link, method="HEAD").status_code in (200, 303)
    client.open(path, method="HEAD", data={"csrf_token": csrf(client, link), "token": token})
    page = client.get(link, follow_redirects=True).get_data(as_text=True)
    confirmed = client.post(path, data={"csrf_token": csrf(client, link), "token": token})
    assert confirmed.status_code == 303, page
    assert env.storage.get(env.storage.find_by_member_number(NUMBER).account_id) \
        .stage.name != "EMAIL_REQUIRED"  # type: ignore[union-attr]
