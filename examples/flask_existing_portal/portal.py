"""An existing member portal: its own layout, home page and members-only page.

The lines between ``# cegema: begin`` and ``# cegema: end`` (here and in
``templates/layout.html``) are the whole integration of the first connection; without
them, this is the portal as it was. Its settings come from ``FLASK_*`` environment
variables (see README.md), the onboarding's among them.
"""

from flask import Flask, render_template

# cegema: begin
from cegema_onboarding.adapters.mailbox import ConsoleMailer
from cegema_onboarding.bootstrap import storage_from_url
from cegema_onboarding.integrations.flask import Onboarding, member_required

# cegema: end

app = Flask(__name__)
# FLASK_SECRET_KEY, FLASK_DATABASE_URL, ... (values in JSON are parsed: lists stay lists).
app.config.from_prefixed_env()

# cegema: begin
app.config.update(CEGEMA_ONBOARDING_LAYOUT="layout.html",  # the screens in this layout
                  CEGEMA_ONBOARDING_STORAGE=storage_from_url(app.config["DATABASE_URL"]),
                  CEGEMA_ONBOARDING_MAILER=ConsoleMailer())  # prints the mails: dev only
Onboarding(app)
# cegema: end


@app.get("/")
def home() -> str:
    """The portal's own home page."""
    return render_template("home.html")


@app.get("/espace-membre")
# cegema: begin
@member_required
# cegema: end
def members_only() -> str:
    """A page for members only."""
    return render_template("members.html")


if __name__ == "__main__":
    app.run(port=5000)
