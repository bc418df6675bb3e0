"""Shared fixtures: every kernel test runs on both dispatchers."""

from __future__ import annotations

import pytest

DISPATCHERS = ["pooled", "thread"]


@pytest.fixture(params=DISPATCHERS)
def dispatcher(request: pytest.FixtureRequest) -> str:
    """The dispatcher under test ("pooled" or "thread")."""
    value: str = request.param
    return value
