"""Lazy package exports (PEP 562): a package's public names, imported on first use.

A package imports its public names under `if TYPE_CHECKING:` only, which is what type checkers
read, and hands `exports` its `__file__`: the first time a name is asked for, `exports` reads
that same block (once per package) to learn which module provides each name, imports that
module and keeps the value as a module global, so later lookups cost nothing. One list of
imports therefore serves both the type checkers and the runtime. A name that is one of the
package's own modules (`greenroom.runtime.process_actor`) is imported as well, as it was when a
package's `__init__` imported everything. Type checkers never see the hooks (the package defines
them under `if not TYPE_CHECKING`), so a misspelt name is still an error for them.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["exports", "type_checking_imports"]


def type_checking_imports(init_file: str) -> dict[str, str]:
    """name -> module for each `from module import name` under the top-level
    `if TYPE_CHECKING:` of the file `init_file`. A renaming import (`import a as b`) raises
    `ValueError`: the name exported must be the name its module defines."""
    tree = ast.parse(Path(init_file).read_text(encoding="utf-8"), init_file)
    table: dict[str, str] = {}
    for block in tree.body:
        if not (isinstance(block, ast.If) and isinstance(block.test, ast.Name)
                and block.test.id == "TYPE_CHECKING"):
            continue
        for node in block.body:
            if not (isinstance(node, ast.ImportFrom) and node.module):
                continue
            for alias in node.names:
                if alias.asname is not None:
                    msg = f"{init_file}: 'import {alias.name} as {alias.asname}' cannot be " \
                          "exported lazily; import the name as its module defines it"
                    raise ValueError(msg)
                table[alias.name] = node.module
    return table


def exports(
    package: str, init_file: str, namespace: dict[str, Any],
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """`__getattr__` and `__dir__` for `package`, whose `__init__` is `init_file` and whose
    globals are `namespace`."""
    table: dict[str, str] = {}

    def module_of() -> dict[str, str]:
        if not table:
            table.update(type_checking_imports(init_file))
        return table

    def __getattr__(name: str) -> Any:
        module = module_of().get(name)
        if module is not None:
            value = getattr(importlib.import_module(module), name)
        elif not name.startswith("__") and importlib.util.find_spec(f"{package}.{name}"):
            value = importlib.import_module(f"{package}.{name}")
        else:
            msg = f"module {package!r} has no attribute {name!r}"
            raise AttributeError(msg)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *module_of()})

    return __getattr__, __dir__
