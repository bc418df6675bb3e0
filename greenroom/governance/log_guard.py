"""Keep secret values out of greenroom's own log records.

`RedactingFilter` belongs on handlers, which are the application's. What greenroom can guarantee
on its side is that no record its own loggers create carries a live secret: while any secret
scope is active, `LOG_GUARD` sits as a filter on every `greenroom.*` logger and redacts each
record with the redactor of every active scope. A scope's actor adds its redactor when it starts
and removes it when it stops. Loggers of the application itself still need a `RedactingFilter`
on their handlers.
"""

from __future__ import annotations

import logging
import threading

from greenroom.governance.redaction import RedactingFilter, Redactor

__all__ = ["LOG_GUARD", "LogGuard"]


class LogGuard(logging.Filter):
    """A logger filter that redacts records with every registered `Redactor`."""

    def __init__(self, prefix: str = "greenroom") -> None:
        super().__init__()
        self.prefix = prefix
        self._lock = threading.Lock()
        self._filters: dict[int, RedactingFilter] = {}

    def add(self, redactor: Redactor) -> None:
        """Redact with `redactor` from now on, and make sure every greenroom logger is guarded."""
        with self._lock:
            self._filters[id(redactor)] = RedactingFilter(redactor)
        self._install()

    def remove(self, redactor: Redactor) -> None:
        """Stop redacting with `redactor` (its scope stopped; its values are zero-filled)."""
        with self._lock:
            self._filters.pop(id(redactor), None)

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact `record` in place with each active scope's redactor; always keeps it."""
        for redacting in list(self._filters.values()):
            redacting.filter(record)
        return True

    def _install(self) -> None:
        """Add this filter to every existing `greenroom` logger that lacks it."""
        prefix = self.prefix
        loggers = [logging.getLogger(prefix)]
        loggers += [logger for name, logger in list(logging.root.manager.loggerDict.items())
                    if name.startswith(f"{prefix}.") and isinstance(logger, logging.Logger)]
        for logger in loggers:
            if self not in logger.filters:
                logger.addFilter(self)


LOG_GUARD = LogGuard()
"""The guard of greenroom's loggers, shared by every secret scope in this OS process."""
