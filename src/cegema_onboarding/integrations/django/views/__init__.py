"""The member-facing views: the first-connection journey and the account-life routes.

Views are thin: they read the form, call one :class:`OnboardingService` method and render
its result. Texts come from :mod:`cegema_onboarding.texts` in Django's active language
(French by default). Every form is CSRF-protected; a link opened with GET only shows a
confirmation page, and only the member's POST spends it. Link URLs in mails are built by
the service from the configured base URL, so nothing here reads the Host header.

The views live by area: :mod:`.auth` (logging in and out, remember-me),
:mod:`.first_connection` (the journey and its validation link), :mod:`.recovery` (forgotten
identifier or password, the reset and "not me" links) and :mod:`.account` (the profile and
its changes). Every name ``urls.py`` and hosts use is importable from here, as before.
"""

from __future__ import annotations

from ._links import link_view as link_view
from .account import change_password as change_password
from .account import email_change_link as email_change_link
from .account import forget_devices as forget_devices
from .account import profile as profile
from .account import request_email_change as request_email_change
from .auth import PLAIN_REMEMBER_COOKIE as PLAIN_REMEMBER_COOKIE
from .auth import REMEMBER_COOKIE as REMEMBER_COOKIE
from .auth import login as login
from .auth import logout as logout
from .auth import remembered as remembered
from .first_connection import change_email as change_email
from .first_connection import confirm_link as confirm_link
from .first_connection import journey as journey
from .first_connection import no_email as no_email
from .first_connection import resend_link as resend_link
from .first_connection import set_password as set_password
from .first_connection import set_question as set_question
from .first_connection import submit_code as submit_code
from .first_connection import submit_email as submit_email
from .recovery import forgotten_identifier as forgotten_identifier
from .recovery import forgotten_password as forgotten_password
from .recovery import not_me_link as not_me_link
from .recovery import reset_link as reset_link
