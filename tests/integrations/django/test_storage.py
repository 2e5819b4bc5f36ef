"""The shared storage contract on DjangoStorage: SQLite and a real PostgreSQL server."""

from __future__ import annotations

import pytest

from cegema_onboarding.integrations.django.storage import DjangoStorage

from ...storage_contract import StorageContract


@pytest.mark.django_db
class TestDjangoSqliteStorage(StorageContract):
    """DjangoStorage on the SQLite ``default`` database, inside pytest-django's transaction."""

    # The package's own adapters offer every optional port (retention, stats).
    require_optional_ports = True


    @pytest.fixture
    def storage(self) -> DjangoStorage:
        return DjangoStorage()


@pytest.mark.postgres
class TestDjangoPostgresStorage(StorageContract):
    """DjangoStorage on PostgreSQL, committing for real (no wrapping test transaction)."""

    # The package's own adapters offer every optional port (retention, stats).
    require_optional_ports = True


    @pytest.fixture
    def storage(self, pg_db: str) -> DjangoStorage:
        return DjangoStorage(using=pg_db)
