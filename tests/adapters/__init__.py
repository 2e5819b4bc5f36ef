"""The adapters: the storage and rate-limiter contracts on memory, SQLite and PostgreSQL,
SQL connections, races and bulk inserts, and SMTP against a real server."""
