"""``manage.py cegema_relay``: deliver the outbox through the host's EMAIL_BACKEND."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from .....relay import Relay
from ...conf import get_service


class Command(BaseCommand):
    """Run the outbox relay: once (for cron) or until SIGTERM (as a worker)."""

    help = "Deliver queued onboarding mail; retries failures with backoff."

    def add_arguments(self, parser: CommandParser) -> None:
        """--once for one pass, --interval between passes, --batch-size per claim."""
        parser.add_argument("--once", action="store_true", help="one pass, then exit")
        parser.add_argument("--interval", type=float, default=10.0,
                            help="seconds between passes (default 10)")
        parser.add_argument("--batch-size", type=int, default=50)

    def handle(self, *args: Any, **options: Any) -> None:
        """Run :class:`cegema_onboarding.relay.Relay` over the Django storage and mailer."""
        relay = Relay(get_service(), poll_interval=options["interval"],
                      batch_size=options["batch_size"])
        if options["once"]:
            totals = relay.run(once=True)
        else:
            with relay.stop_on_signals():
                totals = relay.run()
        self.stdout.write(f"sent: {totals.sent}, to retry: {totals.retried}, "
                          f"parked: {totals.parked}, failed passes: {totals.errors}")
