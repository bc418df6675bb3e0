"""Reading back the ISO 8601 timestamps that records write with `datetime.isoformat()`."""

from __future__ import annotations

from datetime import datetime

__all__ = ["parse_timestamp"]


def parse_timestamp(raw: object, field_name: str = "timestamp") -> datetime:
    """`raw` as a datetime; `ValueError` naming `field_name` if it is not an ISO 8601 string."""
    try:
        timestamp = datetime.fromisoformat(raw) if isinstance(raw, str) else None
    except ValueError:
        timestamp = None
    if timestamp is None:
        msg = f"{field_name}: {raw!r} is not an ISO 8601 date-time"
        raise ValueError(msg)
    return timestamp
