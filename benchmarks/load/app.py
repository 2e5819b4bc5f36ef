"""The WSGI app of the load run: ``gunicorn benchmarks.load.app:app``.

What an operator would deploy from the docs, with explicit Settings (read from the
environment the runner sets): the Flask extension, ``SqlStorage`` and ``SqlRateLimiter``
on one PostgreSQL engine, production Argon2id unless told otherwise, mail delivered
inline. Two things differ from production, both because every request comes from one
loopback address and one load generator:

- the per-address limits are raised (the per-member ones are not): 127.0.0.1 stands for
  thousands of members' addresses;
- the mailer writes each mail's text to a file named after its recipient (written to a
  temporary name, then renamed), where the simulated member reads its link.
"""

from __future__ import annotations

import os
import tempfile
from datetime import timedelta
from pathlib import Path

from flask import Flask

from cegema_onboarding.adapters.sql import SqlRateLimiter, SqlStorage, postgres_engine
from cegema_onboarding.config import Settings
from cegema_onboarding.hashing import FAST_TEST_PARAMS, PRODUCTION_PARAMS
from cegema_onboarding.integrations.flask import Onboarding
from cegema_onboarding.mail.draft import Mail
from cegema_onboarding.ratelimit import Limit, RateLimits
from cegema_onboarding.service import OnboardingService

BASE_URL = "https://portail.example"
_MANY = Limit(1_000_000, timedelta(minutes=1))


class InboxFolder:
    """A mailer that leaves each member's last mail in ``folder/<recipient>``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(self, mail: Mail) -> None:
        """Write the mail's text, atomically: a reader sees the old mail or the new one."""
        fd, temporary = tempfile.mkstemp(dir=self.folder, prefix=".mail-")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(mail.text)
        os.replace(temporary, self.folder / mail.recipient)


def settings_from_environment() -> Settings:
    """The Settings the runner passes to every worker."""
    params = FAST_TEST_PARAMS if os.environ.get("LOAD_CHEAP_HASH") else PRODUCTION_PARAMS
    limits = RateLimits(login_ip=_MANY, link_ip=_MANY, code_ip=_MANY, remember_ip=_MANY)
    return Settings(secret_keys=(os.environ["LOAD_SECRET_KEY"],),
                    pepper_keys=(("l1", os.environ["LOAD_PEPPER"]),),
                    base_url=BASE_URL, argon2=params, rate_limits=limits)


def create_app() -> Flask:
    """The app, on the database named by ``LOAD_DATABASE_URL`` (schema already made)."""
    engine = postgres_engine(os.environ["LOAD_DATABASE_URL"], pool_size=2)
    service = OnboardingService(SqlStorage(engine), InboxFolder(Path(os.environ["LOAD_INBOX"])),
                                settings=settings_from_environment(),
                                rate_limiter=SqlRateLimiter(engine))
    flask_app = Flask("cegema_load")
    flask_app.config.update(SECRET_KEY=os.environ["LOAD_SECRET_KEY"],
                            CEGEMA_ONBOARDING_COOKIE_SECURE=False)
    Onboarding(flask_app, service=service)
    return flask_app


app = create_app() if "LOAD_DATABASE_URL" in os.environ else None
