"""The Orchestration REST API: a runtime's processes over HTTP (see docs/api.md).

`OrchestrationAPI(runtime, host="127.0.0.1", port=9100, auth_token=None)` serves every route on
the caller's event loop; `ApiError` and `ERROR_CODES` are the error model; `DeployPolicy` limits
what a config deployed over the API may ask for. The names are imported on first use
(`greenroom.lazy`), so `greenroom.api.client` does not bring in the server and the runtime.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from greenroom.lazy import exports

if TYPE_CHECKING:
    from greenroom.api.errors import ERROR_CODES, ApiError
    from greenroom.api.policy import DeployPolicy
    from greenroom.api.server import OrchestrationAPI

__all__ = ["ERROR_CODES", "ApiError", "DeployPolicy", "OrchestrationAPI"]

if not TYPE_CHECKING:
    __getattr__, __dir__ = exports(__name__, __file__, globals())
