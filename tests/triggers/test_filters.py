"""The filter language: what it accepts and matches, what it refuses, and how it fails safely."""

from __future__ import annotations

import ast
import builtins
import functools
import gc
import inspect
import logging
import warnings
from collections.abc import Coroutine
from typing import Any

import pytest
from pydantic import ValidationError

from greenroom.triggers.config import TriggerConfig
from greenroom.triggers.event import TriggerEvent
from greenroom.triggers.filters import (
    MAX_FILTER_LENGTH,
    MAX_FILTER_NODES,
    FilterError,
    compile_filter,
)

LOGGER = "greenroom.triggers.filters"


def event(payload: Any = None, **fields: Any) -> TriggerEvent:
    """A webhook event of trigger t1 (id e1) carrying `payload`."""
    values: dict[str, Any] = {"trigger_id": "t1", "trigger_type": "webhook", "event_id": "e1"}
    values.update(fields)
    return TriggerEvent(payload=payload, **values)


def matches(expression: str, payload: Any = None, **fields: Any) -> bool:
    """Compile `expression` and apply it to one event."""
    return compile_filter(expression)(event(payload, **fields))


def refusal(source: Any) -> str:
    """The FilterError message for `source` (which must be refused)."""
    with pytest.raises(FilterError) as caught:
        compile_filter(source)
    message = str(caught.value)
    assert message.startswith("filter_expression: ")
    return message


ACCEPTED: list[tuple[str, Any, Any]] = [
    ("status == 'open'", {"status": "open"}, {"status": "closed"}),
    ("payload['status'] != 'closed'", {"status": "open"}, {"status": "closed"}),
    ("repo.owner.login == 'alice'", {"repo": {"owner": {"login": "alice"}}}, {"repo": None}),
    ("items[0] == 'a'", {"items": ["a", "b"]}, {"items": []}),
    ("items[-1] == 'b'", {"items": ["a", "b"]}, {"items": "ab!"}),
    ("a['k'][1]['j'] == 2", {"a": {"k": [0, {"j": 2}]}}, {"a": {"k": [0]}}),
    ("count > 3 and count <= 10", {"count": 4}, {"count": 11}),
    ("1 < count < 5", {"count": 2}, {"count": 5}),
    ("action in ['opened', 'reopened']", {"action": "reopened"}, {"action": "closed"}),
    ("action not in ('closed', 'deleted')", {"action": "opened"}, {"action": "deleted"}),
    ("label in {'bug', 'urgent'}", {"label": "bug"}, {"label": "docs"}),
    ("'ref' in payload", {"ref": "main"}, {"sha": "abc"}),
    ("draft is False", {"draft": False}, {"draft": 0}),
    ("assignee is not None", {"assignee": "bob"}, {}),
    ("not draft", {"draft": False}, {"draft": True}),
    ("priority == 'high' or urgent", {"urgent": True}, {"priority": "low", "urgent": False}),
    ("-delta > 2", {"delta": -5}, {"delta": 5}),
    ("level == -1.5", {"level": -1.5}, {"level": 1.5}),
    ("len(tags) >= 2", {"tags": ["x", "y"]}, {"tags": ["x"]}),
    ("lower(title) == 'hello'", {"title": "HeLLo"}, {"title": "bye"}),
    ("upper(env) == 'PROD'", {"env": "prod"}, {"env": "dev"}),
    ("startswith(ref, 'refs/heads/')", {"ref": "refs/heads/main"}, {"ref": "refs/tags/v1"}),
    ("endswith(filename, '.py')", {"filename": "a.py"}, {"filename": "a.txt"}),
    ("contains(title, 'deploy')", {"title": "please deploy"}, {"title": "hold"}),
    ("contains(tags, 'ci')", {"tags": ["ci", "x"]}, {"tags": ["x"]}),
    ("title.strip().lower().startswith('fix')", {"title": "  FIX: bug"}, {"title": "feat"}),
    ("name.endswith('.csv') and name.upper() == 'DATA.CSV'", {"name": "data.csv"},
     {"name": "data.txt"}),
    ("int(size) > 100", {"size": "150"}, {"size": "50"}),
    ("float(score) >= 0.5", {"score": "0.75"}, {"score": 0.25}),
    ("str(code) == '200'", {"code": 200}, {"code": 404}),
    ("bool(items)", {"items": [1]}, {"items": []}),
    ("metadata['source'] == 'github' and metadata.kind == 'push'", None, None),
    ("payload == 'ping'", "ping", "pong"),
    ("contains(payload, 'deploy')", "please deploy now", "nothing"),
    ("payload is None", None, {}),
    ("True and not False and None is None", {}, None),
]


