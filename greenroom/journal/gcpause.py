"""Pausing the cyclic garbage collector while a journal is decoded and replayed.

Decoding a journal builds hundreds of thousands of small objects (the dicts and strings of its
JSON), none of which form a cycle. Every allocation counts towards the collector's thresholds,
so it runs again and again, and its older generations rescan everything decoded so far: about a
third of a recovery's time (`python -m bench.journal`). Reference counting still frees memory as
usual while paused; only the search for cycles waits until the decode is over.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["gc_paused"]


@contextmanager
def gc_paused() -> Iterator[None]:
    """Disable the cyclic collector for the block (left alone if it is already disabled)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
