"""Redaction: secret values replaced by `[REDACTED:name]` in whatever leaves the process.

Everything a process shows the outside world (the conversation, journal entries, status dicts,
API responses, escalation payloads, log records) goes through a `Redactor` first. Matching is
plain substring search, so a secret is caught wherever it sits: inside a URL, after `Bearer `,
glued to a JSON key. Substring search only stays harmless to ordinary text if secrets are long
enough never to occur in it by accident, hence `MIN_SECRET_LENGTH`: shorter values are refused
(`check_secret_value`), so a secret "an" can never turn "banana" into noise.

Where occurrences overlap, the covered text is the union of all of them (no byte of any secret
survives) and the marker names the longest occurrences: a secret contained in a longer one is
absorbed by it, which is the "longest secret first" rule.

Values are held as UTF-8 `bytearray`s, never as `str`, so an owner that zero-fills its buffers
(`SecretScope.revoke_all`) leaves no copy behind in the redactor. A `Redactor` may be read from any
thread (a logging handler, an HTTP server) while its owner updates it: every update swaps in a new
immutable snapshot.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterable, Mapping
from typing import Any, NoReturn

__all__ = [
    "MIN_SECRET_LENGTH",
    "RedactingFilter",
    "Redactor",
    "check_secret_value",
    "redaction_marker",
]

MIN_SECRET_LENGTH = 8
"""Shortest secret value (in characters) accepted; see `check_secret_value` for why 8."""

_ENCODING = "utf-8"
_ERRORS = "surrogatepass"  # lone surrogates in text must not make redaction fail


def redaction_marker(*names: str) -> str:
    """The text that replaces a secret: `[REDACTED:name]`, or `[REDACTED:a,b]` for overlaps."""
    return f"[REDACTED:{','.join(names)}]"


def check_secret_value(value: str) -> str | None:
    """Why `value` cannot be a secret, or None if it can.

    The minimum of 8 characters: a secret is redacted wherever its exact text occurs, and an
    8-character credential-like value essentially never occurs in ordinary text by accident,
    while 2-4 character values ("an", "key", "1234") occur everywhere. Eight is also the least
    any common password policy allows (NIST SP 800-63B); tokens and API keys are far longer, and
    a shorter value is guessable anyway. A NUL character is refused because zero-filled buffers
    are made of NULs (and no environment variable can hold one). The reason never quotes the value.
    """
    if len(value) < MIN_SECRET_LENGTH:
        return f"is shorter than the minimum of {MIN_SECRET_LENGTH} characters"
    if "\0" in value:
        return "contains a NUL character"
    return None


def _char_count(buffer: bytearray) -> int:
    """Characters in UTF-8 `buffer` without decoding it (every byte but continuation bytes)."""
    return sum(1 for byte in buffer if byte & 0xC0 != 0x80)


def _as_buffer(name: str, value: str | bytearray) -> bytearray:
    """`value` as a UTF-8 buffer (a given bytearray is shared, not copied), checked."""
    if isinstance(value, str):
        problem = check_secret_value(value)
        buffer = bytearray(value, _ENCODING, _ERRORS)
    elif isinstance(value, bytearray):
        buffer = value
        problem = None
        if _char_count(buffer) < MIN_SECRET_LENGTH:
            problem = f"is shorter than the minimum of {MIN_SECRET_LENGTH} characters"
        elif 0 in buffer:
            problem = "contains a NUL character"
    else:
        msg = f"secret {name!r}: values must be str or bytearray, got {type(value).__name__}"
        raise TypeError(msg)
    if problem is not None:
        msg = f"secret {name!r}: value {problem}"
        raise ValueError(msg)
    return buffer


class Redactor:
    """Replaces known secret values by `[REDACTED:name]` in text and in JSON-ready data.

    Each name may have several values (a current one and the ones it replaced, which can still
    sit in old conversation text). `redact_data` walks dicts (keys too), lists and tuples; other
    objects are returned unchanged, so redact the JSON-ready form of anything, not the object.
    Neither `repr()` nor pickling reveals a value.
    """

    def __init__(self, secrets: Mapping[str, str] | None = None) -> None:
        self._values: dict[str, tuple[bytearray, ...]] = {}
        self._needles: tuple[tuple[str, bytearray], ...] = ()
        for name, value in (secrets or {}).items():
            self.set(name, [value])

    def __repr__(self) -> str:
        return f"Redactor(names={self.names!r})"

    def __reduce__(self) -> NoReturn:
        msg = "a Redactor holds secret values and cannot be pickled or copied"
        raise TypeError(msg)

    @property
    def names(self) -> list[str]:
        """The names whose values are redacted, sorted."""
        return sorted(self._values)

    def set(self, name: str, values: Iterable[str | bytearray]) -> None:
        """Redact `values` under `name` from now on, replacing what `name` had.

        A `bytearray` is shared, not copied: its owner may zero-fill it, after `remove(name)`
        or a `set` without it. Raises `ValueError` (naming the secret, never quoting the value)
        for a value shorter than `MIN_SECRET_LENGTH` or containing NUL; nothing changes then.
        """
        if not isinstance(name, str) or not name:
            msg = f"secret names must be non-empty strings, got {name!r}"
            raise ValueError(msg)
        buffers = tuple(_as_buffer(name, value) for value in values)
        updated = dict(self._values)
        if buffers:
            updated[name] = buffers
        else:
            updated.pop(name, None)
        self._publish(updated)

    def remove(self, name: str) -> bool:
        """Stop redacting `name`'s values; False if it had none."""
        if name not in self._values:
            return False
        updated = dict(self._values)
        del updated[name]
        self._publish(updated)
        return True

    def clear(self) -> None:
        """Forget every value."""
        self._publish({})

    def _publish(self, values: dict[str, tuple[bytearray, ...]]) -> None:
        needles = [(name, buffer) for name, buffers in values.items() for buffer in buffers]
        needles.sort(key=lambda needle: -len(needle[1]))
        self._values = values
        self._needles = tuple(needles)

    def redact(self, text: str) -> str:
        """`text` with every occurrence of every value replaced by its marker."""
        if not isinstance(text, str):
            msg = f"redact() takes a str, got {type(text).__name__}; use redact_data()"
            raise TypeError(msg)
        needles = self._needles
        if not needles or not text:
            return text
        data = text.encode(_ENCODING, _ERRORS)
        spans: list[tuple[int, int, str]] = []
        for name, needle in needles:
            if 0 in needle:
                continue  # being zero-filled by its owner (values never contain NUL)
            start = data.find(needle)
            while start != -1:
                spans.append((start, start + len(needle), name))
                start = data.find(needle, start + 1)
        if not spans:
            return text
        return _replace(data, spans)

    def redact_data(self, data: Any) -> Any:
        """`data` with `redact` applied to every string in it, keys included (new containers)."""
        if isinstance(data, str):
            return self.redact(data)
        if isinstance(data, Mapping):
            return {self.redact_data(key): self.redact_data(value) for key, value in data.items()}
        if isinstance(data, list):
            return [self.redact_data(item) for item in data]
        if isinstance(data, tuple):
            return tuple(self.redact_data(item) for item in data)
        return data


