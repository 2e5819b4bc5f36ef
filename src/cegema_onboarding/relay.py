"""The outbox relay: a worker that delivers queued messages until it is told to stop.

Portals commit each state change together with the messages it causes (the outbox).
:class:`Relay` calls :meth:`OnboardingService.deliver_due` in a loop: each message is
claimed (marked SENDING with a lease) before it is sent, so two relays never send the same
one, and a relay that dies mid-send leaves it to be claimed again once the lease runs out.
Failures are retried with exponential backoff and parked after 8 attempts by the service.

Delivery is at least once, never lost: the only window for a duplicate is a relay killed
after the SMTP server accepted a message and before the outbox recorded it, and the
duplicate carries the same Message-ID, which mail systems use to drop it.

The ``relay`` and ``outbox`` commands of ``cegema-onboarding`` are built here; their
configuration comes from arguments and ``CEGEMA_*`` environment variables (secrets from
the environment only), see docs/operations.md.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import signal
import ssl
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from types import FrameType
from typing import Any, TextIO

import attrs

from .adapters.smtp import SmtpMailer, SmtpSettings
from .config import Settings
from .errors import ConfigurationError, OnboardingError
from .ports import Mailer, OutboxStatus, Storage
from .provisioning import parse_pepper_keys
from .service import DeliveryReport, OnboardingService

__all__ = [
    "DEFAULT_BATCH",
    "DEFAULT_INTERVAL",
    "DEFAULT_RATE_LIMIT_RETENTION",
    "HOUSEKEEPING_INTERVAL",
    "Relay",
    "RelayTotals",
    "add_subcommands",
    "settings_from_env",
    "smtp_settings_from",
    "storage_from_url",
]

log = logging.getLogger("cegema_onboarding.relay")

DEFAULT_INTERVAL = 5.0
# A claimed batch is sent one message at a time under one lease (5 minutes); a message
# can take ~10 SMTP round trips of up to the timeout each against a stalling server, so
# the default claims messages one by one: the lease can then never run out mid-send.
DEFAULT_BATCH = 1
# Chores between passes (purging ended rate-limit windows) run at most this often (seconds).
HOUSEKEEPING_INTERVAL = 300.0
# Rate-limit windows that started longer ago than this are deleted by the relay command:
# a day outlasts every window in use (the defaults are five minutes at most).
DEFAULT_RATE_LIMIT_RETENTION = timedelta(days=1)


@attrs.frozen
class RelayTotals:
    """What a relay run did, over all its passes."""

    passes: int = 0
    sent: int = 0
    retried: int = 0
    parked: int = 0
    errors: int = 0

    def add(self, report: DeliveryReport) -> RelayTotals:
        """These totals plus one delivery round."""
        return attrs.evolve(self, sent=self.sent + report.sent,
                            retried=self.retried + report.retried,
                            parked=self.parked + report.parked)


class Relay:
    """Delivers due outbox messages every ``poll_interval`` seconds until :meth:`stop`."""

    def __init__(self, service: OnboardingService, *, poll_interval: float = DEFAULT_INTERVAL,
                 batch_size: int = DEFAULT_BATCH,
                 housekeeping: Callable[[], object] | None = None,
                 housekeeping_interval: float = HOUSEKEEPING_INTERVAL) -> None:
        """Deliver with ``service``; run ``housekeeping`` too, at most every so often."""
        if poll_interval <= 0 or batch_size < 1 or housekeeping_interval < 0:
            raise ConfigurationError("the relay needs a positive interval and batch size")
        self.service = service
        self.poll_interval = poll_interval
        self.batch_size = batch_size
        self.housekeeping = housekeeping
        self.housekeeping_interval = housekeeping_interval
        self._chores_due = time.monotonic()
        self._stop = threading.Event()
        # Set by the signal handler, which must not take the Event's lock: the signal may
        # land while this very thread holds it inside Event.wait, and that would deadlock.
        self._signalled = False
        self._lock = threading.Lock()
        self._totals = RelayTotals()

    @property
    def totals(self) -> RelayTotals:
        """The totals so far (safe to read from another thread)."""
        with self._lock:
            return self._totals

    @property
    def stopping(self) -> bool:
        """Whether :meth:`stop` was called or a stop signal arrived."""
        return self._signalled or self._stop.is_set()

    def stop(self) -> None:
        """Ask the relay to stop after the message it is sending now (from any thread)."""
        self._stop.set()

    def run_pass(self) -> DeliveryReport:
        """Deliver everything due now, batch after batch, and return what happened."""
        total = DeliveryReport()
        while not self.stopping:
            report = self.service.deliver_due(limit=self.batch_size)
            total = DeliveryReport(total.sent + report.sent, total.retried + report.retried,
                                   total.parked + report.parked)
            handled = report.sent + report.retried + report.parked
            with self._lock:
                self._totals = self._totals.add(report)
            if handled < self.batch_size:
                break
        with self._lock:
            self._totals = attrs.evolve(self._totals, passes=self._totals.passes + 1)
        return total

    def run(self, *, once: bool = False) -> RelayTotals:
        """Run passes until stopped (or one pass with ``once``); returns the totals.

        An error in a pass (the database is down, say) is logged and the relay tries again
        at the next interval; with ``once`` it is raised.
        """
        while not self.stopping:
            try:
                report = self.run_pass()
            except Exception as exc:
                if once:
                    raise
                with self._lock:
                    self._totals = attrs.evolve(self._totals, errors=self._totals.errors + 1)
                # The type only: a driver's message may quote connection strings.
                log.error("relay pass failed (%s); retrying in %.0f s", type(exc).__name__,
                          self.poll_interval)
            else:
                if report.sent or report.retried or report.parked:
                    log.info("relay pass: %d sent, %d to retry, %d parked",
                             report.sent, report.retried, report.parked)
            self._chores()
            if once:
                break
            self._pause()
        return self.totals

    def _chores(self) -> None:
        if self.housekeeping is None or time.monotonic() < self._chores_due:
            return
        self._chores_due = time.monotonic() + self.housekeeping_interval
        try:
            done = self.housekeeping()
        except Exception as exc:
            # Chores never stop deliveries; the type only, as for a failed pass.
            log.error("relay housekeeping failed (%s)", type(exc).__name__)
        else:
            log.info("relay housekeeping: %s", done)

    def _pause(self) -> None:
        # In short slices, so that a signal (which only sets a flag) is seen quickly.
        deadline = time.monotonic() + self.poll_interval
        while not self.stopping:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._stop.wait(min(left, 0.2))

    @contextmanager
    def stop_on_signals(self) -> Iterator[None]:
        """While inside, SIGTERM and SIGINT stop the relay cleanly (main thread only)."""
        previous: dict[signal.Signals, Any] = {}

        def handler(signum: int, frame: FrameType | None) -> None:
            # No logging and no locks here: the interrupted code may hold them.
            self._signalled = True

        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, handler)
        try:
            yield
        finally:
            for sig, old in previous.items():
                signal.signal(sig, old)


# --------------------------------------------------------------------------- configuration


def _env(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    return value if value else None


def settings_from_env(env: Mapping[str, str] | None = None) -> Settings:
    """Settings for a relay or a staff command, from ``CEGEMA_*`` environment variables.

    ``CEGEMA_SECRET_KEYS`` (comma-separated, newest first) must be the portal's: the
    outbox is encrypted with keys derived from them. ``CEGEMA_PEPPER_KEYS``
    (``id:key,...``) and ``CEGEMA_BASE_URL`` are optional here since the relay sends
    messages already rendered; a throw-away pepper is used when none is given.
    """
    env = os.environ if env is None else env
    keys = _env(env, "CEGEMA_SECRET_KEYS")
    if keys is None:
        raise ConfigurationError("CEGEMA_SECRET_KEYS is not set (the portal's secret keys)")
    pepper = _env(env, "CEGEMA_PEPPER_KEYS")
    pepper_keys = (parse_pepper_keys(pepper) if pepper
                   else (("relay", secrets.token_urlsafe(32)),))
    return Settings(
        secret_keys=tuple(k.strip() for k in keys.split(",") if k.strip()),
        pepper_keys=pepper_keys,
        base_url=_env(env, "CEGEMA_BASE_URL") or "https://localhost",
    )


_DEFAULT_PORTS = {"ssl": 465, "starttls": 587, "none": 25}


def smtp_settings_from(args: argparse.Namespace,
                       env: Mapping[str, str] | None = None) -> SmtpSettings:
    """SmtpSettings from parsed arguments, falling back to ``CEGEMA_SMTP_*`` variables."""
    env = os.environ if env is None else env

    def pick(attr: str, var: str) -> str | None:
        value = getattr(args, attr, None)
        return str(value) if value not in (None, "") else _env(env, var)

    host = pick("smtp_host", "CEGEMA_SMTP_HOST")
    if host is None:
        raise ConfigurationError("no SMTP host: pass --smtp-host or set CEGEMA_SMTP_HOST")
    security = pick("smtp_security", "CEGEMA_SMTP_SECURITY") or "starttls"
    port_text = pick("smtp_port", "CEGEMA_SMTP_PORT")
    timeout_text = pick("smtp_timeout", "CEGEMA_SMTP_TIMEOUT")
    try:
        port = int(port_text) if port_text else _DEFAULT_PORTS.get(security, 587)
        timeout = float(timeout_text) if timeout_text else 10.0
    except ValueError:
        raise ConfigurationError("SMTP port and timeout must be numbers") from None
    user = pick("smtp_user", "CEGEMA_SMTP_USER")
    password = _env(env, "CEGEMA_SMTP_PASSWORD") if user else None
    if user and password is None:
        raise ConfigurationError("an SMTP user needs CEGEMA_SMTP_PASSWORD in the environment")
    ca_file = pick("smtp_ca_file", "CEGEMA_SMTP_CA_FILE")
    context = None
    if ca_file and security != "none":
        try:
            context = ssl.create_default_context(cafile=ca_file)
        except (OSError, ssl.SSLError):
            raise ConfigurationError("the SMTP CA file cannot be read") from None
    insecure = bool(getattr(args, "smtp_allow_insecure_auth", False)) or (
        _env(env, "CEGEMA_SMTP_ALLOW_INSECURE_AUTH") in ("1", "true", "yes"))
    return SmtpSettings(
        host=host, port=port, security=security,  # type: ignore[arg-type]
        username=user, password=password, timeout=timeout, ssl_context=context,
        local_hostname=pick("smtp_local_hostname", "CEGEMA_SMTP_LOCAL_HOSTNAME"),
        allow_insecure_auth=insecure)


def storage_from_url(url: str | None, *, create_schema: bool = False) -> Storage:
    """SqlStorage on the database at ``url`` (``sqlite:///...`` or ``postgresql://...``)."""
    if not url:
        raise ConfigurationError("no database: pass --database or set CEGEMA_DATABASE_URL")
    try:
        from .adapters.sql import SqlStorage, create_engine_from_url
        from .adapters.sql import create_schema as make_schema
    except ImportError:
        raise ConfigurationError(
            "the SQL adapter needs SQLAlchemy: pip install 'cegema-onboarding[sql]'") from None
    engine = create_engine_from_url(url)
    if create_schema:
        make_schema(engine)
    return SqlStorage(engine)


def _add_database(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database", metavar="URL",
                        help="SQLAlchemy URL of the database (default: $CEGEMA_DATABASE_URL)")


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


def add_subcommands(sub: Any) -> None:
    """Add ``relay`` and ``outbox`` to the ``cegema-onboarding`` command line."""
    relay = sub.add_parser("relay", help="deliver queued messages (the outbox) until stopped",
                           description="Deliver the outbox: every INTERVAL seconds, send due "
                                       "messages; SIGTERM or SIGINT stop it cleanly.")
    _add_database(relay)
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

    outbox = sub.add_parser("outbox", help="inspect and retry queued messages")
    _add_database(outbox)
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


def _mailer(args: argparse.Namespace, env: Mapping[str, str]) -> Mailer:
    if args.mailer == "console":
        from .adapters.mailbox import ConsoleMailer

        return ConsoleMailer(sys.stderr)
    return SmtpMailer(smtp_settings_from(args, env))


def _interval(args: argparse.Namespace, env: Mapping[str, str]) -> float:
    if args.interval is not None:
        return float(args.interval)
    text = _env(env, "CEGEMA_RELAY_INTERVAL")
    try:
        return float(text) if text else DEFAULT_INTERVAL
    except ValueError:
        raise ConfigurationError("CEGEMA_RELAY_INTERVAL must be a number of seconds") from None


def run_relay_command(args: argparse.Namespace, *, env: Mapping[str, str] | None = None,
                      out: TextIO | None = None) -> int:
    """``cegema-onboarding relay``: 0 when stopped cleanly, 2 on a configuration error."""
    env = os.environ if env is None else env
    out = out or sys.stdout
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = settings_from_env(env)
        storage = storage_from_url(args.database or _env(env, "CEGEMA_DATABASE_URL"))
        relay = Relay(OnboardingService(storage, _mailer(args, env), settings=settings,
                                        deliver_inline=False),
                      poll_interval=_interval(args, env), batch_size=args.batch,
                      housekeeping=_rate_limit_purge(storage, _retention(args, env)))
    except ConfigurationError as exc:
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


def _retention(args: argparse.Namespace, env: Mapping[str, str]) -> timedelta:
    value: float | None = args.rate_limit_retention
    if value is None:
        text = _env(env, "CEGEMA_RATE_LIMIT_RETENTION")
        try:
            value = float(text) if text else DEFAULT_RATE_LIMIT_RETENTION.total_seconds()
        except ValueError:
            raise ConfigurationError(
                "CEGEMA_RATE_LIMIT_RETENTION must be a number of seconds") from None
    if value < 0:
        raise ConfigurationError("the rate-limit retention cannot be negative")
    return timedelta(seconds=value)


def _rate_limit_purge(storage: Storage, retention: timedelta) -> Callable[[], str] | None:
    """Deleting ended windows of the shared rate-limit table, when there is one."""
    engine = getattr(storage, "engine", None)
    if engine is None or not retention:
        return None
    from .adapters.sql import SqlRateLimiter
    from .adapters.system import SystemClock

    limiter, clock = SqlRateLimiter(engine), SystemClock()

    def purge() -> str:
        return f"{limiter.purge(clock.now() - retention)} ended rate-limit window(s) deleted"

    return purge


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
        storage = storage_from_url(args.database or _env(env, "CEGEMA_DATABASE_URL"))
    except ConfigurationError as exc:
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
    from .adapters.system import SystemClock

    # Back to PENDING, due now; the attempt count only grows, so a new failure parks it
    # again at once.
    storage.mark_failed(message.message_id, message.last_error or "retried by staff",
                        SystemClock().now())
    print(f"{message.message_id} queued for delivery", file=out)
    return 0
