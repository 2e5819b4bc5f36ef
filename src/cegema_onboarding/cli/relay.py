"""``cegema-onboarding relay``: deliver the outbox until stopped.

Configuration comes from arguments and ``CEGEMA_*`` environment variables (secrets from
the environment only), see docs/operations.md.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any, TextIO

import attrs

from ..bootstrap import (
    build_outbox,
    housekeeping,
    load_environment,
    mailer_from,
    retention_from_env,
    settings_from_env,
    storage_from_url,
)
from ..environment import duration
from ..errors import ConfigurationError, OnboardingError, StorageError
from ..ports import Storage
from ..relay import DEFAULT_BATCH, DEFAULT_INTERVAL, HOUSEKEEPING_INTERVAL, Relay
from ..service.outbox import Outbox
from ._options import add_database, database_url


def _add_smtp(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("SMTP (the password only from $CEGEMA_SMTP_PASSWORD)")
    group.add_argument("--mailer", default="smtp", metavar="smtp|console|MODULE:FACTORY",
                       help="'smtp' (default); 'console' prints messages instead of sending "
                            "them (development); 'package.module:factory' sends with the "
                            "Mailer that the host's factory() returns")
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
                       help="housekeeping deletes the shared rate-limit windows "
                            "(SqlRateLimiter) that started longer ago than this; 0 keeps "
                            "them (default: $CEGEMA_RATE_LIMIT_RETENTION, else a day)")
    relay.add_argument("--purge-every", type=float, metavar="MINUTES",
                       default=HOUSEKEEPING_INTERVAL / 60,
                       help="how often housekeeping purges what the retention settings "
                            "($CEGEMA_AUDIT_RETENTION, $CEGEMA_SENT_MAIL_RETENTION, "
                            "$CEGEMA_RATE_LIMIT_RETENTION) no longer keep; 0 turns "
                            f"housekeeping off (default {HOUSEKEEPING_INTERVAL / 60:g})")
    relay.add_argument("--metrics-port", type=int, metavar="PORT",
                       help="serve the Prometheus metrics (sends, retries, parks, outbox "
                            "depth and oldest age...) on this port; needs the metrics extra "
                            "(default: $CEGEMA_RELAY_METRICS_PORT, else no endpoint)")
    relay.add_argument("--metrics-address", metavar="ADDRESS",
                       help="address of the metrics endpoint (default: "
                            "$CEGEMA_RELAY_METRICS_ADDRESS, else 127.0.0.1: the scraper "
                            "only, not the world)")
    relay.add_argument("-v", "--verbose", action="store_true", help="log every pass")
    _add_smtp(relay)
    relay.set_defaults(handler=run_relay_command)


def _interval(args: argparse.Namespace, values: Mapping[str, str]) -> float:
    if args.interval is not None:
        return float(args.interval)
    interval = duration(values, "CEGEMA_RELAY_INTERVAL", timedelta(seconds=DEFAULT_INTERVAL))
    return interval.total_seconds()


def _housekeeping(args: argparse.Namespace, storage: Storage,
                  values: Mapping[str, str]) -> Callable[[], str] | None:
    retention = retention_from_env(values)
    if args.rate_limit_retention is not None:
        retention = attrs.evolve(retention, rate_limit_windows=timedelta(
            seconds=args.rate_limit_retention))
    if args.purge_every < 0:
        raise ConfigurationError("--purge-every cannot be negative")
    return housekeeping(storage, retention) if args.purge_every else None


def _metrics_endpoint(args: argparse.Namespace, values: Mapping[str, str],
                      storage: Storage, outbox: Outbox) -> Any | None:
    """Start the opt-in metrics endpoint; its HTTP server, or None when off."""
    port_text = (str(args.metrics_port) if args.metrics_port is not None
                 else values.get("CEGEMA_RELAY_METRICS_PORT", ""))
    if not port_text.strip():
        return None
    try:
        port = int(port_text)
    except ValueError:
        raise ConfigurationError(
            f"CEGEMA_RELAY_METRICS_PORT must be a port number, not {port_text!r}") from None
    if not 0 <= port <= 65535:
        raise ConfigurationError(f"the metrics port must be 0 to 65535, not {port}")
    address = (args.metrics_address or values.get("CEGEMA_RELAY_METRICS_ADDRESS")
               or "127.0.0.1")
    # Imported only when asked for: prometheus-client is the optional metrics extra.
    from ..metrics import Metrics

    metrics = Metrics(storage, clock=outbox.clock)
    outbox.observer = metrics
    # prometheus-client's own server, in a daemon thread, on the metrics' registry only.
    try:
        server, _ = metrics.serve(port, address)
    except OSError as exc:
        raise ConfigurationError(f"cannot serve metrics on {address}:{port}: {exc}") from None
    return server


def run_relay_command(args: argparse.Namespace, *, env: Mapping[str, str] | None = None,
                      out: TextIO | None = None) -> int:
    """``cegema-onboarding relay``: 0 when stopped cleanly, 2 on a configuration error."""
    env = os.environ if env is None else env
    out = out or sys.stdout
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        values = load_environment(env)
        settings = settings_from_env(values)
        storage = storage_from_url(database_url(args, values))
        outbox = build_outbox(settings, storage, mailer_from(args.mailer, args, values))
        relay = Relay(outbox, poll_interval=_interval(args, values), batch_size=args.batch,
                      housekeeping=_housekeeping(args, storage, values),
                      housekeeping_interval=max(args.purge_every, 0) * 60)
        # Last: the endpoint is a running thread holding a port, which nothing would stop
        # if a later step of the configuration failed.
        endpoint = _metrics_endpoint(args, values, storage, outbox)
    except (ConfigurationError, StorageError) as exc:
        print(f"cegema-onboarding relay: {exc}", file=sys.stderr)
        return 2
    if endpoint is not None:
        host, port = endpoint.server_address[:2]
        print(f"relay metrics on http://{host}:{port}/metrics", file=out, flush=True)
    with relay.stop_on_signals():
        try:
            totals = relay.run(once=args.once)
        except OnboardingError as exc:
            print(f"cegema-onboarding relay: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
        finally:
            if endpoint is not None:
                endpoint.shutdown()
                endpoint.server_close()
    print(f"relay stopped after {totals.passes} pass(es): {totals.sent} sent, "
          f"{totals.retried} to retry, {totals.parked} parked", file=out)
    return 0
