"""``cegema-onboarding stats``: the onboarding funnel, printed and optionally plotted."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from typing import Any, TextIO

from .. import texts
from ..adapters.system import SystemClock
from ..bootstrap import storage_from_url
from ..errors import ConfigurationError
from ..funnel import build_funnel, plot, render
from ..ports import StatsReader
from ._options import add_database, database_url


def add_subcommand(sub: Any) -> None:
    """Add ``stats`` to the ``cegema-onboarding`` command line."""
    stats = sub.add_parser(
        "stats", help="the onboarding funnel: how many members finished, where others stop")
    add_database(stats)
    stats.add_argument("--awaiting-days", type=int, default=7, metavar="N",
                       help="count as stuck the members awaiting activation for more than "
                            "N days (default 7)")
    stats.add_argument("--lang", choices=texts.LANGS, default=texts.DEFAULT_LANG,
                       help="language of the table and the plot, the Django admin's funnel "
                            f"texts (default {texts.DEFAULT_LANG})")
    stats.add_argument("--plot", metavar="FILE.png",
                       help="also draw the funnel into this image (needs matplotlib)")
    stats.set_defaults(handler=run_stats)


def run_stats(args: argparse.Namespace, *, env: Mapping[str, str] | None = None,
              out: TextIO | None = None) -> int:
    """``cegema-onboarding stats``."""
    env = os.environ if env is None else env
    out = out or sys.stdout
    try:
        storage = storage_from_url(database_url(args, env))
    except ConfigurationError as exc:
        print(f"cegema-onboarding stats: {exc}", file=sys.stderr)
        return 2
    if not isinstance(storage, StatsReader):
        print("cegema-onboarding stats: this storage cannot count", file=sys.stderr)
        return 2
    if args.awaiting_days < 0:
        print("cegema-onboarding stats: --awaiting-days must be 0 or more", file=sys.stderr)
        return 2
    funnel = build_funnel(storage, SystemClock().now(), awaiting_days=args.awaiting_days)
    out.write(render(funnel, args.lang))
    if args.plot:
        try:
            plot(funnel, args.plot, args.lang)
        except ImportError:
            print("cegema-onboarding stats: --plot needs matplotlib", file=sys.stderr)
            return 2
        print(f"funnel drawn into {args.plot}", file=sys.stderr)
    return 0
