"""Settings of the example portal: SQLite, console email, and the onboarding app.

Everything above the ``cegema: begin`` marker is the portal's own, as any Django site has
it; the marked lines at the end are the whole integration, and tests count them. Keys come
from the environment (``CEGEMA_SECRET_KEYS``, ``CEGEMA_PEPPER_KEYS``, ``CEGEMA_BASE_URL``: the
names ``cegema-onboarding`` reads too); with
DEBUG on, missing ones are made once and kept in ``cegema-dev-keys.json``, for development
only. A deployment sets ``PORTAL_DEBUG=0`` and real keys, and ``manage.py check --deploy``
then has nothing to say about the onboarding app.
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
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
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

# Development: mail goes to the terminal running runserver, validation link included.
EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"

# Production (DEBUG off): cookies only over https, as any deployed site sets them.
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = not DEBUG

# cegema: begin
from cegema_onboarding.integrations.django.environ import BACKEND, from_environ  # noqa: E402

INSTALLED_APPS += ["cegema_onboarding.integrations.django"]
MIDDLEWARE += ["cegema_onboarding.integrations.django.middleware.SessionEpochMiddleware"]
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend", BACKEND]
LOGIN_URL = "cegema_onboarding:login"
CEGEMA_ONBOARDING = from_environ(debug=DEBUG, dev_dir=BASE_DIR, RECOVERY_POLICY="link_and_answer")
# cegema: end
