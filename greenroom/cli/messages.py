"""Commands that talk to an agent: `send` (an inbox message), `ask` (a question, waiting for
the answer) and `inject` (an event, as if a trigger had fired)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from greenroom.api.client_errors import AskTimeout
from greenroom.cli.output import emit, emit_json, error
from greenroom.cli.remote import add_remote_options, remote_command

if TYPE_CHECKING:
    from greenroom.api.client import OrchestrationClient

__all__ = ["register"]


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the messaging commands to the CLI."""
    send = commands.add_parser(
        "send", help="put a message in a process's inbox",
        description="The agent sees the message on its next run (the process's config must "
                    "enable the inbox).")
    send.add_argument("name", help="the process name")
    send.add_argument("text", help="the message")
    send.add_argument("--type", dest="message_type", default="context",
                      help="message type (default: context)")
    send.add_argument("--priority", default="normal", help="low, normal, high or critical")
    send.add_argument("--sender", dest="sender_id", help="who sends it (shown to the agent)")
    send.add_argument("--ttl", type=float, metavar="SECONDS", help="expire after SECONDS")
    add_remote_options(send)
    send.set_defaults(func=remote_command(_send))

    ask = commands.add_parser(
        "ask", help="ask a process a question and print its answer",
        description="Waits for the agent's answer; exit code 1 if none comes in time.")
    ask.add_argument("name", help="the process name")
    ask.add_argument("question", help="the question")
    ask.add_argument("--wait", type=float, default=120.0, metavar="SECONDS",
                     help="seconds to wait for the answer (default: 120)")
    ask.add_argument("--sender", dest="sender_id", help="who asks")
    add_remote_options(ask)
    ask.set_defaults(func=remote_command(_ask))

    inject = commands.add_parser(
        "inject", help="queue an event for a process, as if a trigger fired",
        description="PAYLOAD is a JSON object (default {}); '-' reads it from stdin.")
    inject.add_argument("name", help="the process name")
    inject.add_argument("payload", nargs="?", help="the event's payload, a JSON object")
    inject.add_argument("--trigger-type", help="the event's trigger type (default: the "
                                               "server's, 'api')")
    inject.add_argument("--key", dest="idempotency_key",
                        help="idempotency key: an event with a key already seen is not run "
                             "again")
    add_remote_options(inject)
    inject.set_defaults(func=remote_command(_inject))


async def _send(client: OrchestrationClient, args: argparse.Namespace) -> int:
    answer = await client.send_message(args.name, args.text, message_type=args.message_type,
                                       priority=args.priority, sender_id=args.sender_id,
                                       ttl=args.ttl)
    if args.json:
        emit_json(answer)
    else:
        emit(f"{args.name}: message {answer.get('message_id')} {answer.get('status', 'queued')}")
    return 0


async def _ask(client: OrchestrationClient, args: argparse.Namespace) -> int:
    try:
        answer = await client.ask(args.name, args.question, timeout=args.wait,
                                  sender_id=args.sender_id)
    except AskTimeout as exc:
        return error(exc.message)
    if args.json:
        emit_json(answer)
    else:
        emit(str(answer.get("response", "")))
    return 0


async def _inject(client: OrchestrationClient, args: argparse.Namespace) -> int:
    payload = _payload(args.payload)
    if payload is None:
        return error("PAYLOAD must be a JSON object, such as '{\"service\": \"billing\"}'", 2)
    answer = await client.inject_event(args.name, payload, trigger_type=args.trigger_type,
                                       idempotency_key=args.idempotency_key)
    if args.json:
        emit_json(answer)
    else:
        emit(f"{args.name}: event {answer.get('event_id')} {answer.get('status', 'injected')}")
    return 0


def _payload(raw: str | None) -> dict[str, Any] | None:
    """The payload argument as a JSON object ({} if absent); None if it is not one."""
    if raw is None:
        return {}
    text = sys.stdin.read() if raw == "-" else raw
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None
