"""Every error the Orchestration API answers, and which exception becomes which, in one place.

An error response is always `{"error": {"code", "message"}}`, plus `field` (the first invalid
field of a 422) or `error_id` (a 500, to find the logged traceback). A message is built from
greenroom's own exceptions, whose texts are written for operators (configs never echo their
input); an unexpected exception is logged with its id and answered with a generic text, never
its `str()`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any, NoReturn

from aiohttp import web
from pydantic import ValidationError

from greenroom.actors.errors import ActorStartError
from greenroom.governance.mission import MissionStateError
from greenroom.governance.secrets import UnknownSecretError
from greenroom.runtime.errors import (
    ContextWriteDenied,
    FeatureDisabledError,
    InboxError,
    InboxFullError,
    InboxRateLimitError,
    NotFoundError,
    ProcessStateError,
)
from greenroom.triggers.errors import TriggerError

__all__ = [
    "ERROR_CODES",
    "ApiError",
    "error_response",
    "from_exception",
    "raise_start_error",
    "validation_error",
]

logger = logging.getLogger("greenroom.api")

ERROR_CODES: Mapping[str, tuple[int, str]] = {
    "INVALID_JSON": (400, "the body is not a JSON object"),
    "UNAUTHORIZED": (401, "no valid bearer token"),
    "CROSS_ORIGIN_REFUSED": (403, "a browser request from another origin (loopback bind)"),
    "COMMANDS_NOT_ALLOWED": (403, "the config would run a command; the deploy policy refuses"),
    "ENV_REFERENCES_NOT_ALLOWED": (403, "the config reads ${VAR}; the deploy policy refuses"),
    "PATH_NOT_ALLOWED": (403, "the config names a path outside the API's data_dir"),
    "WRITE_DENIED": (403, "context keys the process does not let operators write"),
    "NOT_FOUND": (404, "no such route"),
    "PROCESS_NOT_FOUND": (404, "no process by that name"),
    "TRIGGER_NOT_FOUND": (404, "the process has no trigger by that id"),
    "SECRET_NOT_FOUND": (404, "the process has no secret by that name"),
    "EVENT_NOT_FOUND": (404, "the process has no dead letter by that id"),
    "METHOD_NOT_ALLOWED": (405, "the route exists, not with this method"),
    "PROCESS_EXISTS": (409, "a process by that name is already registered"),
    "TRIGGER_EXISTS": (409, "the process already has that trigger (or that trigger_id)"),
    "INVALID_STATE": (409, "the process's state does not allow the operation"),
    "MISSION_STATE": (409, "the mission's state does not allow the operation"),
    "BUDGET_DISABLED": (409, "the process's budget is off in its config"),
    "HEALTH_DISABLED": (409, "the process's health monitor is off in its config"),
    "MISSION_DISABLED": (409, "the process's mission is off in its config"),
    "SECRETS_DISABLED": (409, "the process's secret scope is off in its config"),
    "INBOX_DISABLED": (409, "the process's inbox is off in its config"),
    "JOURNAL_DISABLED": (409, "the process's journal is off in its config"),
    "QUESTION_REMOVED": (410, "the question was removed (the inbox was cleared) unanswered"),
    "PAYLOAD_TOO_LARGE": (413, "the body is larger than 1 MiB"),
    "MISDIRECTED_REQUEST": (421, "a Host that is not loopback, on a loopback bind"),
    "INVALID_REQUEST": (422, "a body or query field is missing, of the wrong type or out of range"),
    "INVALID_CONFIG": (422, "a config field is missing, of the wrong type or out of range"),
    "UNKNOWN_FIELD": (422, "a field the body or config does not have"),
    "INVALID_MESSAGE": (422, "the inbox refuses the message (too long, TTL too high)"),
    "INVALID_TRIGGER": (422, "the trigger cannot be built or started"),
    "START_FAILED": (422, "the process's agent cannot be built from its config"),
    "INBOX_FULL": (429, "the inbox is full of messages it may not evict"),
    "RATE_LIMITED": (429, "the sender exceeded its hourly message allowance"),
    "INTERNAL_ERROR": (500, "an unexpected error; its error_id is in the server log"),
    "NOT_IMPLEMENTED": (501, "a route of the reference API that greenroom does not provide"),
    "EVENT_REFUSED": (503, "the process refused the event (queue full or journal write failed)"),
}
"""Every error code, its HTTP status and what it means (docs/api.md lists the same)."""

_HTTP_CODES: Mapping[int, str] = {
    404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "PAYLOAD_TOO_LARGE",
}


class ApiError(Exception):
    """An error answered as `{"error": {"code", "message"[, "field"]}}` with the code's status."""

    def __init__(self, code: str, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.status = ERROR_CODES[code][0]
        self.code = code
        self.message = message
        self.field = field

    def body(self) -> dict[str, Any]:
        """The JSON body."""
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            error["field"] = self.field
        return {"error": error}


def validation_error(exc: ValidationError, code: str = "INVALID_CONFIG") -> ApiError:
    """A 422 naming every invalid field (`UNKNOWN_FIELD` if one is unexpected, else `code`).

    The message is built from each error's location and text only, never the rejected input.
    """
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    if any(error["type"] == "extra_forbidden" for error in errors):
        code = "UNKNOWN_FIELD"
    parts = []
    for error in errors:
        where = _location(error["loc"])
        text = "unknown field" if error["type"] == "extra_forbidden" else error["msg"]
        parts.append(f"{where}: {text}" if where else text)
    first = _location(errors[0]["loc"]) if errors else ""
    return ApiError(code, "; ".join(parts) or "invalid", field=first or None)


def _location(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc)


def from_exception(exc: BaseException) -> ApiError | None:
    """The API error of an exception greenroom raises on purpose; None for anything else.

    A missing process is not here: `AgentRuntime.get_process` raises a plain `KeyError`, which
    `Call.process()` answers; a plain `KeyError` elsewhere is unexpected.
    """
    error: ApiError | None = None
    if isinstance(exc, ApiError):
        error = exc
    elif isinstance(exc, ValidationError):
        error = validation_error(exc)
    elif isinstance(exc, FeatureDisabledError):
        error = ApiError(f"{exc.feature.upper()}_DISABLED", str(exc))
    elif isinstance(exc, MissionStateError):
        error = ApiError("MISSION_STATE", str(exc))
    elif isinstance(exc, ProcessStateError):
        error = ApiError("INVALID_STATE", str(exc))
    elif isinstance(exc, ContextWriteDenied):
        error = ApiError("WRITE_DENIED", str(exc))
    elif isinstance(exc, UnknownSecretError):
        error = ApiError("SECRET_NOT_FOUND", str(exc))
    elif isinstance(exc, NotFoundError):
        code = f"{exc.kind.upper()}_NOT_FOUND"
        error = ApiError(code if code in ERROR_CODES else "NOT_FOUND", str(exc))
    elif isinstance(exc, InboxError):
        error = _inbox_error(exc)
    elif isinstance(exc, TriggerError):
        error = ApiError("INVALID_TRIGGER", str(exc))
    elif isinstance(exc, ActorStartError) and exc.__cause__ is not None:
        error = from_exception(exc.__cause__)  # what an actor's on_start raised
    return error


def raise_start_error(exc: Exception) -> NoReturn:
    """Raise what a failed `start()` answers: its own mapping (a state conflict, a trigger that
    cannot start), or 422 START_FAILED when the config cannot make a process (a `ValueError`,
    maybe raised in a governance actor's start); `exc` itself when unexpected (a 500)."""
    root: BaseException = exc
    while isinstance(root, ActorStartError) and root.__cause__ is not None:
        root = root.__cause__
    error = from_exception(root)
    if error is None and isinstance(root, ValueError):
        error = ApiError("START_FAILED", f"the process could not start: {root}")
    if error is None:
        raise exc
    raise error from exc


def _inbox_error(exc: InboxError) -> ApiError:
    if isinstance(exc, InboxFullError):
        return ApiError("INBOX_FULL", str(exc))
    if isinstance(exc, InboxRateLimitError):
        return ApiError("RATE_LIMITED", str(exc))
    # A waiting asker's question removed by `clear_inbox` has no class of its own.
    if "was removed" in str(exc):
        return ApiError("QUESTION_REMOVED", str(exc))
    return ApiError("INVALID_MESSAGE", str(exc))


def error_response(exc: BaseException, request: web.BaseRequest) -> web.Response:
    """The JSON response for any exception raised while answering `request`.

    An aiohttp HTTP error (no route, wrong method, body too large) keeps its status; an
    unexpected exception is logged with a fresh `error_id` and answered 500 INTERNAL_ERROR.
    """
    error = from_exception(exc)
    headers: dict[str, str] = {}
    if error is None and isinstance(exc, web.HTTPException):
        code = _HTTP_CODES.get(exc.status)
        if code is not None:
            error = ApiError(code, _http_message(exc, request))
            if isinstance(exc, web.HTTPMethodNotAllowed):
                headers["Allow"] = ", ".join(sorted(exc.allowed_methods))
    if error is not None:
        if error.status == 401:
            headers["WWW-Authenticate"] = "Bearer"
        return web.json_response(error.body(), status=error.status, headers=headers or None)
    error_id = uuid.uuid4().hex[:16]
    logger.error("api %s %s failed (error_id %s)", request.method, request.path, error_id,
                 exc_info=(type(exc), exc, exc.__traceback__))
    body = {"error": {"code": "INTERNAL_ERROR", "error_id": error_id,
                      "message": f"internal error; see the server log for error_id {error_id}"}}
    return web.json_response(body, status=500)


def _http_message(exc: web.HTTPException, request: web.BaseRequest) -> str:
    if isinstance(exc, web.HTTPMethodNotAllowed):
        return f"{request.method} is not allowed on {request.path}"
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        return "the request body is larger than 1 MiB"
    return f"no route {request.method} {request.path}"