@pytest.mark.parametrize(("expression", "hit", "miss"), ACCEPTED)
def test_accepted_expression_matches_and_misses(expression: str, hit: Any, miss: Any) -> None:
    if expression.startswith("metadata"):
        hit_meta = {"source": "github", "kind": "push"}
        assert matches(expression, hit, metadata=hit_meta)
        assert not matches(expression, miss, metadata={"source": "github", "kind": "tag"})
        return
    if expression.startswith("True"):
        assert matches(expression, hit)
        assert not matches("not (" + expression + ")", miss)
        return
    assert matches(expression, hit) is True
    assert matches(expression, miss) is False


def test_event_fields_are_names() -> None:
    expression = "trigger_type == 'webhook' and trigger_id == 't1' and event_id == 'e1'"
    assert matches(expression, {})
    assert not matches(expression, {}, trigger_id="t2")


def test_other_names_are_payload_keys_and_none_on_non_dict_payloads() -> None:
    assert matches("missing is None", {"present": 1})
    assert matches("status is None", "status: open")
    assert matches("status is None and payload is None", None)
    assert matches("payload.status is None and payload[0] == 's'", "status")
    assert matches("len is None and lower == 'x'", {"lower": "x"})


def test_lookups_never_fail() -> None:
    payload = {"a": {"b": 1}, "items": [1, 2], "n": 5, "s": "abc"}
    for expression in (
        "a.b.c is None", "a.x.y.z is None", "items[5] is None", "items['k'] is None",
        "n.k is None", "n[0] is None", "s.k is None", "a[[1]] is None", "nothing[0] is None",
    ):
        assert matches(expression, payload), expression
    assert matches("s[0] == 'a' and s[-1] == 'c'", payload)
    assert matches("a['b'] == 1 and items[1] == 2", payload)


def test_string_methods_and_functions() -> None:
    payload = {"t": "  Hello World  "}
    assert matches("t.strip() == 'Hello World'", payload)
    assert matches("t.upper().strip().endswith('WORLD')", payload)
    assert matches("startswith(t.strip(), 'Hell') and endswith(lower(t), 'world  ')", payload)
    assert matches("len(t.strip()) == 11 and len(payload) == 1", payload)
    assert matches("'abc'.upper() == 'ABC'", {})


REJECTED: list[tuple[str, str]] = [
    ("__import__('os').system('x')", "names starting with '_' are not allowed ('__import__')"),
    ("().__class__.__bases__", "attributes starting with '_' are not allowed ('__bases__')"),
    ("payload.__class__", "attributes starting with '_' are not allowed ('__class__')"),
    ("_secret == 1", "names starting with '_' are not allowed ('_secret')"),
    ("eval('1')", "eval() is not an allowed function"),
    ("open('/etc/passwd')", "open() is not an allowed function"),
    ("getattr(payload, 'x')", "getattr() is not an allowed function"),
    ("payload('x')", "payload() is not an allowed function"),
    ("payload.get('x')", ".get() is not an allowed method"),
    ("'{}'.format(payload)", ".format() is not an allowed method"),
    ("a['k']()", "only the functions len, str"),
    ("[x for x in payload]", "comprehensions are not allowed"),
    ("{k: 1 for k in payload}", "comprehensions are not allowed"),
    ("(x for x in payload)", "generator expressions are not allowed"),
    ("lambda: 1", "lambdas are not allowed"),
    ("a + b", "arithmetic and binary operators are not allowed ('+')"),
    ("count ** 99 > 1", "arithmetic and binary operators are not allowed ('**')"),
    ("flags | 4", "arithmetic and binary operators are not allowed ('|')"),
    ("a[1:2]", "slices are not allowed"),
    ("f'{a}'", "f-strings are not allowed"),
    ("(a := 1)", "assignment expressions (:=) are not allowed"),
    ("len(a, key=1)", "keyword arguments are not allowed (key=)"),
    ("len(**a)", "keyword arguments are not allowed (**)"),
    ("len(*a)", "starred (*) arguments are not allowed"),
    ("a if b else c", "conditional expressions (x if c else y) are not allowed"),
    ("{'a': 1}", "dict literals are not allowed"),
    ("a == b'x'", "bytes literals are not allowed"),
    ("a == 1j", "complex literals are not allowed"),
    ("a[...]", "ellipsis literals are not allowed"),
    ("await a", "await is not allowed"),
    ("x in [a, 'b']", "list literal elements must be constants (strings, numbers, True, False, "
                      "None), got Name"),
    ("x in [(1, 2)]", "list literal elements must be constants"),
    ("x in (1, *a)", "starred (*) expressions are not allowed"),
    ("x in {1, -a}", "set literal elements must be constants"),
    ("a is 'x'", "'is' only compares with None, True or False"),
    ("a is not 1", "'is not' only compares with None, True or False"),
    ("~a", "unary operator Invert is not allowed"),
    ("+a", "unary operator UAdd is not allowed"),
    ("-'a' == a", "unary minus needs a number, got str literal"),
    ("len() == 0", "len() takes 1 argument, got 0"),
    ("startswith(a)", "startswith() takes 2 arguments, got 1"),
    ("a.strip('x')", ".strip() takes no arguments, got 1"),
    ("a.startswith()", ".startswith() takes 1 argument, got 0"),
    ("bad +", "not a valid expression"),
    ("import os", "not a valid expression"),
    ("a == 1; b", "not a valid expression"),
    ("   ", "the expression is empty"),
]


