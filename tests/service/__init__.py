"""The service through its public methods on the in-memory adapters (a few on SQL too):
the guide, recovery, staff, the outbox and its relay, provisioning, the composition root."""
