"""Running plain `pykka.ThreadingActor` subclasses inside an `ActorSystem`.

`adapt(cls)` makes a subclass whose user-facing methods are the user's own, and whose runtime
(mailbox, thread loop, failure handling, death watch) is greenroom's. Such an actor is watched,
supervised and restarted like any greenroom actor, and a `BaseException` in it stops only it.
"""

from __future__ import annotations

import threading
from typing import Any

import pykka

from greenroom.actors.actor import Actor

__all__ = ["adapt", "is_greenroom_actor"]

_adapted: dict[type[pykka.Actor], type[Actor]] = {}
_lock = threading.Lock()


def is_greenroom_actor(cls: type) -> bool:
    """Whether `cls` already runs on greenroom's runtime."""
    return isinstance(cls, type) and Actor in cls.__mro__  # faster than ABCMeta's issubclass


def adapt(cls: type[pykka.Actor]) -> type[Actor]:
    """The greenroom-run subclass of a plain pykka actor class (made once per class)."""
    if not (isinstance(cls, type) and issubclass(cls, pykka.Actor)):
        msg = f"expected an Actor class (greenroom or pykka), got {cls!r}"
        raise TypeError(msg)
    with _lock:
        adapted = _adapted.get(cls)
        if adapted is None:
            namespace: dict[str, Any] = {
                "__module__": cls.__module__,
                "__qualname__": cls.__qualname__,
                "__doc__": cls.__doc__,
                "_create_actor_inbox": staticmethod(Actor._create_actor_inbox),
                "_create_future": staticmethod(Actor._create_future),
                "_start_actor_loop": Actor._start_actor_loop,
                "actor_ref": Actor.actor_ref,
            }
            adapted = type(cls.__name__, (cls, Actor), namespace)
            _adapted[cls] = adapted
        return adapted