@pytest.mark.parametrize(("expression", "problem"), REJECTED)
def test_rejected_expression_names_the_problem(expression: str, problem: str) -> None:
    assert problem in refusal(expression)


def test_length_limit() -> None:
    filler = "x" * (MAX_FILTER_LENGTH - len("s == ''"))
    longest = f"s == '{filler}'"
    assert len(longest) == MAX_FILTER_LENGTH
    assert matches(longest, {"s": filler})
    message = refusal(longest + " ")
    assert f"too long: {MAX_FILTER_LENGTH + 1} characters (at most {MAX_FILTER_LENGTH})" in message


def test_node_limit() -> None:
    def expression(literals: int) -> str:
        # Compare, Name, Load, In, List, Load and one Constant per literal.
        return "x in [" + ", ".join(["1"] * literals) + "]"

    largest = expression(MAX_FILTER_NODES - 6)
    assert sum(1 for _ in ast.walk(ast.parse(largest, mode="eval").body)) == MAX_FILTER_NODES
    assert matches(largest, {"x": 1})
    too_big = expression(MAX_FILTER_NODES - 5)
    assert f"too complex: {MAX_FILTER_NODES + 1} AST nodes (at most {MAX_FILTER_NODES})" in (
        refusal(too_big)
    )


def test_deep_nesting_is_refused() -> None:
    assert "not a valid expression" in refusal("(" * 300 + "a" + ")" * 300)
    assert "too complex" in refusal("not " * 400 + "a")


def test_non_string_non_callable_is_refused() -> None:
    assert "expected a string or a callable, got int" in refusal(42)


def test_filter_error_is_a_value_error() -> None:
    assert issubclass(FilterError, ValueError)


def test_evaluation_errors_mean_no_match() -> None:
    assert not matches("lower(n) == 'x'", {"n": 5})
    assert not matches("not (lower(n) == 'x')", {"n": 5})
    assert not matches("int(s) > 1", {"s": "abc"})
    assert not matches("len(n) > 0", {"n": 5})
    assert not matches("s.lower() == 'x'", {})
    assert not matches("-s < 0", {"s": "a"})
    assert not matches("-flag < 0", {"flag": True})
    assert not matches("contains(missing, 'x')", {})
    assert not matches("int(x) == 1", {"x": [1]})


def test_numeric_conversion_refuses_long_strings() -> None:
    assert matches("int(s) > 0", {"s": "1" * 64})
    assert not matches("int(s) > 0", {"s": "1" * 65})
    assert not matches("float(s) > 0", {"s": "1" * 65})
    assert matches("float(s) > 0", {"s": "1" * 30 + ".5"})


