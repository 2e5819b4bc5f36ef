"""SQL storage on SQLAlchemy Core: SQLite as the embedded default, PostgreSQL for servers.

Needs the ``sql`` extra (``postgres`` for PostgreSQL)::

    from cegema_onboarding.adapters.sql import SqlStorage, create_schema, sqlite_engine

    engine = sqlite_engine("onboarding.db")
    create_schema(engine)
    storage = SqlStorage(engine)
    storage.check()  # at start-up: reachable, and at this release's schema revision
"""

from .engine import (
    alembic_config,
    create_engine_from_url,
    create_schema,
    current_revision,
    migrate,
    missing_tables,
    postgres_engine,
    sqlite_engine,
    upgrade,
)
from .ratelimit import SqlRateLimiter
from .schema import metadata
from .store import SqlStorage

__all__ = [
    "SqlRateLimiter",
    "SqlStorage",
    "alembic_config",
    "create_engine_from_url",
    "create_schema",
    "current_revision",
    "metadata",
    "migrate",
    "missing_tables",
    "postgres_engine",
    "sqlite_engine",
    "upgrade",
]
