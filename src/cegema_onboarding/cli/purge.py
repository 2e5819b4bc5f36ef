"""``cegema-onboarding purge``: delete what the retention settings no longer keep, once.

For cron; a running relay does the same every few minutes (``relay --purge-every``).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from typing import Any, TextIO

from ..bootstrap import housekeeping, load_environment, retention_from_env, storage_from_url
from ..errors import OnboardingError
from ._options import add_database, database_url


def add_subcommand(sub: Any) -> None:
    """Add ``purge`` to the ``cegema-onboarding`` command line."""
    parser = sub.add_parser(
        "purge", help="delete old audit rows, sent mail and ended rate-limit windows",
        description="Delete, in batches, the audit rows, sent outbox messages and ended "
                    "shared rate-limit windows older than their retention: "
                    "$CEGEMA_AUDIT_RETENTION (default 365d), $CEGEMA_SENT_MAIL_RETENTION "
                    "(default 30d) and $CEGEMA_RATE_LIMIT_RETENTION (default 1d); 0 keeps "
                    "that kind for ever.")
    add_database(parser)
    parser.add_argument("--batch", type=int, default=1000,
                        help="rows deleted per transaction (default 1000)")
    parser.set_defaults(handler=run_purge_command)


def run_purge_command(args: argparse.Namespace, *, env: Mapping[str, str] | None = None,
                      out: TextIO | None = None, err: TextIO | None = None) -> int:
    """``cegema-onboarding purge``: 0 done, 2 on a configuration or storage error."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        values = load_environment(os.environ if env is None else env)
        storage = storage_from_url(database_url(args, values))
        line = housekeeping(storage, retention_from_env(values), batch=args.batch)()
    except OnboardingError as exc:
        print(f"cegema-onboarding purge: {exc}", file=err)
        return 2
    print(line, file=out)
    return 0