def _replace(data: bytes, spans: list[tuple[int, int, str]]) -> str:
    """`data` decoded, each union of overlapping spans replaced by one marker.

    A span's boundaries are character boundaries: a needle is valid UTF-8, so it can only match
    starting at a lead byte and ending at the end of a whole character.
    """
    spans.sort(key=lambda span: (span[0], -span[1]))
    parts: list[str] = []
    position = 0
    index = 0
    while index < len(spans):
        start, end, name = spans[index]
        names = [name]
        index += 1
        while index < len(spans) and spans[index][0] < end:
            _, other_end, other = spans[index]
            if other_end > end:
                end = other_end
                if other not in names:
                    names.append(other)
            index += 1
        parts.append(data[position:start].decode(_ENCODING, _ERRORS))
        parts.append(redaction_marker(*names))
        position = end
    parts.append(data[position:].decode(_ENCODING, _ERRORS))
    return "".join(parts)


_STANDARD_ATTRIBUTES = frozenset(
    logging.LogRecord("", 0, "", 0, "", (), None).__dict__
) | {"message", "asctime"}


class RedactingFilter(logging.Filter):
    """A logging filter that redacts a record's message, arguments, traceback and extras.

    The message is formatted (`msg % args`) and redacted, and `args` emptied, so a secret is
    caught even when it is split across arguments or hidden in an object's `str()`. A traceback
    is formatted and redacted into `exc_text`, which formatters print as is, and the raw
    `exc_info` (whose exception message may quote a secret) is dropped; `stack_info` is redacted
    too. Extra attributes (`extra=`) are redacted with `redact_data`. A record whose
    message cannot be formatted becomes its redacted template followed by its redacted
    arguments, so the formatting error cannot print a secret either. Never drops a record.

    Attach it to **handlers**: a filter on a logger only sees records logged on that very logger,
    not those propagated from its children.
    """

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact `record` in place; always keeps it."""
        redact = self.redactor.redact
        try:
            message = record.getMessage()
        except Exception:
            message = f"{record.msg} (unformattable arguments: {record.args!r})"
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        record.exc_info = None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD_ATTRIBUTES:
                record.__dict__[key] = self.redactor.redact_data(value)
        return True
