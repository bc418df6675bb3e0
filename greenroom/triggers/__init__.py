"""Triggers: what wakes a process. (The trigger actors arrive with their own issue.)"""

from greenroom.triggers.event import TriggerEvent

__all__ = ["TriggerEvent"]
