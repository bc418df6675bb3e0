"""Showing inbox messages to the agent, and reading its answers back (pure functions).

Before a run, pending messages become one context block; each question gets a label (`Q1`,
`Q2`, ...) and the agent is asked to answer as `ANSWER Q1: ...`. After the run, those fragments
are read from the reply. A run that was shown exactly one question and whose reply has no
fragment answers it with the whole reply (agents rarely follow the format for a lone question).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from greenroom.runtime.inbox import MessageType

if TYPE_CHECKING:
    from greenroom.runtime.inbox import InboxMessage

__all__ = ["Delivery", "deliver", "read_answers"]

_ANSWER = re.compile(r"ANSWER\s+(Q\d+)\s*:\s*(.*?)(?=ANSWER\s+Q\d+\s*:|\Z)", re.DOTALL)


@dataclass(frozen=True)
class Delivery:
    """What one run was shown: the block's lines, question labels, and the other messages."""

    lines: list[str] = field(default_factory=list)
    questions: dict[str, str] = field(default_factory=dict)
    """label -> question id"""
    delivered: list[str] = field(default_factory=list)
    """ids of the non-question messages shown (removed once the run succeeds)"""


def deliver(pending: list[InboxMessage]) -> Delivery:
    """Render pending messages (already in delivery order) for the next run."""
    lines: list[str] = []
    questions: dict[str, str] = {}
    delivered: list[str] = []
    for message in pending:
        who = f" from {message.sender_id}" if message.sender_id else ""
        kind = message.message_type.value
        if message.message_type is MessageType.QUESTION:
            label = f"Q{len(questions) + 1}"
            questions[label] = message.message_id
            lines.append(f"[{label}] question{who} ({message.priority.value}): "
                         f"{message.content} -- reply with 'ANSWER {label}: <answer>'")
        else:
            delivered.append(message.message_id)
            lines.append(f"[{kind}{who} ({message.priority.value})] {message.content}")
    return Delivery(lines, questions, delivered)


def read_answers(reply: str, delivery: Delivery) -> dict[str, str]:
    """Question id -> answer text found in `reply`."""
    answers: dict[str, str] = {}
    for label, text in _ANSWER.findall(reply):
        question_id = delivery.questions.get(label)
        if question_id is not None and question_id not in answers:
            answers[question_id] = text.strip()
    if not answers and len(delivery.questions) == 1:
        (question_id,) = delivery.questions.values()
        answers[question_id] = reply.strip()
    return answers
