"""Django already gives a request one database connection, so the app needs no
``service.request()`` there (Flask does): measured on a login, by the connections opened."""

from __future__ import annotations

from typing import Any

from django.db import connections
from django.db.backends.signals import connection_created
from django.test import Client, override_settings

from cegema_onboarding.adapters.memory import ManualClock
from cegema_onboarding.integrations.django.conf import get_service, reset_service

from .conftest import onboarding_config
from .helpers import token_from

LOGIN = "/connexion/"


def test_a_login_opens_one_connection_and_runs_every_statement_on_it(
        sqlite_file_db: str, clock: ManualClock) -> None:
    alias = sqlite_file_db
    # The app's tables in a file; the sessions in the cookie, so that this alias is the
    # only database a request touches.
    with override_settings(CEGEMA_ONBOARDING=onboarding_config(CLOCK=clock, DATABASE=alias),
                           SESSION_ENGINE="django.contrib.sessions.backends.signed_cookies"):
        reset_service()
        try:
            member = get_service().staff.provision("100234567", "Marie Dupont")
            client = Client()
            token = token_from(client, LOGIN)
            connections[alias].close()
            opened: list[Any] = []
            statements: list[int] = []

            def created(sender: Any, connection: Any, **kwargs: Any) -> None:
                if connection.alias == alias:
                    opened.append(connection.connection)

            def counted(execute: Any, sql: str, params: Any, many: bool,
                        context: Any) -> Any:
                # The DB-API connection each statement runs on.
                statements.append(id(context["connection"].connection))
                return execute(sql, params, many, context)

            connection_created.connect(created)
            try:
                with connections[alias].execute_wrapper(counted):
                    response = client.post(LOGIN, {
                        "identifier": "100234567", "password": member.initial_password,
                        "csrfmiddlewaretoken": token})
            finally:
                connection_created.disconnect(created)
            assert response.status_code == 302
            # Several statements (the account, the throttle, the rate limits, the
            # commit), one connection opened for all of them: Django holds one connection
            # per alias and thread, which its request_finished handler closes (or keeps,
            # CONN_MAX_AGE); the test client leaves that handler out, so it is not checked.
            assert len(statements) >= 4, statements
            assert len(opened) == 1
            assert set(statements) == {id(opened[0])}
        finally:
            reset_service()