def test_incompatible_comparisons_are_false() -> None:
    assert not matches("n < 'x'", {"n": 1})
    assert matches("not (n < 'x')", {"n": 1})
    assert matches("priority > 3 or urgent", {"urgent": True})
    assert not matches("1 in s", {"s": "abc"})
    assert not matches("1 not in s", {"s": "abc"})
    assert not matches("x in {1, 2}", {"x": [1]})


def test_a_truthiness_error_means_no_match() -> None:
    class Unjudgeable:
        def __bool__(self) -> bool:
            raise RuntimeError("no truth value")

    assert not matches("x", {"x": Unjudgeable()})


def test_evaluation_error_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    flt = compile_filter("lower(n) == 'x'")
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        assert not flt(event({"n": 1}))
        assert not flt(event({"n": 2}))
    records = [r for r in caplog.records if r.name == LOGGER]
    assert len(records) == 1
    assert "lower(n) == 'x'" in records[0].getMessage()
    assert "TypeError" in records[0].getMessage()


def test_nothing_is_evaluated_or_executed(monkeypatch: pytest.MonkeyPatch) -> None:
    real_compile = builtins.compile

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("eval/exec used")

    def ast_only(*args: Any, **kwargs: Any) -> Any:
        flags = args[3] if len(args) > 3 else kwargs.get("flags", 0)
        assert flags & ast.PyCF_ONLY_AST, "compiled to a code object"
        return real_compile(*args, **kwargs)

    monkeypatch.setattr(builtins, "eval", refuse)
    monkeypatch.setattr(builtins, "exec", refuse)
    monkeypatch.setattr(builtins, "compile", ast_only)
    flt = compile_filter("a.b == 1 and len(c) == 2 and c[0] in ['x'] and int('3') == 3")
    assert flt(event({"a": {"b": 1}, "c": ["x", "y"]}))


def test_sync_callable_filter() -> None:
    flt = compile_filter(lambda e: e.payload["n"] > 1)
    assert flt(event({"n": 2})) is True
    assert flt(event({"n": 0})) is False
    assert compile_filter(lambda e: [1])(event()) is True
    assert compile_filter(lambda e: 0)(event()) is False


def test_raising_callable_means_no_match(caplog: pytest.LogCaptureFixture) -> None:
    def broken(e: TriggerEvent) -> bool:
        raise KeyError("n")

    flt = compile_filter(broken)
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        assert flt(event({})) is False
        assert flt(event({})) is False
    records = [r for r in caplog.records if r.name == LOGGER]
    assert len(records) == 1
    assert "broken" in records[0].getMessage()


def test_async_callables_are_refused() -> None:
    async def coroutine_filter(e: TriggerEvent) -> bool:
        return True

    async def generator_filter(e: TriggerEvent) -> Any:
        yield True

    class AsyncCall:
        async def __call__(self, e: TriggerEvent) -> bool:
            return True

    assert "asynchronous" in refusal(coroutine_filter)
    assert "coroutine_filter" in refusal(coroutine_filter)
    assert "asynchronous" in refusal(generator_filter)
    assert "asynchronous" in refusal(AsyncCall())
    assert "asynchronous" in refusal(functools.partial(coroutine_filter))


def test_awaitable_result_means_no_match_and_is_closed() -> None:
    created: list[Coroutine[Any, Any, bool]] = []

    async def later() -> bool:
        return True

    def sneaky(e: TriggerEvent) -> Coroutine[Any, Any, bool]:
        created.append(later())
        return created[-1]

    flt = compile_filter(sneaky)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert flt(event()) is False
        gc.collect()
    assert inspect.getcoroutinestate(created[0]) == inspect.CORO_CLOSED
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)]


def test_repr_names_the_filter() -> None:
    assert "status == 1" in repr(compile_filter("status == 1"))


def test_trigger_config_refuses_a_bad_filter() -> None:
    with pytest.raises(ValidationError) as caught:
        TriggerConfig(type="event", event_type="x", filter_expression="bad +")
    assert "filter_expression" in str(caught.value)
    with pytest.raises(ValidationError, match="filter_expression"):
        TriggerConfig(type="event", event_type="x", filter_expression="open('x')")

    async def async_filter(e: TriggerEvent) -> bool:
        return True

    with pytest.raises(ValidationError, match="asynchronous"):
        TriggerConfig(type="event", event_type="x", filter_expression=async_filter)
    config = TriggerConfig(type="event", event_type="x", filter_expression="data.n > 1")
    assert config.filter_expression == "data.n > 1"
