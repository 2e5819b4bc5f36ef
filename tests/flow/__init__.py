"""Unit tests of the pure flow, by behaviour, through its public API only."""
