"""A supervised worker that crashes and comes back: greenroom's kernel in thirty lines.

Run: python examples/supervision_tree.py
"""

from __future__ import annotations

import logging
from typing import Any

from greenroom.actors import Actor, ActorSystem
from greenroom.supervision import Backoff, ChildRestarted, ChildSpec, Supervisor
from greenroom.testing import TestProbe


class Summarizer(Actor):
    """Pretends to summarise documents; an empty document crashes it."""

    def __init__(self) -> None:
        super().__init__()
        self.handled = 0

    def on_receive(self, message: Any) -> Any:
        if not message:
            raise ValueError("empty document")
        self.handled += 1
        return f"summary #{self.handled}: {message[:20]}"


def main() -> None:
    logging.basicConfig(level=logging.CRITICAL)  # the crash below is on purpose
    with ActorSystem(name="demo") as system:
        events = TestProbe(system)
        system.event_stream.subscribe(events.ref, ChildRestarted)
        sup = system.spawn(
            Supervisor,
            strategy="one_for_one",
            children=[ChildSpec("summarizer", Summarizer)],
            max_restarts=3,
            within=5.0,
            backoff=Backoff(min=0.05, max=1.0, jitter=0.0),
            name="app",
        )
        worker = sup.proxy().child_ref("summarizer").get()
        print(worker.ask("The actor model, explained in one page."))
        worker.tell("")  # crashes the worker
        restarted = events.expect_message_type(ChildRestarted)
        print(f"restarted {restarted.child_id} (attempt {restarted.attempt}, "
              f"after {restarted.delay:.2f} s)")
        print(worker.ask("Supervision trees keep services alive.", timeout=5))
        print(sup.proxy().which_children().get())


if __name__ == "__main__":
    main()
