"""The rate-limiter contract now ships in the wheel (cegema_onboarding.testing); kept
importable from here for the project's tests."""

from cegema_onboarding.testing.ratelimit_contract import MINUTE, T0, RateLimiterContract, race

__all__ = ["MINUTE", "T0", "RateLimiterContract", "race"]
