"""``manage.py cegema_purge_tokens``: drop dead link hashes, delivered mail, ended windows."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import attrs
from django.core.management.base import BaseCommand, CommandError, CommandParser

from .....errors import ConcurrentUpdate
from .....model import LinkStatus
from .....ports import AuditRecord, Changes
from ...conf import get_service
from ...models import OnboardingAccount
from ...ratelimit import DjangoRateLimiter
from ...storage import DjangoStorage


class Command(BaseCommand):
    """Remove link hashes that expired long ago and delivered outbox messages."""

    help = ("Remove link and code hashes that expired more than --days ago (used, replaced "
            "or unused), delivered outbox messages older than that, and ended rate-limit "
            "windows.")

    def add_arguments(self, parser: CommandParser) -> None:
        """--days of grace, so a recent link still says 'already used', not 'invalid'."""
        parser.add_argument("--days", type=int, default=30)

    def handle(self, *args: Any, **options: Any) -> None:
        """Purge through compare-and-set commits, one account at a time."""
        if options["days"] < 1:
            raise CommandError("--days must be at least 1")
        service = get_service()
        storage = service.storage
        if not isinstance(storage, DjangoStorage):
            raise CommandError("the configured storage is not DjangoStorage")
        now = service.clock.now()
        cutoff = now - timedelta(days=options["days"])
        accounts = 0
        links = 0
        ids = (OnboardingAccount.objects.using(storage.using)
               .values_list("account_id", flat=True).iterator())
        for account_id in ids:
            for _ in range(5):
                account = storage.get(account_id)
                if account is None:
                    break
                keep = tuple(link for link in account.links
                             if link.status is LinkStatus.LIVE or link.expires_at >= cutoff)
                dropped = len(account.links) - len(keep)
                if not dropped:
                    break
                record = AuditRecord(now, "links_purged", "ok", "system", account_id,
                                     detail=str(dropped))
                try:
                    storage.commit(Changes(
                        accounts=((attrs.evolve(account, links=keep), account.version),),
                        audit=(record,)))
                except ConcurrentUpdate:
                    continue
                accounts += 1
                links += dropped
                break
        sent = storage.purge_sent(cutoff)
        windows = 0
        limiter = service.rate_limiter
        if isinstance(limiter, DjangoRateLimiter):
            # A window that started more than the longest window in use ago has ended.
            rate_limits = service.settings.rate_limits
            longest = max(getattr(rate_limits, f.name).window
                          for f in attrs.fields(type(rate_limits)))
            windows = limiter.purge(now - longest)
        self.stdout.write(f"links purged: {links} (accounts: {accounts}); "
                          f"delivered messages deleted: {sent}; "
                          f"ended rate-limit windows deleted: {windows}")
