"""Fresh identifiers for events, messages, subscriptions and journal entries.

Ids are made on every run (a bus event, journal entries), so they must be cheap. They are hex
digits cut from a per-thread block of the OS's random source (`random_hex`): one `os.urandom`
call serves 256 ids. Besides the system call itself, `os.urandom` releases the GIL around it, so
a busy thread calling it per id lets any thread waiting for the GIL (the journal writer, back
from fsync) run, and then waits to get it back. A forked child starts a fresh block, so it never
repeats its parent's ids.
"""

from __future__ import annotations

import os
import threading

__all__ = ["new_id", "random_hex"]

_BLOCK_BYTES = 4096


class _Block(threading.local):
    """The calling thread's unread random bytes."""

    def __init__(self) -> None:
        self.data = b""
        self.used = 0


_block = _Block()


def _reset() -> None:
    _block.data, _block.used = b"", 0


os.register_at_fork(after_in_child=_reset)


def random_hex(nbytes: int) -> str:
    """`nbytes` fresh random bytes from the OS, as 2 * `nbytes` lowercase hex digits."""
    block = _block
    start = block.used
    end = start + nbytes
    if end > len(block.data):
        block.data, start, end = os.urandom(max(_BLOCK_BYTES, nbytes)), 0, nbytes
    block.used = end
    return block.data[start:end].hex()


def new_id() -> str:
    """A fresh random identifier: 32 lowercase hex digits (16 random bytes, a uuid4's size)."""
    return random_hex(16)
