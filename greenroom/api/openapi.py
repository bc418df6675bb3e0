"""The OpenAPI 3.1 document of the API, built from the same route table as the router.

Body and response schemas are generated from the routes' pydantic models (JSON Schema 2020-12,
which OpenAPI 3.1 uses as is). Fields that only Python can fill (a callable `model`, `tools`)
are left out: a config sent as JSON cannot hold them. Every operation lists the statuses it may
answer: its success status, its own error statuses, and the common ones (401 without a token,
403/421 from the loopback guards, 500; 400/413/422 when it takes a body, 422 when it takes a
query, 404 when its path names a process). The document is served at
`GET /api/v1/openapi.json` and, like every route but health, needs the token.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, models_json_schema
from pydantic_core import PydanticOmit, core_schema

from greenroom.api.errors import ERROR_CODES
from greenroom.api.routing import Call, OpenOut, Out, P, Route

__all__ = ["DOCUMENT", "ROUTES", "ErrorResponse", "build_document"]

DOCUMENT = web.AppKey("openapi_document", dict)
"""The application's key of its document (built once, when the server starts)."""

_REF = "#/components/schemas/{model}"

_PATH_PARAMETERS = {
    "name": "The process's name.",
    "trigger_id": "The trigger's id (`static_<n>`: the n-th trigger of the config).",
    "secret_name": "The secret's name.",
}

_STATUS_TEXT = {
    200: "OK", 201: "Created", 202: "Accepted", 204: "No content", 400: "Invalid JSON",
    401: "Unauthorized", 403: "Forbidden", 404: "Not found", 409: "Conflict", 410: "Gone",
    413: "Payload too large", 421: "Misdirected request", 422: "Unprocessable entity",
    429: "Too many requests", 500: "Internal error", 501: "Not implemented",
    503: "Service unavailable",
}


class ErrorDetail(Out):
    """What went wrong: a code from the table in docs/api.md, a message, and the invalid field
    (422) or the id of the logged error (500)."""

    code: str
    message: str
    field: str | None = None
    error_id: str | None = None


class ErrorResponse(Out):
    """Every error response."""

    error: ErrorDetail


class OpenApiDocument(OpenOut):
    """An OpenAPI 3.1 document."""

    openapi: str
    info: dict[str, Any]
    paths: dict[str, Any]


class _JsonOnly(GenerateJsonSchema):
    """Leaves out what JSON cannot carry (callables) instead of failing."""

    def callable_schema(self, schema: core_schema.CallableSchema) -> dict[str, Any]:  # noqa: ARG002
        """A callable has no JSON form: omit the field (or the member of a union)."""
        raise PydanticOmit


def _statuses(route: Route) -> list[int]:
    common = {403, 421, 500}
    if not route.public:
        common.add(401)
    if route.body is not None:
        common |= {400, 413, 422}
    if route.query is not None:
        common.add(422)
    if route.path.startswith(P):
        common.add(404)
    return sorted({route.status, *route.errors, *common})


Schemas = dict[tuple[type[BaseModel], JsonSchemaMode], None]


def _models(routes: Iterable[Route]) -> list[tuple[type[BaseModel], JsonSchemaMode]]:
    seen: Schemas = {(ErrorResponse, "serialization"): None}
    for route in routes:
        if route.body is not None:
            seen[(route.body, "validation")] = None
        if route.response is not None:
            seen[(route.response, "serialization")] = None
    return list(seen)


def _parameters(route: Route) -> list[dict[str, Any]]:
    parameters: list[dict[str, Any]] = []
    for name, description in _PATH_PARAMETERS.items():
        if f"{{{name}}}" in route.path:
            parameters.append({"name": name, "in": "path", "required": True,
                               "description": description, "schema": {"type": "string"}})
    if route.query is not None:
        schema = route.query.model_json_schema(schema_generator=_JsonOnly, ref_template=_REF)
        required = set(schema.get("required", []))
        for name, field_schema in schema.get("properties", {}).items():
            description = field_schema.pop("description", None)
            field_schema.pop("title", None)
            parameter = {"name": name, "in": "query", "required": name in required,
                         "schema": field_schema}
            if description:
                parameter["description"] = description
            parameters.append(parameter)
    return parameters


def _operation(route: Route, refs: Mapping[tuple[Any, JsonSchemaMode], dict[str, Any]]
               ) -> dict[str, Any]:
    error_ref = refs[(ErrorResponse, "serialization")]
    responses: dict[str, Any] = {}
    for status in _statuses(route):
        entry: dict[str, Any] = {"description": _STATUS_TEXT.get(status, str(status))}
        if status >= 400:
            entry["content"] = {"application/json": {"schema": error_ref}}
        elif route.stream:
            entry["content"] = {"text/event-stream": {"schema": {"type": "string"}}}
        elif route.response is not None:
            schema = refs[(route.response, "serialization")]
            entry["content"] = {"application/json": {"schema": schema}}
        responses[str(status)] = entry
    operation: dict[str, Any] = {
        "operationId": route.operation_id,
        "summary": route.summary,
        "tags": [route.tag],
        "responses": responses,
    }
    if route.handler.__doc__:
        operation["description"] = route.handler.__doc__.strip()
    parameters = _parameters(route)
    if parameters:
        operation["parameters"] = parameters
    if route.body is not None:
        operation["requestBody"] = {
            "required": False,
            "content": {"application/json": {"schema": refs[(route.body, "validation")]}},
        }
    if route.public:
        operation["security"] = []
    return operation


def build_document(routes: Sequence[Route], *, version: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document describing `routes` (and the error codes)."""
    refs, definitions = models_json_schema(_models(routes), ref_template=_REF,
                                           schema_generator=_JsonOnly)
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.full_path, {})[route.method.lower()] = _operation(route, refs)
    codes = "\n".join(f"- `{code}` ({status}): {text}"
                      for code, (status, text) in ERROR_CODES.items())
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "greenroom Orchestration API",
            "version": version,
            "description": ("Operate a greenroom runtime: its processes, their inboxes, "
                            "triggers, governance, journal, context and events.\n\n"
                            f"Error codes:\n{codes}"),
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": definitions.get("$defs", {}),
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearerAuth": []}],
    }



async def openapi_document(call: Call) -> web.StreamResponse:
    """This document: every route, with its bodies, responses and statuses."""
    return web.json_response(call.request.app[DOCUMENT])


ROUTES = (
    Route("GET", "/openapi.json", openapi_document, "The OpenAPI document", "meta",
          response=OpenApiDocument),
)
