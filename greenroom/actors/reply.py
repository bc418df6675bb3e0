"""`Reply`: an answer to an `ask` that the actor gives later (OTP's `noreply` + `gen_server:reply`).

An actor that must wait for something before it can answer (a journal write, another actor's
reply) calls `self.defer_reply()` while it handles the message, returns, and later calls
`reply.set(value)` or `reply.fail(exc)` from its own turn. Meanwhile it keeps handling other
messages. If the actor stops or fails first, every reply it still owes fails with
`pykka.ActorDeadError`, so an asker never hangs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pykka

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["Reply"]


class Reply:
    """The pending answer to one asked message; a told message gets a Reply that answers no one."""

    __slots__ = ("_future", "_release")

    def __init__(
        self, future: pykka.Future[Any] | None, release: Callable[[Reply], None]
    ) -> None:
        self._future = future
        self._release = release

    @property
    def expected(self) -> bool:
        """Whether someone asked (and so waits for this reply)."""
        return self._future is not None

    def done(self) -> bool:
        """Whether the answer was given (always True for a told message)."""
        return self._future is None

    def answers(self, future: pykka.Future[Any]) -> bool:
        """Whether this reply is still owed to the asker waiting on `future`."""
        return self._future is future

    def set(self, value: Any = None) -> None:
        """Answer with `value`; a second answer is ignored."""
        future = self._take()
        if future is not None:
            future.set(value)

    def fail(self, exc: BaseException) -> None:
        """Answer with an exception, raised in the asker's `get()` or `await`."""
        future = self._take()
        if future is not None:
            future.set_exception((type(exc), exc, exc.__traceback__))

    def _take(self) -> pykka.Future[Any] | None:
        future, self._future = self._future, None
        if future is not None:
            self._release(self)
        return future
