"""Alembic migrations of the SQL storage schema (run them with engine.upgrade)."""
