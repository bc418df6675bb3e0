"""`compile_filter`: the safe filter language of `TriggerConfig.filter_expression`.

A string is parsed with `ast.parse(mode="eval")`, checked node by node against a whitelist when
it is compiled (so a bad expression is a config-time `FilterError`), and turned into a tree of
small Python closures run once per event. Nothing is ever passed to `eval`, `exec` or `compile`.

The language:

- Names: `payload`, `metadata`, `trigger_type`, `trigger_id`, `event_id` read the event; any
  other bare name is a key of the payload (None when missing or when the payload is not a dict).
  Literals: `True`, `False`, `None`, numbers, strings, and list/tuple/set literals whose elements
  are literals (for `in`).
- Lookups `a['k']`, `a[0]` and dotted `a.b.c` never fail: a missing key or index, or a lookup on
  None or on a value that is not a dict, list, tuple or string, gives None.
- Operators: comparisons (chains, `== != < <= > >= in not in is is not`), `and`, `or`, `not`,
  unary minus on numbers. A comparison between incompatible types is False (so `count > 3` is
  False when `count` is missing). `is` / `is not` only compare with `None`, `True` or `False`.
- Functions `len str int float bool lower upper startswith endswith contains` and string methods
  `.lower() .upper() .strip() .startswith(x) .endswith(x)`; `int`/`float` refuse strings longer
  than 64 characters.
- At most 2000 characters and 200 AST nodes (every node `ast.walk` yields below the root,
  operators and contexts included).
- Refused: arithmetic and other binary operators, slices, comprehensions, lambdas, conditional
  expressions (`x if c else y`; write it with `and`/`or`), dict literals, keyword or starred
  arguments, f-strings, `:=`, bytes and complex literals, names and attributes starting with `_`,
  calls of anything but the functions and methods above, and every other construct.

Evaluation never raises: an error (such as `lower(5)` or `int('abc')`) means no match and is
logged at debug level once per compiled filter. A callable filter is called with the event; it
must be synchronous (coroutine functions are refused), and an exception or an awaitable result
means no match.
"""

from __future__ import annotations

import ast
import inspect
import logging
from collections.abc import Callable, Mapping
from typing import Any, NoReturn

from greenroom.triggers.event import TriggerEvent

__all__ = ["MAX_FILTER_LENGTH", "MAX_FILTER_NODES", "EventFilter", "FilterError", "compile_filter"]

logger = logging.getLogger("greenroom.triggers.filters")

EventFilter = Callable[[TriggerEvent], bool]
"""A predicate over events: True lets the event through."""

MAX_FILTER_LENGTH = 2000
"""The longest filter expression accepted, in characters."""

MAX_FILTER_NODES = 200
"""The most AST nodes a filter expression may have."""

_MAX_NUMERIC_TEXT = 64
_PREFIX = "filter_expression: "

_Eval = Callable[[TriggerEvent], Any]

_EVENT_NAMES: Mapping[str, _Eval] = {
    "payload": lambda event: event.payload,
    "metadata": lambda event: event.metadata,
    "trigger_type": lambda event: event.trigger_type,
    "trigger_id": lambda event: event.trigger_id,
    "event_id": lambda event: event.event_id,
}


class FilterError(ValueError):
    """An invalid filter: the message starts with `filter_expression: ` and names the problem."""


def _refuse(problem: str) -> NoReturn:
    raise FilterError(_PREFIX + problem)


def compile_filter(source: str | Callable[..., Any]) -> EventFilter:
    """Compile a filter expression (or wrap a sync callable) into an event predicate.

    Raises `FilterError` for an invalid expression or an async callable.
    """
    if isinstance(source, str):
        return _ExpressionFilter(source)
    if callable(source):
        return _CallableFilter(source)
    _refuse(f"expected a string or a callable, got {type(source).__name__}")


