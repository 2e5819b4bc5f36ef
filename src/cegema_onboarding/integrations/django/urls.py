"""The app's URLs. Include them at the path that ``BASE_URL`` points to::

    path("", include("cegema_onboarding.integrations.django.urls"))

The link routes follow the configured ``LINK_PATHS`` (by default the library's French
paths), so the links in mails and these routes always agree.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.core.exceptions import ImproperlyConfigured
from django.urls import URLPattern, path

from ...config import DEFAULT_LINK_PATHS
from ...model import LinkPurpose
from . import views
from .conf import library_settings
from .views._common import member_language

app_name = "cegema_onboarding"


def _link_paths() -> Mapping[LinkPurpose, str]:
    try:
        return library_settings().link_paths
    except ImproperlyConfigured:
        # Settings errors are reported by the system checks; keep the URLconf loadable.
        return DEFAULT_LINK_PATHS


def _route(purpose: LinkPurpose) -> str:
    return _link_paths()[purpose].lstrip("/")


urlpatterns: list[URLPattern] = [
    path("connexion/", views.login, name="login"),
    path("deconnexion/", views.logout, name="logout"),
    path("premiere-connexion/", views.journey, name="journey"),
    path("premiere-connexion/email/", views.submit_email, name="submit_email"),
    path("premiere-connexion/sans-email/", views.no_email, name="no_email"),
    path("premiere-connexion/renvoyer/", views.resend_link, name="resend_link"),
    path("premiere-connexion/modifier-adresse/", views.change_email, name="change_email"),
    path("premiere-connexion/code/", views.submit_code, name="submit_code"),
    path("premiere-connexion/mot-de-passe/", views.set_password, name="set_password"),
    path("premiere-connexion/question/", views.set_question, name="set_question"),
    path(_route(LinkPurpose.VERIFY_EMAIL), views.confirm_link, name="confirm_link"),
    path(_route(LinkPurpose.RESET_PASSWORD), views.reset_link, name="reset_link"),
    path(_route(LinkPurpose.NOT_ME), views.not_me_link, name="not_me_link"),
    path(_route(LinkPurpose.CHANGE_EMAIL), views.email_change_link, name="email_change_link"),
    path("mot-de-passe-oublie/", views.forgotten_password, name="forgotten_password"),
    path("identifiant-oublie/", views.forgotten_identifier, name="forgotten_identifier"),
    path("profil/", views.profile, name="profile"),
    path("profil/mot-de-passe/", views.change_password, name="change_password"),
    path("profil/email/", views.request_email_change, name="request_email_change"),
    path("profil/appareils/oublier/", views.forget_devices, name="forget_devices"),
]

# Every page answers ?lang=fr / ?lang=en (the language switch of the pages' context).
for _pattern in urlpatterns:
    _pattern.callback = member_language(_pattern.callback)
