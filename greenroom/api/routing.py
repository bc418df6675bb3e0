"""The route table's building blocks: `Route`, the `Call` a handler gets, the body models' base.

One list of `Route`s drives both the aiohttp router (`server.py`) and the OpenAPI document
(`openapi.py`), so the two cannot drift. A handler is `async (Call) -> Reply`: a response model
(dumped as JSON with the route's status), None (204), or a ready `web.StreamResponse` (the
event stream).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, TypeVar

from aiohttp import web
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from greenroom.api.errors import ApiError, validation_error

if TYPE_CHECKING:
    from greenroom.api.policy import DeployPolicy
    from greenroom.api.stream import EventHub
    from greenroom.runtime.process import AgentProcess
    from greenroom.runtime.runtime import AgentRuntime

__all__ = [
    "API_PREFIX",
    "Body",
    "Call",
    "OpenOut",
    "Out",
    "P",
    "Query",
    "Reply",
    "Route",
    "RouteHandler",
    "Services",
    "ShutdownCallback",
    "Text",
    "read_body",
    "validate_body",
    "validate_query",
]

API_PREFIX = "/api/v1"
P = "/processes/{name}"
"""The prefix of every per-process route (relative to `API_PREFIX`)."""

M = TypeVar("M", bound=BaseModel)

ShutdownCallback = Callable[[float | None], Awaitable[None] | None]
"""`on_shutdown(drain_timeout)`: what `POST /runtime/shutdown` starts (after its 202)."""


def _not_blank(value: str) -> str:
    if not value.strip():
        msg = "must not be blank"
        raise ValueError(msg)
    return value


Text = Annotated[str, Field(min_length=1), AfterValidator(_not_blank)]
"""A string with something besides whitespace in it (as Python's `str.strip` sees it)."""


class Body(BaseModel):
    """A request body: unknown fields refused, inputs never echoed; validated strictly from
    JSON (`"5"` is not an int, `1` is not a bool)."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    error_code: ClassVar[str] = "INVALID_REQUEST"
    """The 422 code when a field is invalid (config bodies answer INVALID_CONFIG)."""


class Query(BaseModel):
    """Query parameters (strings, converted: `?limit=5` is an int)."""

    model_config = ConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True)


class Out(BaseModel):
    """A response body with exactly its declared keys."""

    model_config = ConfigDict(extra="forbid")


class OpenOut(BaseModel):
    """A response body with its declared keys and whatever else the runtime reports."""

    model_config = ConfigDict(extra="allow")


Reply = BaseModel | web.StreamResponse | None


@dataclass(frozen=True)
class Services:
    """What handlers work with: the runtime and the server's own parts."""

    runtime: AgentRuntime
    policy: DeployPolicy
    hub: EventHub
    on_shutdown: ShutdownCallback | None = None


@dataclass
class Call:
    """One request, as a handler sees it: the services, the validated body and query, and the
    process the path names. `subject` is the process an audit entry is journaled to."""

    services: Services
    request: web.Request
    body: BaseModel | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    query: BaseModel | None = None
    subject: str | None = None

    @property
    def runtime(self) -> AgentRuntime:
        """The runtime the API serves."""
        return self.services.runtime

    @property
    def name(self) -> str:
        """The `{name}` of the path."""
        return self.request.match_info["name"]

    def process(self) -> AgentProcess:
        """The process the path names; 404 PROCESS_NOT_FOUND if there is none."""
        try:
            return self.runtime.get_process(self.name)
        except KeyError:
            msg = f"no process named {self.name!r}"
            raise ApiError("PROCESS_NOT_FOUND", msg) from None

    def body_as(self, model: type[M]) -> M:
        """The validated body, as the route's body model."""
        if not isinstance(self.body, model):
            msg = f"{self.request.path}: no {model.__name__} body"
            raise TypeError(msg)
        return self.body

    def query_as(self, model: type[M]) -> M:
        """The validated query, as the route's query model."""
        if not isinstance(self.query, model):
            msg = f"{self.request.path}: no {model.__name__} query"
            raise TypeError(msg)
        return self.query


RouteHandler = Callable[[Call], Awaitable[Reply]]


@dataclass(frozen=True)
class Route:
    """One route: method, path (relative to `/api/v1`), handler and what the document says.

    `body` is validated before the handler runs unless `partial` (a PATCH of a config section,
    which the handler validates merged with the current section). `errors` are the statuses the
    route may answer besides the common ones (`openapi.py` adds 401/403/421/500, and 400/413/422
    for a body, 404 for a process path). A `status` of 400 or more marks a route that always
    answers that error (the rewind routes' 501).
    """

    method: str
    path: str
    handler: RouteHandler
    summary: str
    tag: str
    status: int = 200
    response: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    errors: tuple[int, ...] = ()
    partial: bool = False
    public: bool = False
    stream: bool = False

    @property
    def full_path(self) -> str:
        """The path the router serves."""
        return API_PREFIX + self.path

    @property
    def mutating(self) -> bool:
        """Whether the call changes something (audited and journaled)."""
        return self.method != "GET"

    @property
    def operation_id(self) -> str:
        """The handler's name (unique across the table)."""
        return self.handler.__name__


async def read_body(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object (an empty body is `{}`); 400 INVALID_JSON otherwise. The
    application's `client_max_size` (`MAX_BODY`) cuts off a larger body while it is read (413).
    """
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError):
        raise ApiError("INVALID_JSON", "the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ApiError("INVALID_JSON", "the body must be a JSON object")
    return data


def _no_constant(name: str) -> Any:
    """`NaN` and `Infinity` are not JSON, though Python's parser accepts them."""
    msg = f"{name} is not JSON"
    raise ValueError(msg)


def validate_body(model: type[M], data: dict[str, Any]) -> M:
    """`data` as `model`, strictly (JSON types); 422 naming every invalid field."""
    try:
        return model.model_validate_json(json.dumps(data), strict=True)
    except ValidationError as exc:
        code = getattr(model, "error_code", "INVALID_CONFIG")
        raise validation_error(exc, code) from None


def validate_query(model: type[M], request: web.Request) -> M:
    """The query string as `model`; 422 INVALID_REQUEST naming the parameter."""
    try:
        return model.model_validate(dict(request.query))
    except ValidationError as exc:
        raise validation_error(exc, "INVALID_REQUEST") from None
