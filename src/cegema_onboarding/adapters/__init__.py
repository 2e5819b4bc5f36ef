"""Ready adapters for the ports: memory, console and file mailbox (SQL and SMTP as extras)."""
