"""``cegema-onboarding portal``: serve the demo portal in a browser (the flask extra)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_portal_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of the demo portal, shared by ``portal`` and the demo's own ``main``."""
    parser.add_argument("--port", type=int, default=8000,
                        help="port on 127.0.0.1 to serve on (default 8000)")
    parser.add_argument("--data-dir", default=".demo",
                        help="where the demo keeps its database, keys and mailbox "
                             "(default .demo)")
    parser.add_argument("--staff", action="store_true",
                        help="enable the staff page (no-email queue, unlock)")
    parser.add_argument("--fresh", action="store_true",
                        help="delete the demo's data first and start with new demo members")


def add_subcommand(sub: Any) -> None:
    """Add ``portal`` to the ``cegema-onboarding`` command line."""
    parser = sub.add_parser("portal", help="serve the demo portal in a browser (flask extra)")
    add_portal_arguments(parser)
    parser.set_defaults(handler=run_portal_command)


def run_portal_command(args: argparse.Namespace) -> int:
    """``cegema-onboarding portal``: runs until Ctrl+C."""
    # Imported here: Flask is an optional extra and the other commands do not need it.
    from ..integrations.flask.demo import serve

    return serve(Path(args.data_dir), args.port, staff=args.staff, fresh=args.fresh)
