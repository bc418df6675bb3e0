"""Lazy package exports (PEP 562): a package's public names, imported on first use.

A package lists where each of its names lives; `exports` gives it the module `__getattr__` and
`__dir__` that import the right module when a name is first asked for and keep the value as a
module global, so later lookups cost nothing. A name that is one of the package's own modules
(`greenroom.runtime.process_actor`) is imported as well, as a package whose `__init__` imported
everything used to provide it. Type checkers never see these functions (the package defines them
under `if not TYPE_CHECKING`): they read the package's imports under `if TYPE_CHECKING`, so a
misspelt name is still an error for them.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["exports"]


def exports(
    package: str, sources: Mapping[str, tuple[str, ...]], namespace: dict[str, Any],
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """`__getattr__` and `__dir__` for `package`, whose globals are `namespace`; `sources` maps
    a module to the names it provides."""
    module_of = {name: module for module, names in sources.items() for name in names}

    def __getattr__(name: str) -> Any:
        module = module_of.get(name)
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
        return sorted({*namespace, *module_of})

    return __getattr__, __dir__
