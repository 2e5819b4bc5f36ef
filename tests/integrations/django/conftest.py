"""Django settings for tests/integrations/django only, so the rest of the suite never needs Django.

Settings are configured when this directory is collected. The ``default`` database is
SQLite, handled by pytest-django's ``django_db`` mark. ``pg`` is the throw-away PostgreSQL
server of tests/pg.py: the ``pg_db`` fixture fills in its address, creates and migrates a
test database there on first use, and empties the app's tables after each test. Tests on
``pg`` use ``pg_db`` instead of the ``django_db`` mark, so threads may share the database.
``sqlite_file`` is the same for SQLite (the ``sqlite_file_db`` fixture): a database file,
where threads commit for real, as processes do (the in-memory ``default`` shares one cache
between threads, whose table locks never wait).
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

if importlib.util.find_spec("django") is None or importlib.util.find_spec("pytest_django") is None:
    collect_ignore_glob = ["*.py"]
else:
    import django
    from django.conf import settings as django_settings

    from cegema_onboarding.adapters.memory import ManualClock
    from cegema_onboarding.hashing import FAST_TEST_PARAMS
    from tests.conftest import PEPPER, SECRET, START
    from tests.pg import pg_server_url  # noqa: F401  (fixture)

    TEST_CLOCK = ManualClock(START)
    BASE_URL = "https://portail.example"

    def onboarding_config(**overrides: Any) -> dict[str, Any]:
        """The CEGEMA_ONBOARDING dict of the tests, with fast hashes and the test clock."""
        config: dict[str, Any] = {
            "SECRET_KEYS": [SECRET],
            "PEPPER_KEYS": [("t1", PEPPER)],
            "BASE_URL": BASE_URL,
            "ARGON2": FAST_TEST_PARAMS,
            "CLOCK": TEST_CLOCK,
            "RECOVERY_POLICY": "link_and_answer",
        }
        config.update(overrides)
        return config

    # A folder of this run's own for the sqlite_file alias, removed when the run ends.
    _SQLITE_FILE_DIR = tempfile.mkdtemp(prefix="cegema-django-")
    atexit.register(shutil.rmtree, _SQLITE_FILE_DIR, ignore_errors=True)
    _SQLITE_FILE_DEFAULT = os.path.join(_SQLITE_FILE_DIR, "unused.sqlite3")

    if not django_settings.configured:
        django_settings.configure(
            DEBUG=False,
            SECRET_KEY="django-test-secret-key-not-used-for-onboarding-0123456789",
            ALLOWED_HOSTS=["testserver", "portail.example", "evil.example"],
            USE_TZ=True,
            TIME_ZONE="Europe/Paris",
            LANGUAGE_CODE="fr",
            LANGUAGES=[("fr", "Français"), ("en", "English")],
            USE_I18N=True,
            INSTALLED_APPS=[
                "django.contrib.admin",
                "django.contrib.auth",
                "django.contrib.contenttypes",
                "django.contrib.sessions",
                "django.contrib.messages",
                "cegema_onboarding.integrations.django",
            ],
            MIDDLEWARE=[
                "django.middleware.security.SecurityMiddleware",
                "django.contrib.sessions.middleware.SessionMiddleware",
                "django.middleware.locale.LocaleMiddleware",
                "django.middleware.common.CommonMiddleware",
                "django.middleware.csrf.CsrfViewMiddleware",
                "django.contrib.auth.middleware.AuthenticationMiddleware",
                "cegema_onboarding.integrations.django.middleware.SessionEpochMiddleware",
                "django.contrib.messages.middleware.MessageMiddleware",
            ],
            AUTHENTICATION_BACKENDS=[
                "django.contrib.auth.backends.ModelBackend",
                "cegema_onboarding.integrations.django.backends.OnboardingBackend",
            ],
            ROOT_URLCONF="tests.integrations.django.urls",
            LOGIN_URL="cegema_onboarding:login",
            TEMPLATES=[{
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "APP_DIRS": True,
                "OPTIONS": {"context_processors": [
                    "django.template.context_processors.request",
                    "django.contrib.auth.context_processors.auth",
                    "django.contrib.messages.context_processors.messages",
                ]},
            }],
            DATABASES={
                "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"},
                # Filled in from tests/pg.py's server by django_db_setup below.
                "pg": {"ENGINE": "django.db.backends.postgresql", "NAME": "postgres",
                       "HOST": "127.0.0.1", "PORT": "1", "USER": "test",
                       "TEST": {"NAME": "cegema_django_test", "DEPENDENCIES": []}},
                # Its file is placed in a temporary folder by sqlite_file_alias below.
                # Never a file in the working tree: whatever opens the alias before that
                # fixture (a system check of every database) finds it in a folder of its own.
                "sqlite_file": {"ENGINE": "django.db.backends.sqlite3",
                                "NAME": _SQLITE_FILE_DEFAULT,
                                "TEST": {"NAME": _SQLITE_FILE_DEFAULT, "DEPENDENCIES": []}},
            },
            PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
            EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
            DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
            # The live server of the browser walk serves static files under it.
            STATIC_URL="/static/",
            CEGEMA_ONBOARDING=onboarding_config(),
        )
        django.setup()

    @pytest.fixture(scope="session")
    def pg_alias(pg_server_url: str, django_db_blocker: Any) -> Iterator[str]:  # noqa: F811
        """The ``pg`` database alias, migrated on the throw-away server; torn down at the end."""
        from django.db import connections
        from django.test.utils import setup_databases, teardown_databases

        parts = urlsplit(pg_server_url)
        config = django_settings.DATABASES["pg"]
        config.update({"HOST": parts.hostname or "127.0.0.1", "PORT": str(parts.port or 5432),
                       "USER": parts.username or "test", "PASSWORD": parts.password or "",
                       "NAME": (parts.path or "/postgres").lstrip("/") or "postgres"})
        connections["pg"].close()
        with django_db_blocker.unblock():
            old = setup_databases(verbosity=0, interactive=False, aliases={"pg"})
        yield "pg"
        with django_db_blocker.unblock():
            connections.close_all()
            teardown_databases(old, verbosity=0)

    @pytest.fixture(scope="session")
    def sqlite_file_alias(tmp_path_factory: pytest.TempPathFactory,
                          django_db_blocker: Any) -> Iterator[str]:
        """The ``sqlite_file`` alias, migrated in a temporary file; removed at the end."""
        from django.db import connections
        from django.test.utils import setup_databases, teardown_databases

        path = str(tmp_path_factory.mktemp("django-sqlite") / "cegema.sqlite3")
        config = django_settings.DATABASES["sqlite_file"]
        config["NAME"] = path
        config["TEST"]["NAME"] = path
        connections["sqlite_file"].close()
        with django_db_blocker.unblock():
            old = setup_databases(verbosity=0, interactive=False, aliases={"sqlite_file"})
        yield "sqlite_file"
        with django_db_blocker.unblock():
            connections.close_all()
            teardown_databases(old, verbosity=0)

    def _empty_tables(alias: str) -> None:
        from django.contrib.auth import get_user_model
        from django.db import connections

        from cegema_onboarding.integrations.django import models

        for model in (models.OnboardingAudit, models.OnboardingOutbox, models.OnboardingNotice,
                      models.OnboardingThrottle, models.OnboardingRateLimit,
                      models.OnboardingAccount, get_user_model()):
            model._default_manager.using(alias).all().delete()
        connections[alias].close()

    @pytest.fixture
    def pg_db(pg_alias: str, django_db_blocker: Any) -> Iterator[str]:
        """The ``pg`` alias for one test, its tables emptied afterwards."""
        with django_db_blocker.unblock():
            yield pg_alias
            _empty_tables(pg_alias)

    @pytest.fixture
    def sqlite_file_db(sqlite_file_alias: str, django_db_blocker: Any) -> Iterator[str]:
        """The ``sqlite_file`` alias for one test, its tables emptied afterwards."""
        with django_db_blocker.unblock():
            yield sqlite_file_alias
            _empty_tables(sqlite_file_alias)

    @pytest.fixture(scope="module")
    def browser() -> Iterator[Any]:
        """The browser tests' Chromium, one per test module."""
        from .browser_support import django_chromium

        yield from django_chromium()

    @pytest.fixture
    def dj_service(clock: ManualClock) -> Iterator[Any]:
        """The app's service (DjangoStorage, DjangoMailer), configured for the test clock."""
        from django.core import mail
        from django.test import override_settings

        from cegema_onboarding.integrations.django.conf import get_service

        with override_settings(CEGEMA_ONBOARDING=onboarding_config(CLOCK=clock)):
            mail.outbox = []
            yield get_service()
