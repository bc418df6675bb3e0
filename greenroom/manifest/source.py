"""Reading a manifest's YAML: the data, where each key sits, and what YAML lets through.

Only `yaml.SafeLoader` is used: plain data (mappings, lists, strings, numbers, booleans, null),
never a Python object or a call. The document is composed once, walked to record the position
of every key and list item (so an error on `triggers[0].cron` can point at its line), and then
built. The walk also refuses what `safe_load` would silently accept: a key given twice (YAML
keeps the last), a key that is not a string, and aliases that expand to an absurd size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NoReturn

import yaml

from greenroom.manifest.errors import ManifestError

__all__ = ["MAX_DEPTH", "MAX_NODES", "Path", "Problem", "Source", "parse_yaml"]

MAX_NODES = 100_000
"""At most this many YAML nodes, counting each alias use in full (an "alias bomb" guard)."""

MAX_DEPTH = 100
"""At most this many nested mappings and lists (a recursive alias would never end)."""

Path = tuple[str | int, ...]
"""A location in the data: mapping keys and list indexes from the root."""


@dataclass(frozen=True)
class Problem:
    """A validation problem before it is placed in the source: its path, its message and,
    when the path alone cannot tell (a key given twice), its own (line, column)."""

    path: Path
    message: str
    mark: tuple[int, int] | None = None


@dataclass
class Source:
    """A parsed manifest: its data, the (line, column) of every key and list item (1-based),
    and the problems the YAML itself has (duplicate or non-string keys)."""

    data: Any
    marks: dict[Path, tuple[int, int]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


def parse_yaml(text: str, file_path: str) -> Source:
    """Parse `text` safely. Raises `ManifestError` with the line and column of a syntax error."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return Source(None)
        source = Source(None)
        _Walk(source, file_path).node(node, ())
        source.data = loader.construct_document(node)
        return source
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        if exc.context and exc.problem:
            problem = f"{exc.problem} ({exc.context})"
        raise ManifestError(
            f"invalid YAML: {problem}", file_path=file_path,
            line=mark.line + 1 if mark is not None else None,
            column=mark.column + 1 if mark is not None else None,
        ) from None
    except yaml.YAMLError as exc:
        raise ManifestError(f"invalid YAML: {exc}", file_path=file_path) from None
    finally:
        loader.dispose()


class _Walk:
    """One pass over the composed nodes, recording marks and key problems."""

    def __init__(self, source: Source, file_path: str) -> None:
        self.source = source
        self.file_path = file_path
        self.count = 0

    def node(self, node: yaml.Node, path: Path) -> None:
        self.count += 1
        if self.count > MAX_NODES:
            self.refuse(node, f"the document has more than {MAX_NODES} nodes once its aliases "
                              "are expanded")
        if len(path) > MAX_DEPTH:
            self.refuse(node, f"the document nests more than {MAX_DEPTH} levels deep")
        if isinstance(node, yaml.MappingNode):
            self.mapping(node, path)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self.mark((*path, index), item)
                self.node(item, (*path, index))

    def mapping(self, node: yaml.MappingNode, path: Path) -> None:
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                # `<<: *base` merges another mapping in; its keys are checked where defined.
                continue
            where = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            if not (isinstance(key_node, yaml.ScalarNode)
                    and key_node.tag == "tag:yaml.org,2002:str"):
                self.source.problems.append(Problem(
                    path, "keys must be strings; quote this key", where,
                ))
                continue
            key = str(key_node.value)
            line = where[0]
            if key in seen:
                self.source.problems.append(Problem(
                    (*path, key), f"duplicate key (first given on line {seen[key]})", where,
                ))
                continue
            seen[key] = line
            self.mark((*path, key), key_node)
            self.node(value_node, (*path, key))

    def refuse(self, node: yaml.Node, message: str) -> NoReturn:
        mark = node.start_mark
        raise ManifestError(message, file_path=self.file_path, line=mark.line + 1,
                            column=mark.column + 1)

    def mark(self, path: Path, node: yaml.Node) -> None:
        mark = node.start_mark
        self.source.marks.setdefault(path, (mark.line + 1, mark.column + 1))
