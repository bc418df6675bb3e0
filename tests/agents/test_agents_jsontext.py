"""`indented_json` writes exactly what `json.dumps(indent=2, ensure_ascii=False, default=str)`
writes, with the same errors."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from greenroom.agents.jsontext import indented_json


def reference(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


class Shown:
    """Not JSON: rendered through `default=str`."""

    def __str__(self) -> str:
        return 'shown "as" text\n'


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
    st.text(), st.just(Shown()),
)
keys = st.one_of(st.text(), st.integers(), st.floats(allow_nan=False), st.booleans(), st.none())
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(keys, inner, max_size=4),
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(values)
def test_the_text_is_the_standard_librarys(value: Any) -> None:
    assert indented_json(value) == reference(value)


@pytest.mark.parametrize("value", [
    {}, [], (), {"a": {}, "b": []}, "x", "", 0, -0.0, 1e300, math.inf, -math.inf, math.nan,
    {"é\u2028\ud800": "\x00\t\"\\"}, {1: "a", "1": "b"}, [[[]]], {"nested": [{"k": [1, 2.5]}]},
])
def test_edge_cases_match(value: Any) -> None:
    assert indented_json(value) == reference(value)


def test_a_circular_reference_is_refused_like_json() -> None:
    loop: list[Any] = []
    loop.append({"again": loop})
    with pytest.raises(ValueError, match="Circular reference detected"):
        indented_json(loop)


def test_a_shared_but_not_circular_value_is_written_twice() -> None:
    shared = {"k": 1}
    assert indented_json([shared, shared]) == reference([shared, shared])


def test_a_key_json_cannot_name_is_refused() -> None:
    with pytest.raises(TypeError, match="keys must be str, int, float, bool or None, not tuple"):
        indented_json({(1, 2): "x"})