class _ExpressionFilter:
    """A compiled string filter; evaluation errors mean no match (logged once)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._evaluate = _compile_source(source)
        self._logged = False

    def __call__(self, event: TriggerEvent) -> bool:
        try:
            return bool(self._evaluate(event))
        except Exception as exc:
            if not self._logged:
                self._logged = True
                logger.debug(
                    "filter_expression %r: evaluation failed (%s: %s); treated as no match",
                    self.source, type(exc).__name__, exc,
                )
            return False

    def __repr__(self) -> str:
        return f"<filter {self.source!r}>"


class _CallableFilter:
    """A sync callable filter; an exception or an awaitable result means no match."""

    def __init__(self, func: Callable[..., Any]) -> None:
        if _is_async(func):
            _refuse(f"{_describe(func)} is asynchronous; filters must be synchronous callables")
        self.func = func
        self._logged = False

    def __call__(self, event: TriggerEvent) -> bool:
        try:
            result = self.func(event)
            if inspect.isawaitable(result):
                if inspect.iscoroutine(result):
                    result.close()
                self._note(f"{_describe(self.func)} returned an awaitable")
                return False
            return bool(result)
        except Exception as exc:
            self._note(f"{_describe(self.func)} raised {type(exc).__name__}: {exc}")
            return False

    def _note(self, what: str) -> None:
        if not self._logged:
            self._logged = True
            logger.debug("filter_expression: %s; treated as no match", what)

    def __repr__(self) -> str:
        return f"<filter {_describe(self.func)}>"


def _is_async(func: Callable[..., Any]) -> bool:
    call = getattr(func, "__call__", None)  # noqa: B004 (an object with an async __call__)
    return any(
        inspect.iscoroutinefunction(candidate) or inspect.isasyncgenfunction(candidate)
        for candidate in (func, call)
        if candidate is not None
    )


def _describe(func: Callable[..., Any]) -> str:
    name = getattr(func, "__qualname__", None) or type(func).__qualname__
    return f"callable {name!r}"


def _compile_source(source: str) -> _Eval:
    if len(source) > MAX_FILTER_LENGTH:
        _refuse(f"too long: {len(source)} characters (at most {MAX_FILTER_LENGTH})")
    if not source.strip():
        _refuse("the expression is empty")
    text = source.strip()
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        where = f" at column {exc.offset}" if exc.offset else ""
        _refuse(f"not a valid expression ({exc.msg}){where}: {_shorten(text)}")
    except (ValueError, RecursionError, MemoryError) as exc:
        _refuse(f"cannot parse ({type(exc).__name__}): {_shorten(text)}")
    nodes = list(ast.walk(tree.body))
    if len(nodes) > MAX_FILTER_NODES:
        _refuse(f"too complex: {len(nodes)} AST nodes (at most {MAX_FILTER_NODES})")
    for node in nodes:
        if isinstance(node, ast.Name):
            _check_name(node.id, "name")
        elif isinstance(node, ast.Attribute):
            _check_name(node.attr, "attribute")
    return _Compiler().compile(tree.body)


def _shorten(text: str, limit: int = 80) -> str:
    return repr(text) if len(text) <= limit else repr(text[:limit]) + "..."


def _check_name(name: str, kind: str) -> str:
    if name.startswith("_"):
        _refuse(f"{kind}s starting with '_' are not allowed ({name!r})")
    return name


def _lookup(value: Any, key: Any) -> Any:
    """`value[key]` that gives None instead of failing."""
    if isinstance(value, Mapping):
        try:
            return value.get(key)
        except TypeError:
            return None
    if isinstance(value, list | tuple | str) and isinstance(key, int):
        try:
            return value[key]
        except IndexError:
            return None
    return None


def _payload_key(name: str) -> _Eval:
    def read(event: TriggerEvent) -> Any:
        payload = event.payload
        return payload.get(name) if isinstance(payload, Mapping) else None

    return read


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _negate(value: Any) -> Any:
    if not _is_number(value):
        msg = f"unary minus needs a number, got {type(value).__name__}"
        raise TypeError(msg)
    return -value


def _need_str(value: Any, what: str) -> str:
    if not isinstance(value, str):
        msg = f"{what} needs a string, got {type(value).__name__}"
        raise TypeError(msg)
    return value


def _numeric(kind: type[int] | type[float]) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        if isinstance(value, str) and len(value) > _MAX_NUMERIC_TEXT:
            msg = f"{kind.__name__}() refuses strings over {_MAX_NUMERIC_TEXT} characters"
            raise ValueError(msg)
        if not isinstance(value, str | int | float):
            msg = f"{kind.__name__}() needs a string or a number, got {type(value).__name__}"
            raise TypeError(msg)
        return kind(value)

    return convert


def _contains(container: Any, item: Any) -> bool:
    return item in container


_FUNCTIONS: Mapping[str, tuple[int, Callable[..., Any]]] = {
    "len": (1, len),
    "str": (1, str),
    "int": (1, _numeric(int)),
    "float": (1, _numeric(float)),
    "bool": (1, bool),
    "lower": (1, lambda s: _need_str(s, "lower()").lower()),
    "upper": (1, lambda s: _need_str(s, "upper()").upper()),
    "startswith": (2, lambda s, x: _need_str(s, "startswith()").startswith(x)),
    "endswith": (2, lambda s, x: _need_str(s, "endswith()").endswith(x)),
    "contains": (2, _contains),
}

_METHODS: Mapping[str, int] = {
    "lower": 0, "upper": 0, "strip": 0, "startswith": 1, "endswith": 1,
}

_COMPARE: Mapping[type[ast.cmpop], tuple[str, Callable[[Any, Any], bool]]] = {
    ast.Eq: ("==", lambda a, b: bool(a == b)),
    ast.NotEq: ("!=", lambda a, b: bool(a != b)),
    ast.Lt: ("<", lambda a, b: bool(a < b)),
    ast.LtE: ("<=", lambda a, b: bool(a <= b)),
    ast.Gt: (">", lambda a, b: bool(a > b)),
    ast.GtE: (">=", lambda a, b: bool(a >= b)),
    ast.In: ("in", lambda a, b: a in b),
    ast.NotIn: ("not in", lambda a, b: a not in b),
    ast.Is: ("is", lambda a, b: a is b),
    ast.IsNot: ("is not", lambda a, b: a is not b),
}

_REFUSED: Mapping[type[ast.AST], str] = {
    ast.BinOp: "arithmetic and binary operators are not allowed",
    ast.Slice: "slices are not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "generator expressions are not allowed",
    ast.Lambda: "lambdas are not allowed",
    ast.IfExp: "conditional expressions (x if c else y) are not allowed; use and/or",
    ast.JoinedStr: "f-strings are not allowed",
    ast.NamedExpr: "assignment expressions (:=) are not allowed",
    ast.Dict: "dict literals are not allowed",
    ast.Starred: "starred (*) expressions are not allowed",
    ast.Await: "await is not allowed",
    ast.Yield: "yield is not allowed",
    ast.YieldFrom: "yield is not allowed",
}

_BINARY_SYMBOLS: Mapping[type[ast.operator], str] = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.MatMult: "@", ast.Div: "/", ast.Mod: "%",
    ast.Pow: "**", ast.LShift: "<<", ast.RShift: ">>", ast.BitOr: "|", ast.BitXor: "^",
    ast.BitAnd: "&", ast.FloorDiv: "//",
}


def _is_singleton(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and (node.value is None or isinstance(node.value, bool))


def _compare_chain(
    operands: list[_Eval], ops: list[Callable[[Any, Any], bool]]
) -> _Eval:
    def evaluate(event: TriggerEvent) -> bool:
        left = operands[0](event)
        for op, operand in zip(ops, operands[1:], strict=True):
            right = operand(event)
            try:
                if not op(left, right):
                    return False
            except TypeError:
                return False
            left = right
        return True

    return evaluate


class _Compiler:
    """Validates an expression tree and builds its evaluator; refuses anything not listed."""

    def compile(self, node: ast.expr) -> _Eval:
        """The evaluator of `node`, or `FilterError` naming the first refused construct."""
        method = getattr(self, f"_{type(node).__name__}", None)
        if method is None:
            _refuse(self._why_refused(node))
        evaluator: _Eval = method(node)
        return evaluator

    @staticmethod
    def _why_refused(node: ast.AST) -> str:
        if isinstance(node, ast.BinOp):
            symbol = _BINARY_SYMBOLS.get(type(node.op), type(node.op).__name__)
            return f"arithmetic and binary operators are not allowed ('{symbol}')"
        if isinstance(node, ast.UnaryOp):
            return f"unary operator {type(node.op).__name__} is not allowed (only 'not' and '-')"
        reason = _REFUSED.get(type(node))
        return reason or f"{type(node).__name__} expressions are not allowed"

    def _Constant(self, node: ast.Constant) -> _Eval:
        value = self._literal(node)
        return lambda _event: value

    def _Name(self, node: ast.Name) -> _Eval:
        name = _check_name(node.id, "name")
        reader = _EVENT_NAMES.get(name)
        return reader if reader is not None else _payload_key(name)

    def _Attribute(self, node: ast.Attribute) -> _Eval:
        key = _check_name(node.attr, "attribute")
        target = self.compile(node.value)
        return lambda event: _lookup(target(event), key)

    def _Subscript(self, node: ast.Subscript) -> _Eval:
        if isinstance(node.slice, ast.Slice):
            _refuse("slices are not allowed")
        target = self.compile(node.value)
        key = self.compile(node.slice)
        return lambda event: _lookup(target(event), key(event))

    def _List(self, node: ast.List) -> _Eval:
        value = tuple(self._elements(node.elts, "list"))
        return lambda _event: value

    def _Tuple(self, node: ast.Tuple) -> _Eval:
        value = tuple(self._elements(node.elts, "tuple"))
        return lambda _event: value

    def _Set(self, node: ast.Set) -> _Eval:
        elements = self._elements(node.elts, "set")
        try:
            value = frozenset(elements)
        except TypeError:
            _refuse("set literal elements must be hashable")
        return lambda _event: value

    def _UnaryOp(self, node: ast.UnaryOp) -> _Eval:
        operand = self.compile(node.operand)
        if isinstance(node.op, ast.Not):
            return lambda event: not operand(event)
        if isinstance(node.op, ast.USub):
            if isinstance(node.operand, ast.Constant):
                literal = self._literal(node, "unary minus")
                return lambda _event: literal
            return lambda event: _negate(operand(event))
        _refuse(self._why_refused(node))

    def _BoolOp(self, node: ast.BoolOp) -> _Eval:
        parts = [self.compile(value) for value in node.values]
        if isinstance(node.op, ast.And):
            def all_of(event: TriggerEvent) -> Any:
                result: Any = True
                for part in parts:
                    result = part(event)
                    if not result:
                        return result
                return result

            return all_of

        def any_of(event: TriggerEvent) -> Any:
            result: Any = False
            for part in parts:
                result = part(event)
                if result:
                    return result
            return result

        return any_of

    def _Compare(self, node: ast.Compare) -> _Eval:
        operands = [node.left, *node.comparators]
        ops: list[Callable[[Any, Any], bool]] = []
        for index, op in enumerate(node.ops):
            symbol, func = _COMPARE[type(op)]
            if isinstance(op, ast.Is | ast.IsNot) and not any(
                _is_singleton(side) for side in operands[index:index + 2]
            ):
                _refuse(f"'{symbol}' only compares with None, True or False; use '==' or '!='")
            ops.append(func)
        return _compare_chain([self.compile(operand) for operand in operands], ops)

    def _Call(self, node: ast.Call) -> _Eval:
        if node.keywords:
            names = ", ".join(f"{kw.arg}=" if kw.arg else "**" for kw in node.keywords)
            _refuse(f"keyword arguments are not allowed ({names})")
        if any(isinstance(arg, ast.Starred) for arg in node.args):
            _refuse("starred (*) arguments are not allowed")
        if isinstance(node.func, ast.Name):
            return self._function(node.func.id, node.args)
        if isinstance(node.func, ast.Attribute):
            return self._method(node.func, node.args)
        _refuse(
            "only the functions " + ", ".join(_FUNCTIONS)
            + " and the string methods " + ", ".join(f".{m}()" for m in _METHODS)
            + " can be called"
        )

    def _function(self, name: str, args: list[ast.expr]) -> _Eval:
        _check_name(name, "name")
        if name not in _FUNCTIONS:
            _refuse(f"{name}() is not an allowed function (allowed: {', '.join(_FUNCTIONS)})")
        arity, func = _FUNCTIONS[name]
        if len(args) != arity:
            _refuse(f"{name}() takes {_arguments(arity)}, got {len(args)}")
        compiled = [self.compile(arg) for arg in args]
        if arity == 1:
            (only,) = compiled
            return lambda event: func(only(event))
        first, second = compiled
        return lambda event: func(first(event), second(event))

    def _method(self, node: ast.Attribute, args: list[ast.expr]) -> _Eval:
        name = _check_name(node.attr, "attribute")
        if name not in _METHODS:
            allowed = ", ".join(f".{m}()" for m in _METHODS)
            _refuse(f".{name}() is not an allowed method (allowed: {allowed})")
        arity = _METHODS[name]
        if len(args) != arity:
            _refuse(f".{name}() takes {_arguments(arity)}, got {len(args)}")
        target = self.compile(node.value)
        method = getattr(str, name)
        what = f".{name}()"
        if arity == 0:
            return lambda event: method(_need_str(target(event), what))
        argument = self.compile(args[0])
        return lambda event: method(_need_str(target(event), what), argument(event))

    def _elements(self, elements: list[ast.expr], kind: str) -> list[Any]:
        return [self._literal(element, f"{kind} literal elements") for element in elements]

    def _literal(self, node: ast.expr, where: str = "literals") -> Any:
        if (
            isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub)
            and isinstance(node.operand, ast.Constant)
        ):
            value = self._literal(node.operand, where)
            if _is_number(value):
                return -value
            _refuse(f"unary minus needs a number, got {type(value).__name__} literal")
        if isinstance(node, ast.Starred):
            _refuse("starred (*) expressions are not allowed")
        if not isinstance(node, ast.Constant):
            _refuse(f"{where} must be constants (strings, numbers, True, False, None), "
                    f"got {type(node).__name__}")
        value = node.value
        if value is None or isinstance(value, bool | int | float | str):
            return value
        _refuse(f"{type(value).__name__} literals are not allowed")


def _arguments(count: int) -> str:
    return "no arguments" if count == 0 else f"{count} argument{'s' if count > 1 else ''}"
