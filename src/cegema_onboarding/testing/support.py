"""Helpers for tests on the library: throw-away settings and reading a sent link.

For tests only: :func:`fast_settings` weakens password hashing so that tests run fast.
"""

from __future__ import annotations

import re

from ..adapters.mailbox import text_part
from ..adapters.memory import MemoryMailer
from ..config import Settings
from ..hashing import FAST_TEST_PARAMS

__all__ = ["GOOD_PASSWORD", "fast_settings", "link_token"]

#: A password the default policy accepts.
GOOD_PASSWORD = "Le chat de ma voisine 1987"  # noqa: S105 - a test value, on purpose


def fast_settings(**overrides: object) -> Settings:
    """Settings for tests: fixed throw-away keys, fast (weak) Argon2, an https base URL."""
    values: dict[str, object] = {
        "secret_keys": ("contract-secret-key-0123456789-abcdefghijkl",),
        "pepper_keys": (("t1", "contract-pepper-key-0123456789-abcdefghijkl"),),
        "base_url": "https://portail.example",
        "argon2": FAST_TEST_PARAMS,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def link_token(mailer: MemoryMailer, index: int = -1) -> str:
    """The token of the link in the ``index``-th mail a MemoryMailer kept."""
    match = re.search(r"token=([A-Za-z0-9_.\-]+)", text_part(mailer.sent[index]))
    if match is None:
        raise LookupError("no link in the mail")
    return match.group(1)


def optional_port(contract: object, storage: object, port: type) -> None:
    """Skip an optional port's tests when ``storage`` does not offer it.

    A contract class that sets ``require_optional_ports = True`` (the package's own
    adapters) fails instead: there, a missing optional port is a bug.
    """
    import pytest

    if isinstance(storage, port):
        return
    if getattr(contract, "require_optional_ports", False):
        pytest.fail(f"{type(storage).__name__} does not implement {port.__name__}")
    pytest.skip(f"optional port {port.__name__} not implemented")
