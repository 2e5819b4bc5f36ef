"""One set of form field names in both frameworks (issue #14): each screen that Flask and
Django both render posts the same input names, so a host's own templates and scripts work
with either."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

pytest.importorskip("flask")

from django.test import Client

from cegema_onboarding.integrations.django.conf import get_service
from tests.integrations.flask.test_views import Env, post

from .helpers import body, last_link, path_of, post_form

# Each framework's anti-forgery field: named by the framework, not by the screens.
CSRF_FIELDS = {"csrf_token", "csrfmiddlewaretoken"}
EMAIL = "marie@example.org"
PASSWORD = "un mot de passe bien plus long que quinze"
SCREENS = ("login", "forgotten_password", "forgotten_identifier", "email", "code", "link",
           "password", "question")


class _Inputs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        name = dict(attrs).get("name")
        if tag in ("input", "select", "textarea", "button") and name:
            self.names.add(name)


def input_names(page: str) -> frozenset[str]:
    """The names a page's forms post, less the framework's CSRF field."""
    parser = _Inputs()
    parser.feed(page)
    return frozenset(parser.names - CSRF_FIELDS)


def flask_screens() -> dict[str, frozenset[str]]:
    env = Env()
    client = env.client()
    member = env.service.staff.provision("100234567", "Marie Dupont")
    found = {name: input_names(client.get(path).get_data(as_text=True)) for name, path in
             (("login", "/connexion"), ("forgotten_password", "/mot-de-passe-oublie"),
              ("forgotten_identifier", "/identifiant-oublie"))}
    post(client, "/connexion", {"identifier": "100234567", "password": member.initial_password})
    found["email"] = input_names(client.get("/premiere-connexion").get_data(as_text=True))
    post(client, "/premiere-connexion", {"email": EMAIL, "confirmation": EMAIL})
    found["code"] = input_names(client.get("/premiere-connexion/code").get_data(as_text=True))
    link = env.path_of(env.last_link())
    found["link"] = input_names(client.get(link, follow_redirects=True).get_data(as_text=True))
    r = post(client, link.split("?")[0], {"token": link.split("token=")[1]}, token_from=link)
    found["password"] = input_names(client.get(r.location).get_data(as_text=True))
    r = post(client, "/mot-de-passe", {"password": PASSWORD, "confirmation": PASSWORD})
    found["question"] = input_names(client.get(r.location).get_data(as_text=True))
    return found


def django_screens() -> dict[str, frozenset[str]]:
    client = Client(enforce_csrf_checks=True)
    member = get_service().staff.provision("100234567", "Marie Dupont")

    def names(path: str) -> frozenset[str]:
        return input_names(body(client.get(path, follow=True)))

    found = {"login": names("/connexion/"), "forgotten_password": names("/mot-de-passe-oublie/"),
             "forgotten_identifier": names("/identifiant-oublie/")}
    post_form(client, "/connexion/", "/connexion/",
              {"identifier": "100234567", "password": member.initial_password})
    found["email"] = names("/premiere-connexion/")
    post_form(client, "/premiere-connexion/", "/premiere-connexion/email/",
              {"email": EMAIL, "confirmation": EMAIL})
    found["code"] = names("/premiere-connexion/code/")
    link = path_of(last_link())
    found["link"] = names(link)
    post_form(client, link, link.split("?")[0], {"token": link.split("token=")[1]})
    found["password"] = names("/premiere-connexion/")
    post_form(client, "/premiere-connexion/", "/premiere-connexion/mot-de-passe/",
              {"password": PASSWORD, "confirmation": PASSWORD})
    found["question"] = names("/premiere-connexion/")
    return found


@pytest.mark.django_db
def test_both_frameworks_post_the_same_field_names_on_every_shared_screen() -> None:
    flask, django = flask_screens(), django_screens()
    assert set(flask) == set(django) == set(SCREENS)
    differ = {screen: (sorted(flask[screen]), sorted(django[screen])) for screen in SCREENS
              if flask[screen] != django[screen]}
    assert differ == {}, differ


def test_the_parser_sees_every_kind_of_field() -> None:
    page = ('<form><input name="a"><select name="b"></select><textarea name="c"></textarea>'
            '<input type="hidden" name="csrfmiddlewaretoken"><button name="d"></button></form>')
    assert input_names(page) == {"a", "b", "c", "d"}




@pytest.mark.django_db
def test_the_walk_reaches_each_screen_with_its_fields() -> None:
    # Guards the comparison above against two empty pages comparing equal.
    django = django_screens()
    assert django["login"] >= {"identifier", "password", "remember"}
    assert {"email", "confirmation"} <= django["email"]
    assert "code" in django["code"] and "token" in django["link"]
    assert django["password"] >= {"password", "confirmation"}
    assert django["question"] >= {"question", "answer", "confirmation"}
