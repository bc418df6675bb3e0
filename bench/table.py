"""The text table every benchmark prints: labels on the left, figures right-aligned."""

from __future__ import annotations

__all__ = ["layout"]


def layout(header: list[str], body: list[list[str]], *, trailing: int = 0) -> list[str]:
    """The lines of a table: `header`, a rule, then `body`. The first column (the row labels)
    and the last `trailing` columns (a target, a status) are left-aligned, the others (the
    figures) right-aligned; trailing spaces are cut."""
    widths = [max(len(cells[i]) for cells in [header, *body]) for i in range(len(header))]
    figures = len(header) - trailing

    def line(cells: list[str]) -> str:
        aligned = [cells[0].ljust(widths[0])]
        aligned += [c.rjust(w) for c, w in zip(cells[1:figures], widths[1:figures], strict=True)]
        aligned += [c.ljust(w) for c, w in zip(cells[figures:], widths[figures:], strict=True)]
        return " | ".join(aligned).rstrip()

    return [line(header), "-+-".join("-" * w for w in widths), *(line(cells) for cells in body)]
