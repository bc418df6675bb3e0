"""Shared fixtures: every kernel test runs on both dispatchers."""


from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

DISPATCHERS = ["pooled", "thread"]


@pytest.fixture(params=DISPATCHERS)
def dispatcher(request: pytest.FixtureRequest) -> str:
    """The dispatcher under test ("pooled" or "thread")."""
    value: str = request.param
    return value
