"""``cegema-onboarding outbox list|retry``: inspect and retry queued messages."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from typing import Any, TextIO

from ..bootstrap import storage_from_url
from ..errors import ConfigurationError, StorageError
from ..ports import OutboxStatus
from ._options import add_database, database_url


def add_subcommand(sub: Any) -> None:
    """Add ``outbox`` and its actions to the ``cegema-onboarding`` command line."""
    outbox = sub.add_parser("outbox", help="inspect and retry queued messages")
    add_database(outbox)
    actions = outbox.add_subparsers(dest="outbox_command", required=True)
    listing = actions.add_parser("list", help="list messages, newest first")
    listing.add_argument("--status", choices=[s.value for s in OutboxStatus],
                         default=OutboxStatus.PARKED.value, help="default: parked")
    listing.add_argument("--limit", type=int, default=100,
                         help="how many messages to list at most (default 100)")
    retry = actions.add_parser("retry", help="queue a parked message for one more attempt")
    retry.add_argument("message_id", metavar="MESSAGE_ID",
                       help="the message's id, as 'outbox list' prints it")
    outbox.set_defaults(handler=run_outbox_command)


def _mask(address: str | None) -> str:
    if not address:
        return "-"
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"


def run_outbox_command(args: argparse.Namespace, *, env: Mapping[str, str] | None = None,
                       out: TextIO | None = None) -> int:
    """``cegema-onboarding outbox list|retry``."""
    env = os.environ if env is None else env
    out = out or sys.stdout
    try:
        storage = storage_from_url(database_url(args, env))
    except (ConfigurationError, StorageError) as exc:
        print(f"cegema-onboarding outbox: {exc}", file=sys.stderr)
        return 2
    if args.outbox_command == "list":
        messages = storage.list_messages(OutboxStatus(args.status), limit=args.limit)
        for m in messages:
            print("\t".join((m.message_id, m.kind, m.status.value, str(m.attempts),
                             m.created_at.isoformat(timespec="seconds"), _mask(m.recipient),
                             m.last_error or "-")), file=out)
        print(f"{len(messages)} message(s) {args.status}", file=sys.stderr)
        return 0
    message = storage.get_message(args.message_id)
    if message is None:
        print("cegema-onboarding outbox: no such message", file=sys.stderr)
        return 1
    if message.status is not OutboxStatus.PARKED:
        print(f"cegema-onboarding outbox: the message is {message.status.value}, not parked",
              file=sys.stderr)
        return 1
    from ..adapters.system import SystemClock

    # Back to PENDING, due now; the attempt count only grows, so a new failure parks it
    # again at once.
    storage.mark_failed(message.message_id, message.last_error or "retried by staff",
                        SystemClock().now())
    print(f"{message.message_id} queued for delivery", file=out)
    return 0
