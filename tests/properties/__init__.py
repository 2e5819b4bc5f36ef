"""Hypothesis state machines through the service: the journey, the account life, an adversary."""
