"""``cegema-onboarding relay``: deliver the outbox until stopped.

Configuration comes from arguments and ``CEGEMA_*`` environment variables (secrets from
the environment only), see docs/operations.md.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, TextIO

from ..bootstrap import (
    build_outbox,
    env_value,
    mailer_from,
    rate_limit_purge,
    settings_from_env,
    storage_from_url,
)
from ..errors import ConfigurationError, OnboardingError, StorageError
from ..relay import DEFAULT_BATCH, DEFAULT_INTERVAL, DEFAULT_RATE_LIMIT_RETENTION, Relay
from ._options import add_database, database_url


def _add_smtp(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("SMTP (the password only from $CEGEMA_SMTP_PASSWORD)")
    group.add_argument("--mailer", choices=("smtp", "console"), default="smtp",
                       help="'console' prints messages instead of sending them (development)")
    group.add_argument("--smtp-host", help="default: $CEGEMA_SMTP_HOST")
    group.add_argument("--smtp-port", type=int,
                       help="default: $CEGEMA_SMTP_PORT, else 587 / 465 / 25 by security")
    group.add_argument("--smtp-security", choices=("starttls", "ssl", "none"),
                       help="default: $CEGEMA_SMTP_SECURITY, else starttls")
    group.add_argument("--smtp-user", help="default: $CEGEMA_SMTP_USER")
    group.add_argument("--smtp-timeout", type=float,
                       help="seconds, default: $CEGEMA_SMTP_TIMEOUT, else 10")
    group.add_argument("--smtp-ca-file",
                       help="PEM file of the CA to trust (default: $CEGEMA_SMTP_CA_FILE, "
                            "else the system trust store)")
    group.add_argument("--smtp-local-hostname",
                       help="name sent in EHLO (default: $CEGEMA_SMTP_LOCAL_HOSTNAME)")
    group.add_argument("--smtp-allow-insecure-auth", action="store_true",
                       help="allow AUTH without TLS (or CEGEMA_SMTP_ALLOW_INSECURE_AUTH=1)")


def add_subcommand(sub: Any) -> None:
    """Add ``relay`` to the ``cegema-onboarding`` command line."""
    relay = sub.add_parser("relay", help="deliver queued messages (the outbox) until stopped",
                           description="Deliver the outbox: every INTERVAL seconds, send due "
                                       "messages; SIGTERM or SIGINT stop it cleanly.")
    add_database(relay)
    relay.add_argument("--once", action="store_true", help="one pass, then exit")
    relay.add_argument("--interval", type=float,
                       help=f"seconds between passes (default: $CEGEMA_RELAY_INTERVAL, "
                            f"else {DEFAULT_INTERVAL:g})")
    relay.add_argument("--batch", type=int, default=DEFAULT_BATCH,
                       help=f"messages claimed at a time (default {DEFAULT_BATCH})")
    relay.add_argument("--rate-limit-retention", type=float, metavar="SECONDS",
                       help="every 5 minutes, delete the shared rate-limit windows "
                            "(SqlRateLimiter) that started longer ago than this; 0 turns it "
                            "off (default: $CEGEMA_RATE_LIMIT_RETENTION, else "
                            f"{int(DEFAULT_RATE_LIMIT_RETENTION.total_seconds())}, a day)")
    relay.add_argument("-v", "--verbose", action="store_true", help="log every pass")
    _add_smtp(relay)
    relay.set_defaults(handler=run_relay_command)


def _interval(args: argparse.Namespace, env: Mapping[str, str]) -> float:
    if args.interval is not None:
        return float(args.interval)
    text = env_value(env, "CEGEMA_RELAY_INTERVAL")
    try:
        return float(text) if text else DEFAULT_INTERVAL
    except ValueError:
        raise ConfigurationError("CEGEMA_RELAY_INTERVAL must be a number of seconds") from None


def _retention(args: argparse.Namespace, env: Mapping[str, str]) -> timedelta:
    value: float | None = args.rate_limit_retention
    if value is None:
        text = env_value(env, "CEGEMA_RATE_LIMIT_RETENTION")
        try:
            value = float(text) if text else DEFAULT_RATE_LIMIT_RETENTION.total_seconds()
        except ValueError:
            raise ConfigurationError(
                "CEGEMA_RATE_LIMIT_RETENTION must be a number of seconds") from None
    if value < 0:
        raise ConfigurationError("the rate-limit retention cannot be negative")
    return timedelta(seconds=value)


def run_relay_command(args: argparse.Namespace, *, env: Mapping[str, str] | None = None,
                      out: TextIO | None = None) -> int:
    """``cegema-onboarding relay``: 0 when stopped cleanly, 2 on a configuration error."""
    env = os.environ if env is None else env
    out = out or sys.stdout
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = settings_from_env(env)
        storage = storage_from_url(database_url(args, env))
        outbox = build_outbox(settings, storage, mailer_from(args.mailer, args, env))
        relay = Relay(outbox, poll_interval=_interval(args, env), batch_size=args.batch,
                      housekeeping=rate_limit_purge(storage, _retention(args, env)))
    except (ConfigurationError, StorageError) as exc:
        print(f"cegema-onboarding relay: {exc}", file=sys.stderr)
        return 2
    with relay.stop_on_signals():
        try:
            totals = relay.run(once=args.once)
        except OnboardingError as exc:
            print(f"cegema-onboarding relay: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
    print(f"relay stopped after {totals.passes} pass(es): {totals.sent} sent, "
          f"{totals.retried} to retry, {totals.parked} parked", file=out)
    return 0
