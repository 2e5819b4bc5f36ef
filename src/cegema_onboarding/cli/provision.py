"""``cegema-onboarding provision``: import a member CSV and write the print-shop file."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any, TextIO

from ..bootstrap import pepper_from_env, storage_from_url
from ..errors import ConfigurationError, OnboardingError, SchemaMissing
from ..ports import AccountBulkWriter
from ..provisioning import DEFAULT_BATCH, print_warning, provision_csv
from ._options import add_database, database_url


def add_subcommand(sub: Any) -> None:
    """Add ``provision`` to the ``cegema-onboarding`` command line."""
    parser = sub.add_parser(
        "provision", help="import members from a CSV and write the print-shop file",
        description="Import members (columns member_number, name, postal_address and "
                    "optionally email, phone, lang, adviser_agency, adviser_address, "
                    "adviser_orias, adviser_url; UTF-8, ';' or ',') and write their "
                    "initial passwords to a new 0600 file for the print shop. The pepper "
                    "comes from $CEGEMA_PEPPER_KEYS ('id:key,...', newest first).")
    add_database(parser)
    parser.add_argument("--csv", required=True, metavar="MEMBERS.csv", help="the member file")
    parser.add_argument("--credentials-out", required=True, metavar="PRINT-SHOP.csv",
                        help="the print-shop file to create (never overwritten)")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH,
                        help=f"accounts per transaction (default {DEFAULT_BATCH})")
    parser.add_argument("--staff-id", default="bulk-import",
                        help="who runs the import, for the audit trail")
    parser.add_argument("--create-schema", action="store_true",
                        help="create the tables first if they do not exist")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run_provision_command)


def run_provision_command(args: Any, *, env: Mapping[str, str] | None = None,
                          out: TextIO | None = None, err: TextIO | None = None) -> int:
    """``cegema-onboarding provision``: 0 all imported or skipped, 1 bad rows, 2 failure."""
    environ = os.environ if env is None else env
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        pepper = pepper_from_env(environ)
        storage = storage_from_url(database_url(args, environ),
                                   create_schema=args.create_schema)
        if not isinstance(storage, AccountBulkWriter):
            raise ConfigurationError("this storage cannot insert accounts in bulk")
        if not args.create_schema:
            _check_schema(storage)
        summary = provision_csv(args.csv, storage, pepper, args.credentials_out,
                                staff_id=args.staff_id, batch_size=args.batch_size,
                                progress=None if args.no_progress else err, errors=err)
    except SchemaMissing as exc:
        # Raised by the start-up check (the fix names migrate) or by the tables' check
        # above (the fix names --create-schema too); the message carries the fix.
        if "--create-schema" not in exc.fix:
            print(f"cegema-onboarding provision: {exc} (or pass --create-schema)", file=err)
        else:
            print(f"cegema-onboarding provision: {exc}", file=err)
        return 2
    except OnboardingError as exc:
        # ProvisioningError, ConfigurationError, InvalidInput: none carries a secret.
        print(f"cegema-onboarding provision: {exc}", file=err)
        return 2
    for line in summary.lines():
        print(line, file=out)
    print_warning(summary.credentials_path, out)
    return summary.exit_code


def _check_schema(storage: object) -> None:
    """Raise SchemaMissing before any file is created, rather than at the first batch."""
    # storage_from_url succeeded, so the sql extra is installed.
    from ..adapters.sql import SqlStorage, missing_tables

    if isinstance(storage, SqlStorage):
        missing = missing_tables(storage.engine)
        if missing:
            raise SchemaMissing(
                f"the database lacks the table{'s' if len(missing) > 1 else ''} "
                f"{', '.join(missing)}",
                fix="create them first with 'cegema-onboarding migrate', "
                    "or pass --create-schema", tables=missing)
