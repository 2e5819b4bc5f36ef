"""``manage.py cegema_provision members.csv print-shop.csv``: bulk provisioning from CSV."""

from __future__ import annotations

import io
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from .....bootstrap import pepper_from_keys
from .....errors import OnboardingError
from .....provisioning import print_warning, provision_csv
from ...conf import get_service


class Command(BaseCommand):
    """Import members and write their initial passwords to a new print-shop file."""

    help = ("Provision member accounts from a CSV (member_number;name;postal_address"
            "[;email;phone;lang]) and write the print-shop file with their initial passwords.")

    def add_arguments(self, parser: CommandParser) -> None:
        """The CSV in, the print-shop file out, and who runs the import."""
        parser.add_argument("csv", help="the member CSV")
        parser.add_argument("credentials_out",
                            help="the print-shop file to create (refused if it exists)")
        parser.add_argument("--staff", default="bulk-import",
                            help="the staff id recorded in the audit trail")
        parser.add_argument("--batch-size", type=int, default=20_000)

    def handle(self, *args: Any, **options: Any) -> None:
        """Run the import through :func:`cegema_onboarding.provisioning.provision_csv`."""
        service = get_service()
        pepper = pepper_from_keys(service.settings.pepper_keys)
        bad_rows = io.StringIO()
        try:
            summary = provision_csv(
                options["csv"], service.storage,  # type: ignore[arg-type]
                pepper, options["credentials_out"], now=service.clock,
                staff_id=options["staff"], batch_size=options["batch_size"],
                errors=bad_rows)
        except OnboardingError as exc:
            raise CommandError(str(exc)) from None
        if bad_rows.getvalue():
            self.stderr.write(bad_rows.getvalue().rstrip("\n"))
        for line in summary.lines():
            self.stdout.write(line)
        warning = io.StringIO()
        print_warning(summary.credentials_path, warning)
        self.stdout.write(warning.getvalue().rstrip("\n"))
        if summary.exit_code:
            raise CommandError("some rows were refused; see the lines above", returncode=1)
