"""Alembic environment for the library's tables only.

Run through :func:`cegema_onboarding.adapters.sql.engine.upgrade`, which hands over an open
connection; with a ``sqlalchemy.url`` option instead, it opens its own engine.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from cegema_onboarding.adapters.sql.engine import create_engine_from_url
from cegema_onboarding.adapters.sql.schema import VERSION_TABLE, metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        # SQLite alters tables by copying them; batch mode writes migrations that way.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    config = context.config
    connection = config.attributes.get("connection")
    if isinstance(connection, Connection):
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("give alembic a connection or a sqlalchemy.url")
    engine = create_engine_from_url(url)
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) migrations are not supported")
_main()
