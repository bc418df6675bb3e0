"""Typed errors of the `OrchestrationClient`.

The Orchestration API answers every error with `{"error": {"code", "message"[, "error_id"]}}`.
The client turns that body into one exception class per kind of failure, so a caller catches
`ProcessNotFound` or `Conflict` instead of comparing status codes. The class is chosen by the
error code first (the precise meaning) and by the HTTP status otherwise (a code this client does
not know yet still lands in the right family). Failures that never reach the API (refused
connection, DNS, timeout) have their own classes, which name the URL.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AskTimeout",
    "BadRequest",
    "Conflict",
    "DeployRefused",
    "EventNotFound",
    "FeatureDisabled",
    "Forbidden",
    "InboxFull",
    "InvalidState",
    "MisdirectedRequest",
    "MissionStateConflict",
    "NotFound",
    "NotImplementedByServer",
    "OrchestrationConnectionError",
    "OrchestrationError",
    "OrchestrationTimeout",
    "PayloadTooLarge",
    "ProcessExists",
    "ProcessNotFound",
    "QuestionRemoved",
    "RateLimited",
    "SecretNotFound",
    "ServerError",
    "TriggerNotFound",
    "Unauthorized",
    "ValidationFailed",
    "WriteDenied",
    "error_from_response",
]


class OrchestrationError(Exception):
    """An error answered by the Orchestration API (or met on the way to it).

    `code` is the API's error code (`PROCESS_NOT_FOUND`, ...), `message` its explanation,
    `status` the HTTP status (None when no response arrived) and `error_id` the id the server
    logged an internal error under, to quote in a bug report.
    """

    def __init__(
        self, code: str, message: str, status: int | None = None, error_id: str | None = None
    ) -> None:
        super().__init__(f"{code}: {message}" if status is None else
                         f"{status} {code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.error_id = error_id


class OrchestrationConnectionError(OrchestrationError):
    """The API could not be reached at `url` (connection refused, DNS, reset)."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__("CONNECTION_FAILED", f"cannot reach {url}: {reason}")
        self.url = url


class OrchestrationTimeout(OrchestrationError, TimeoutError):
    """No answer within the client's timeout (`url` names the request)."""

    def __init__(self, url: str, timeout: float) -> None:
        super().__init__("TIMEOUT", f"no answer from {url} within {timeout:g} s")
        self.url = url
        self.timeout = timeout


class AskTimeout(OrchestrationError, TimeoutError):
    """The agent did not answer a question in time; the server withdrew it."""


class BadRequest(OrchestrationError):
    """400: the request body is not a JSON object (`INVALID_JSON`) or is otherwise malformed."""


class Unauthorized(OrchestrationError):
    """401: no bearer token, or the wrong one."""


class Forbidden(OrchestrationError):
    """403: the server refuses the request (a cross-origin request, a policy, a permission)."""


class WriteDenied(Forbidden):
    """403 `WRITE_DENIED`: a context update touches keys operators may not write."""


class DeployRefused(Forbidden):
    """403: the deploy policy refuses the config (commands, `${VAR}` references, paths)."""


class NotFound(OrchestrationError):
    """404: no such route or resource."""


class ProcessNotFound(NotFound):
    """404 `PROCESS_NOT_FOUND`: no process by that name."""


class TriggerNotFound(NotFound):
    """404 `TRIGGER_NOT_FOUND`: the process has no trigger with that id."""


class SecretNotFound(NotFound):
    """404 `SECRET_NOT_FOUND`: the process has no secret by that name."""


class EventNotFound(NotFound):
    """404 `EVENT_NOT_FOUND`: the process has no dead letter with that event id."""


class Conflict(OrchestrationError):
    """409: the request conflicts with the current state of the runtime or process."""


class ProcessExists(Conflict):
    """409 `PROCESS_EXISTS`: a process by that name is already deployed."""


class InvalidState(Conflict):
    """409 `INVALID_STATE`: the process's lifecycle state does not allow the operation."""


class MissionStateConflict(Conflict):
    """409 `MISSION_STATE`: the mission's state does not allow the operation."""


class FeatureDisabled(Conflict):
    """409 `<FEATURE>_DISABLED`: the process's config leaves that feature off.

    `feature` is the lower-case feature name (`budget`, `inbox`, `journal`, ...).
    """

    def __init__(
        self, code: str, message: str, status: int | None = None, error_id: str | None = None
    ) -> None:
        super().__init__(code, message, status, error_id)
        self.feature = code.removesuffix("_DISABLED").lower()


class QuestionRemoved(OrchestrationError):
    """410 `QUESTION_REMOVED`: a pending question was removed (the inbox was cleared)."""


class PayloadTooLarge(OrchestrationError):
    """413: the request body is over the server's limit."""


class MisdirectedRequest(OrchestrationError):
    """421: the `Host` header names a host the server does not serve (DNS-rebinding guard)."""


class ValidationFailed(OrchestrationError):
    """422: a field of the body is invalid or unknown; the message names it. Nothing changed."""


class RateLimited(OrchestrationError):
    """429: too many requests (`RATE_LIMITED`) or a full inbox (`INBOX_FULL`)."""


class InboxFull(RateLimited):
    """429 `INBOX_FULL`: the inbox holds nothing the new message may replace."""


class ServerError(OrchestrationError):
    """5xx: the server failed; `error_id` names its log entry."""


class NotImplementedByServer(ServerError):
    """501: the route exists but the server does not implement it (rewind)."""


_BY_CODE: dict[str, type[OrchestrationError]] = {
    "INVALID_JSON": BadRequest,
    "UNAUTHORIZED": Unauthorized,
    "WRITE_DENIED": WriteDenied,
    "COMMANDS_NOT_ALLOWED": DeployRefused,
    "ENV_REFERENCES_NOT_ALLOWED": DeployRefused,
    "PATH_NOT_ALLOWED": DeployRefused,
    "PROCESS_NOT_FOUND": ProcessNotFound,
    "TRIGGER_NOT_FOUND": TriggerNotFound,
    "SECRET_NOT_FOUND": SecretNotFound,
    "EVENT_NOT_FOUND": EventNotFound,
    "PROCESS_EXISTS": ProcessExists,
    "INVALID_STATE": InvalidState,
    "MISSION_STATE": MissionStateConflict,
    "QUESTION_REMOVED": QuestionRemoved,
    "INBOX_FULL": InboxFull,
    "NOT_IMPLEMENTED": NotImplementedByServer,
}

_BY_STATUS: dict[int, type[OrchestrationError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    410: QuestionRemoved,
    413: PayloadTooLarge,
    421: MisdirectedRequest,
    422: ValidationFailed,
    429: RateLimited,
    501: NotImplementedByServer,
}


def error_from_response(status: int, body: Any) -> OrchestrationError:
    """The typed error for an error response: `status` and its decoded JSON `body` (anything
    else, such as a proxy's HTML page, gives the generic class for the status and code
    `HTTP_<status>`)."""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("code"), str):
        code: str = error["code"]
        message = str(error.get("message", ""))
        error_id = error.get("error_id")
        error_id = error_id if isinstance(error_id, str) else None
    else:
        code, message, error_id = f"HTTP_{status}", f"unexpected HTTP {status} response", None
    cls = _BY_CODE.get(code)
    if cls is None and status == 409 and code.endswith("_DISABLED"):
        cls = FeatureDisabled
    if cls is None:
        cls = _BY_STATUS.get(status, ServerError if status >= 500 else OrchestrationError)
    return cls(code, message, status, error_id)
