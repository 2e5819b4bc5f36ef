"""The command line of cegema_onboarding: the demo portal and walk-through, migrations, bulk
provisioning, and the outbox relay.

One module per subcommand group; each adds its parser with ``add_subcommand`` and sets a
``handler`` that :func:`main` calls. Help is plain text, so no markup in help strings.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

from ..environment import CONFIG_VARIABLE
from . import demo, migrate, outbox, portal, provision, purge, relay, stats
from .demo import demo_settings as demo_settings
from .demo import run_demo as run_demo
from .portal import add_portal_arguments as add_portal_arguments

__all__ = ["add_portal_arguments", "demo_settings", "main", "run_demo"]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``cegema-onboarding`` and ``python -m cegema_onboarding``."""
    parser = argparse.ArgumentParser(
        prog="cegema-onboarding",
        description="The first-connection journey of a member portal: a demo portal, the "
                    "journey walked in the terminal, migrations, bulk provisioning and the "
                    "outbox relay, and retention.")
    parser.add_argument("--config", metavar="FILE",
                        help="a TOML file of CEGEMA_* settings, read as the environment is "
                             f"(default: ${CONFIG_VARIABLE})")
    sub = parser.add_subparsers(dest="command", required=True)
    # In this order: it is the order of the commands in the help.
    for group in (demo, portal, migrate, relay, outbox, purge, provision, stats):
        group.add_subcommand(sub)
    args = parser.parse_args(argv)
    if not args.config:
        code: int = args.handler(args)
        return code
    if args.command in ("demo", "portal"):
        parser.error("the demo makes its own keys: --config is for the other commands")
    # As if CEGEMA_CONFIG were set: every command reads the file through its environment.
    code = args.handler(args, env={**os.environ, CONFIG_VARIABLE: args.config})
    return code
