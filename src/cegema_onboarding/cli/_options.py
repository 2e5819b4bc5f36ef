"""Options several subcommands share."""

from __future__ import annotations

import argparse
from collections.abc import Mapping

from ..bootstrap import database_url_from_env


def add_database(parser: argparse.ArgumentParser) -> None:
    """``--database URL``, defaulting to ``$CEGEMA_DATABASE_URL``."""
    parser.add_argument("--database", metavar="URL",
                        help="SQLAlchemy URL of the database (default: $CEGEMA_DATABASE_URL)")


def database_url(args: argparse.Namespace, env: Mapping[str, str]) -> str | None:
    """The database URL given on the command line, else in the environment or the
    configuration file (``CEGEMA_CONFIG``)."""
    given: str | None = args.database
    return given or database_url_from_env(env)
