"""``cegema-onboarding migrate``: create or update the library's tables, a deployment step."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from typing import Any, TextIO

from ..bootstrap import storage_from_url
from ..errors import ConfigurationError, StorageError
from ._options import add_database, database_url


def add_subcommand(sub: Any) -> None:
    """Add ``migrate`` to the ``cegema-onboarding`` command line."""
    parser = sub.add_parser(
        "migrate", help="create or update the library's tables (a deployment step)",
        description="Apply the library's migrations: on an empty database they create "
                    "every table, on an existing one they apply those not applied yet. Run "
                    "it at each deployment, before the portal's processes start. Two runs "
                    "at once are safe: the second waits for the first, then has nothing "
                    "left to do.")
    add_database(parser)
    parser.set_defaults(handler=run_migrate_command)


def run_migrate_command(args: argparse.Namespace, *, env: Mapping[str, str] | None = None,
                        out: TextIO | None = None, err: TextIO | None = None) -> int:
    """``cegema-onboarding migrate``: 0 once the schema is current, 2 on a failure."""
    environ = os.environ if env is None else env
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        # No start-up check: a database not migrated yet is what this command is for.
        storage = storage_from_url(database_url(args, environ), check=False)
    except ConfigurationError as exc:
        print(f"cegema-onboarding migrate: {exc}", file=err)
        return 2
    # storage_from_url succeeded, so the sql extra is installed.
    from ..adapters.sql import SqlStorage, migrate

    assert isinstance(storage, SqlStorage)
    try:
        before, after = migrate(storage.engine)
    except StorageError as exc:
        print(f"cegema-onboarding migrate: {exc}", file=err)
        return 2
    finally:
        storage.engine.dispose()
    if before == after:
        print(f"the schema is current (revision {after})", file=out)
    else:
        print(f"migrated from revision {before or 'none (empty database)'} to {after}",
              file=out)
    return 0
