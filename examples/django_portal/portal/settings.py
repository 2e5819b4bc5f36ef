"""Settings of the example portal: SQLite, console email, the onboarding app.

Development only. Keys come from the environment when set; the fallbacks below are
public, so never deploy them. A real deployment sets DEBUG off, an https BASE_URL and
real keys, and ``manage.py check --deploy`` then has nothing to say about this app.
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = os.environ.get("PORTAL_DEBUG", "1") == "1"
SECRET_KEY = os.environ.get(
    "PORTAL_DJANGO_SECRET_KEY", "dev-only-django-secret-key-change-me-0123456789-abcdefgh")
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "cegema_onboarding.integrations.django",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Ends a member's other sessions when their password changes.
    "cegema_onboarding.integrations.django.middleware.SessionEpochMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",  # staff, for the admin
    "cegema_onboarding.integrations.django.backends.OnboardingBackend",  # members
]

ROOT_URLCONF = "portal.urls"
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "DIRS": [BASE_DIR / "templates"],
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]},
}]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("PORTAL_DB", str(BASE_DIR / "db.sqlite3")),
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", "Français"), ("en", "English")]
TIME_ZONE = "Europe/Paris"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"

# Mail goes to the terminal running runserver: the validation link is printed there.
EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"

LOGIN_URL = "cegema_onboarding:login"

CEGEMA_ONBOARDING = {
    "SECRET_KEYS": [os.environ.get(
        "PORTAL_SIGNING_KEY", "dev-only-link-signing-key-change-me-0123456789-abcdefgh")],
    "PEPPER_KEYS": [("dev1", os.environ.get(
        "PORTAL_PEPPER_KEY", "dev-only-pepper-key-keep-out-of-the-db-0123456789-abcd"))],
    # Links in mails point here, whatever Host header a request carries.
    "BASE_URL": os.environ.get("PORTAL_BASE_URL", "http://127.0.0.1:8000"),
    # Secret questions stay on (the guide's step 7); a reset needs the link and the answer.
    "RECOVERY_POLICY": "link_and_answer",
    # Members without email are told by post, SMS or phone: here, in the terminal.
    "NOTIFIER": "portal.notifier.ConsoleNotifier",
}
