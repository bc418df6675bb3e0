"""The errors a manifest can raise, and the shape of one validation problem.

`ManifestError` is a manifest that cannot be read or parsed (a missing file, invalid UTF-8, a
YAML syntax error); it carries the file and, for a syntax error, the line and column.
`ManifestValidationError` is a manifest that parses but breaks the schema: `errors` lists every
problem with its field path (`triggers[0].cron`) and, when the YAML source is known, the line and
column of the key at fault. Both messages begin `file:line:col:` like a compiler's, so editors and
terminals can jump to the spot.
"""

from __future__ import annotations

from typing import TypedDict

from greenroom.runtime.errors import RuntimeBaseError

__all__ = ["ManifestError", "ManifestIssue", "ManifestValidationError"]


class ManifestIssue(TypedDict):
    """One validation problem: the field path (empty for the whole manifest), what is wrong, and
    where (1-based line and column, or None when the manifest did not come from YAML text)."""

    path: str
    message: str
    line: int | None
    column: int | None


def location(file_path: str | None, line: int | None = None, column: int | None = None) -> str:
    """The `file:line:col: ` prefix of a message (only the parts that are known)."""
    parts = [part for part in (file_path, line, column) if part is not None]
    return ":".join(str(part) for part in parts) + ": " if parts else ""


def describe(issue: ManifestIssue, file_path: str | None) -> str:
    """One issue as a line: `file:line:col: path: message`."""
    where = location(file_path, issue["line"], issue["column"])
    return f"{where}{issue['path']}: {issue['message']}" if issue["path"] else \
        f"{where}{issue['message']}"


class ManifestError(RuntimeBaseError):
    """A manifest that cannot be loaded: I/O, encoding or YAML syntax.

    `file_path`, `line` and `column` (1-based) locate the problem when known; `message` is the
    text without the location.
    """

    def __init__(
        self,
        message: str,
        *,
        file_path: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        self.message = message
        self.file_path = file_path
        self.line = line
        self.column = column
        super().__init__(f"{location(file_path, line, column)}{message}")

    def __reduce__(self) -> tuple[object, ...]:
        """Pickle by constructor arguments, so the error can cross process boundaries."""
        return (_rebuild_error, (self.message, self.file_path, self.line, self.column))


def _rebuild_error(
    message: str, file_path: str | None, line: int | None, column: int | None
) -> ManifestError:
    return ManifestError(message, file_path=file_path, line=line, column=column)


class ManifestValidationError(ManifestError, ValueError):
    """A manifest that breaks the schema. `errors` holds every problem found (at least one);
    `line` and `column` are those of the first.

    The message is the single problem on one line, or a count followed by one line per problem.
    """

    def __init__(self, errors: list[ManifestIssue], *, file_path: str | None = None) -> None:
        if not errors:
            msg = "ManifestValidationError needs at least one issue"
            raise ValueError(msg)
        self.errors = list(errors)
        first = self.errors[0]
        if len(self.errors) == 1:
            text = f"{first['path']}: {first['message']}" if first["path"] else first["message"]
            super().__init__(text, file_path=file_path, line=first["line"],
                             column=first["column"])
            return
        lines = [f"{len(self.errors)} errors in the manifest"]
        lines += [f"  {describe(issue, file_path)}" for issue in self.errors]
        super().__init__("\n".join(lines), file_path=file_path)
        self.line = first["line"]
        self.column = first["column"]

    def __reduce__(self) -> tuple[object, ...]:
        """Pickle by constructor arguments, so the error can cross process boundaries."""
        return (_rebuild_validation_error, (self.errors, self.file_path))


def _rebuild_validation_error(
    errors: list[ManifestIssue], file_path: str | None
) -> ManifestValidationError:
    return ManifestValidationError(errors, file_path=file_path)
