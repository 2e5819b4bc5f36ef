"""The statements every request of :class:`.store.SqlStorage` runs, built once.

On SQLite, building a statement costs about as much as running it, and a statement built
once is compiled once (SQLAlchemy caches the compiled form under the statement's key,
which it also computes once).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from ...ports import OutboxStatus
from .schema import accounts, audit, decoys, outbox, throttles

_PENDING = OutboxStatus.PENDING.value

ACCOUNT = sa.select(accounts.c.version, accounts.c.data)
BY_ID = ACCOUNT.where(accounts.c.account_id == sa.bindparam("value"))
BY_NUMBER = ACCOUNT.where(accounts.c.member_number == sa.bindparam("value"))
THROTTLE = sa.select(throttles).where(throttles.c.key == sa.bindparam("key"))
# Compare-and-set saves; the SET values come from the parameters, named like the columns
# (hence the "b_" names of the WHERE's parameters).
INSERT_ACCOUNT = sa.insert(accounts)
UPDATE_ACCOUNT = (sa.update(accounts)
                   .where(accounts.c.account_id == sa.bindparam("b_account_id"),
                          accounts.c.version == sa.bindparam("b_expected"))
                   .values(version=accounts.c.version + 1))
INSERT_THROTTLE = sa.insert(throttles)
UPDATE_THROTTLE = (sa.update(throttles)
                    .where(throttles.c.key == sa.bindparam("b_key"),
                           throttles.c.version == sa.bindparam("b_expected")))
# A stand-in row: the account update without its version condition, and an insert the
# first time a slot is used (racing first inserts: one wins, none fails).
UPDATE_DECOY = (sa.update(decoys)
                 .where(decoys.c.account_id == sa.bindparam("b_account_id"))
                 .values(version=decoys.c.version + 1))
INSERT_DECOY = {name: insert(decoys).on_conflict_do_nothing()
                 for name, insert in (("sqlite", sqlite.insert),
                                      ("postgresql", postgresql.insert))}
INSERT_OUTBOX = sa.insert(outbox)
INSERT_AUDIT = sa.insert(audit)
# One statement (RETURNING: SQLite 3.35+, PostgreSQL): the inline delivery of each mail.
CLAIM = (sa.update(outbox)
          .where(outbox.c.message_id == sa.bindparam("b_message_id"),
                 outbox.c.status == _PENDING)
          .returning(*outbox.c))
FINISH = (sa.update(outbox)
           .where(outbox.c.message_id == sa.bindparam("b_message_id"))
           .values(attempts=outbox.c.attempts + 1))
MESSAGE = sa.select(outbox).where(outbox.c.message_id == sa.bindparam("value"))
