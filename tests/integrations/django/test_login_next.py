"""``next`` after login (issue #14): only paths on this site, never another host."""

from __future__ import annotations

import pytest

from cegema_onboarding.integrations.django.views.auth import safe_next
from cegema_onboarding.service import OnboardingService

from ...conftest import GOOD_PASSWORD
from .helpers import body, csrf_client, post_form
from .test_account_life import onboard

pytestmark = pytest.mark.django_db

UNSAFE = ["//evil.example", "https://evil.example", "https://evil.example/members/",
          "/\\evil", "\\\\evil.example", "http://testserver/members/", "javascript:alert(1)",
          "members/", "cegema_onboarding:logout", "", "/" + "x" * 5000]


@pytest.mark.parametrize("value", UNSAFE)
def test_unsafe_next_values_are_dropped(value: str) -> None:
    assert safe_next(value) == ""


@pytest.mark.parametrize("value", ["/members/", "/members/?tab=2", "/"])
def test_paths_on_this_site_are_kept(value: str) -> None:
    assert safe_next(value) == value


def log_in(next_url: str) -> object:
    client = csrf_client()
    page = f"/connexion/?next={next_url}"
    return post_form(client, page, "/connexion/",
                     {"identifier": "100234567", "password": GOOD_PASSWORD, "next": next_url})


def test_an_onboarded_member_goes_to_next(dj_service: OnboardingService) -> None:
    onboard(dj_service)
    response = log_in("/members/")
    assert response.status_code == 302  # type: ignore[attr-defined]
    assert response["Location"] == "/members/"  # type: ignore[index]


@pytest.mark.parametrize("value", ["//evil.example", "https://evil.example", "/\\evil"])
def test_another_site_in_next_leads_to_the_profile(dj_service: OnboardingService,
                                                   value: str) -> None:
    onboard(dj_service)
    response = log_in(value)
    assert response["Location"] == "/profil/"  # type: ignore[index]


def test_the_login_page_carries_a_safe_next_into_its_form() -> None:
    client = csrf_client()
    assert 'name="next" value="/members/"' in body(client.get("/connexion/?next=/members/"))
    assert 'name="next"' not in body(client.get("/connexion/?next=//evil.example"))


def test_a_member_in_the_journey_goes_on_with_it(dj_service: OnboardingService) -> None:
    member = dj_service.staff.provision("100234567", "Marie Dupont")
    response = post_form(csrf_client(), "/connexion/?next=/members/", "/connexion/",
                         {"identifier": "100234567", "password": member.initial_password,
                          "next": "/members/"})
    assert response["Location"] == "/premiere-connexion/"  # type: ignore[index]


def test_the_page_next_asked_for_comes_once_the_journey_is_done(
        dj_service: OnboardingService) -> None:
    from .helpers import last_link, path_of

    member = dj_service.staff.provision("100234567", "Marie Dupont")
    client = csrf_client()
    post_form(client, "/connexion/?next=/members/?tab=2", "/connexion/",
              {"identifier": "100234567", "password": member.initial_password,
               "next": "/members/?tab=2"})
    journey = "/premiere-connexion/"
    post_form(client, journey, "/premiere-connexion/email/",
              {"email": "marie@example.com", "confirmation": "marie@example.com"})
    link = last_link()
    post_form(client, path_of(link), "/premiere-connexion/valider",
              {"token": link.split("token=")[1]})
    response = post_form(client, journey, "/premiere-connexion/mot-de-passe/",
                         {"password": GOOD_PASSWORD, "confirmation": GOOD_PASSWORD})
    assert response["Location"] == journey  # type: ignore[index]  (not done yet)
    question = next(iter(dj_service.settings.questions)).id
    response = post_form(client, journey, "/premiere-connexion/question/",
                         {"question": question, "answer": "Martin", "confirmation": "Martin"})
    assert response["Location"] == "/members/?tab=2"  # type: ignore[index]
    # Once only: the next time the journey's end is not reached again anyway.
    assert "cegema_onboarding.next" not in client.session

