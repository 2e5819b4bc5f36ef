"""An existing member portal: its own layout, home page and members-only page.

The lines between ``# cegema: begin`` and ``# cegema: end`` (here and in
``templates/layout.html``) are the whole integration of the first connection; without
them, this is the portal as it was. Its own settings come from ``FLASK_*`` environment
variables, the onboarding's from the ``CEGEMA_*`` ones the commands read (see README.md).
"""

from flask import Flask, render_template

# cegema: begin
from cegema_onboarding.adapters.mailbox import ConsoleMailer
from cegema_onboarding.integrations.flask import Onboarding, member_required

# cegema: end

app = Flask(__name__)
app.config.from_prefixed_env()  # FLASK_SECRET_KEY, ...: the portal's own settings

# cegema: begin
app.config.update(CEGEMA_ONBOARDING_LAYOUT="layout.html",  # the screens in this layout
                  CEGEMA_ONBOARDING_MAILER=ConsoleMailer())  # prints the mails: dev only
# Keys, base URL and database: the CEGEMA_* variables that the commands read too.
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
