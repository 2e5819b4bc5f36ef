"""The WSGI app `make serve` runs under gunicorn: the portal, configured as in production.

Everything comes from the shared ``CEGEMA_*`` configuration (``scripts/serve.py`` writes
it): PostgreSQL, SMTP, keys. Mail is only queued (``deliver_inline=False``); the relays
send it. Each gunicorn worker imports this file on its own, after the fork, so each opens
its own database connections.
"""

from __future__ import annotations

from flask import Flask

from cegema_onboarding.bootstrap import (
    build_service,
    load_environment,
    mailer_from,
    portal_settings_from_env,
    storage_from_url,
)
from cegema_onboarding.integrations.flask import Onboarding
from cegema_onboarding.integrations.logfilter import redact_tokens_in

config = load_environment()
service = build_service(
    portal_settings_from_env(),
    # SqlStorage on PostgreSQL: the rate limits go to the database, shared by the workers.
    storage_from_url(config["CEGEMA_DATABASE_URL"]),
    mailer_from("smtp", None, config),  # unused inline: the relays send
    deliver_inline=False,
)

app = Flask(__name__)
app.config["SECRET_KEY"] = config["CEGEMA_SESSION_KEY"]
# Plain http on the loopback: browsers would drop Secure cookies.
app.config["CEGEMA_ONBOARDING_COOKIE_SECURE"] = False
Onboarding(app, service=service)
redact_tokens_in("gunicorn.access", "gunicorn.error")
