"""The packages' public names: importable from each package (and from `greenroom`), imported on
first use (`greenroom.lazy`)."""

from __future__ import annotations

import ast
import importlib
import pathlib
import subprocess
import sys

import pytest

import greenroom
from greenroom.lazy import type_checking_imports

LAZY = ("greenroom", *(f"greenroom.{name}" for name in (
    "actors", "agents", "api", "governance", "journal", "manifest", "runtime", "supervision",
    "testing", "triggers")))
"""Every package whose `__init__` exports its names lazily."""


def _public(name: str) -> list[tuple[str, str, str]]:
    """(package, module, name) for each name the package imports under `TYPE_CHECKING`."""
    init_file = importlib.import_module(name).__file__
    assert init_file is not None
    return [(name, module, attr) for attr, module in type_checking_imports(init_file).items()]


@pytest.mark.parametrize("name", LAZY)
def test_the_type_checking_imports_are_the_packages_all(name: str) -> None:
    package = importlib.import_module(name)
    assert sorted(package.__all__) == sorted(attr for _, _, attr in _public(name))
    assert len(package.__all__) == len(set(package.__all__))


@pytest.mark.parametrize(("package", "module", "name"),
                         [entry for name in LAZY for entry in _public(name)])
def test_every_public_name_is_the_object_of_its_module(package: str, module: str,
                                                        name: str) -> None:
    value = getattr(importlib.import_module(module), name)
    assert getattr(importlib.import_module(package), name) is value
    found: dict[str, object] = {}
    exec(f"from {package} import {name} as found", found)  # the import statement's form
    assert found["found"] is value


def test_modules_are_attributes_and_unknown_names_are_refused() -> None:
    assert greenroom.journal is importlib.import_module("greenroom.journal")
    assert greenroom.runtime.process_actor is importlib.import_module(
        "greenroom.runtime.process_actor")
    assert "AgentRuntime" in dir(greenroom)
    assert "ProcessActor" in dir(greenroom.runtime)
    with pytest.raises(AttributeError, match="no attribute 'AgentRunTime'"):
        greenroom.AgentRunTime  # noqa: B018  # the attribute access is the test
    with pytest.raises(ImportError):
        exec("from greenroom.runtime import AgentRunTime", {})


def _imported_after(statement: str) -> list[str]:
    """The greenroom modules and heavy dependencies a fresh interpreter has after `statement`."""
    code = (f"import sys; {statement}; print(sorted(m for m in sys.modules if "
            "m.split('.')[0] in ('greenroom', 'aiohttp', 'pydantic', 'pykka', 'croniter')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=60)
    return list(ast.literal_eval(done.stdout.strip()))


def test_importing_the_package_imports_nothing_heavy() -> None:
    assert _imported_after("import greenroom") == ["greenroom", "greenroom.lazy"]


def test_the_cli_builds_its_parser_without_the_runtime_or_the_http_stack() -> None:
    imported = _imported_after("from greenroom.cli.main import build_parser; build_parser()")
    assert not [m for m in imported if m.split(".")[0] in ("aiohttp", "pydantic", "pykka")]
    assert "greenroom.runtime.runtime" not in imported


def test_a_renaming_import_cannot_be_exported_lazily(tmp_path: pathlib.Path) -> None:
    init_file = tmp_path / "__init__.py"
    init_file.write_text("from typing import TYPE_CHECKING\n"
                         "if TYPE_CHECKING:\n"
                         "    from greenroom.ids import new_id as make_id\n")
    with pytest.raises(ValueError, match="'import new_id as make_id' cannot be exported lazily"):
        type_checking_imports(str(init_file))
