"""`EventHub`: the runtime's events, fanned out to server-sent-event clients.

`AgentRuntime.add_listener` calls its listeners from actor threads. `EventHub.publish` turns an
event into its SSE text on that thread (a snapshot: the actor may change its dict afterwards)
and hops to the server's loop with `call_soon_threadsafe`; there each client's bounded queue gets
it. A client that does not keep up loses events rather than growing memory or slowing anyone:
the next event it gets is preceded by an `events.dropped` event with the count. With no client
connected, publishing costs a length check.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from greenroom.triggers.topics import TopicPattern

__all__ = ["CLIENT_QUEUE", "HEARTBEAT", "EventHub", "StreamClient"]

logger = logging.getLogger("greenroom.api")

CLIENT_QUEUE = 1000
"""Events a slow client may fall behind before it loses some."""

HEARTBEAT = 15.0
"""Seconds between keep-alive comments on an idle stream (a gone client is noticed then)."""


@dataclass(eq=False)
class StreamClient:
    """One connected SSE client: its filter, its bounded queue and what it lost."""

    patterns: tuple[TopicPattern, ...]
    queue: asyncio.Queue[str | None] = field(
        default_factory=lambda: asyncio.Queue(CLIENT_QUEUE))
    dropped: int = 0

    def wants(self, event_type: str) -> bool:
        """Whether the client's `?types=` filter lets `event_type` through (no filter: all)."""
        return not self.patterns or any(p.matches(event_type) for p in self.patterns)

    def offer(self, text: str) -> None:
        """Queue an event's text, or count it lost when the queue is full."""
        try:
            self.queue.put_nowait(text)
        except asyncio.QueueFull:
            self.dropped += 1

    def close(self) -> None:
        """End the client's stream (its queue is emptied to make room for the end marker)."""
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(None)


class EventHub:
    """Fans runtime events out to SSE clients (see the module docstring)."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._clients: set[StreamClient] = set()
        self._ids = itertools.count(1)

    def open(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start delivering on `loop` (the server's)."""
        self._loop = loop

    def close(self) -> None:
        """Stop delivering and end every client's stream (on the loop)."""
        self._loop = None
        for client in self._clients:
            client.close()

    def publish(self, event_type: str, data: dict[str, Any]) -> None:
        """A runtime listener: may be called from any thread."""
        loop = self._loop
        if loop is None or not self._clients:
            return
        payload = {"type": event_type, "timestamp": datetime.now(UTC).isoformat(), "data": data}
        text = json.dumps(payload, default=str)
        try:
            loop.call_soon_threadsafe(self._fan_out, event_type, text)
        except RuntimeError:  # the loop closed meanwhile
            return

    def _fan_out(self, event_type: str, text: str) -> None:
        if self._loop is None:
            return
        message = f"id: {next(self._ids)}\nevent: {event_type}\ndata: {text}\n\n"
        for client in self._clients:
            if client.wants(event_type):
                client.offer(message)

    async def serve(self, request: web.Request, patterns: tuple[TopicPattern, ...]
                    ) -> web.StreamResponse:
        """Stream events to one client until it goes or the hub closes."""
        response = web.StreamResponse(headers={
            "Content-Type": "text/event-stream", "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        })
        await response.prepare(request)
        client = StreamClient(patterns)
        self._clients.add(client)
        try:
            await response.write(b": connected\n\n")
            while self._loop is not None:
                try:
                    text = await asyncio.wait_for(client.queue.get(), HEARTBEAT)
                except TimeoutError:
                    await response.write(b": keep-alive\n\n")
                    continue
                if text is None:
                    break
                if client.dropped:
                    lost = json.dumps({"type": "events.dropped", "data": {"count": client.dropped}})
                    client.dropped = 0
                    await response.write(f"event: events.dropped\ndata: {lost}\n\n".encode())
                await response.write(text.encode())
        except ConnectionResetError:
            logger.debug("event stream client %s went away", request.remote)
        finally:
            self._clients.discard(client)
        return response
