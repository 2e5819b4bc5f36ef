"""The Flask browser tests' Chromium: one per test module, skipped (or failing in CI)
without one (see browser_support.launch_chromium)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from .browser_support import launch_chromium


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from launch_chromium()
