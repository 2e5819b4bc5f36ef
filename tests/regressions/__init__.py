"""Pinned journeys: fixed replays of state-machine runs, kept as regression tests."""
