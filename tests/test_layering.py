"""Layering: the numerical core (``app/core``) must not depend on the web stack.

Every module under ``app/core/`` may import only the standard library, ``numpy``,
``ml_dtypes``, ``mpmath`` and ``app.core`` itself (absolutely or relatively).
"""

from __future__ import annotations

import ast
import graphlib
import sys
from pathlib import Path

import pytest

CORE_DIR = Path(__file__).resolve().parents[1] / "app" / "core"
CORE_PACKAGE = "app.core"
ALLOWED_THIRD_PARTY = frozenset({"numpy", "ml_dtypes", "mpmath"})
DYNAMIC_IMPORTERS = frozenset({"__import__", "import_module"})


def _is_allowed(module: str) -> bool:
    top = module.partition(".")[0]
    if module == CORE_PACKAGE or module.startswith(CORE_PACKAGE + "."):
        return True
    if top == "app":  # any other part of the app (API layer, main, ...)
        return False
    return top in sys.stdlib_module_names or top in ALLOWED_THIRD_PARTY


def _resolve_relative(package: str, level: int, module: str | None) -> str:
    parts = package.split(".")
    if level - 1 > len(parts) - 1:
        return "<beyond top-level package>"
    base = parts[: len(parts) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def forbidden_imports(source: str, package: str = CORE_PACKAGE) -> list[str]:
    """Imported module names in ``source`` that the core may not use.

    ``package`` is the package the source belongs to (for relative imports).
    """
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = _resolve_relative(package, node.level, node.module)
                if node.module is None:  # `from .. import x` may import submodule x
                    names = [f"{base}.{alias.name}" for alias in node.names]
                else:
                    names = [base]
            else:
                names = [node.module or ""]
        elif isinstance(node, ast.Call):
            func = node.func
            func_name = (
                func.id
                if isinstance(func, ast.Name)
                else func.attr
                if isinstance(func, ast.Attribute)
                else ""
            )
            if (
                func_name in DYNAMIC_IMPORTERS
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                names = [node.args[0].value]
        found += [
            f"line {getattr(node, 'lineno', '?')}: {name}"
            for name in names
            if not _is_allowed(name)
        ]
    return found


def _core_modules() -> list[tuple[Path, str]]:
    modules = []
    for path in sorted(CORE_DIR.rglob("*.py")):
        rel = path.relative_to(CORE_DIR.parents[1]).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        package = ".".join(parts if rel.name == "__init__" else parts[:-1])
        modules.append((path, package))
    return modules


def test_core_has_modules() -> None:
    # Guard against a vacuous pass (wrong path, renamed package...).
    assert len(_core_modules()) >= 3, f"expected >= 3 modules under {CORE_DIR}"


@pytest.mark.parametrize(
    ("path", "package"),
    _core_modules(),
    ids=[str(path.relative_to(CORE_DIR)) for path, _ in _core_modules()],
)
def test_core_imports_only_allowed(path: Path, package: str) -> None:
    bad = forbidden_imports(path.read_text(encoding="utf-8"), package)
    assert not bad, f"{path} imports outside the core's allowed set: {bad}"


@pytest.mark.parametrize(
    "source",
    [
        "import fastapi",
        "from pydantic import BaseModel",
        "import starlette.responses",
        "from httpx import Client",
        "import uvicorn",
        "import scipy.special",
        "from app.main import app",
        "from app import main",
        "from .. import main",
        "from ..api import routes",
        "import importlib\nimportlib.import_module('fastapi')",
        "def f():\n    import pydantic",
    ],
)
def test_checker_flags_bad_source(source: str) -> None:
    assert forbidden_imports(source), f"checker missed a bad import in {source!r}"


@pytest.mark.parametrize(
    "source",
    [
        "from __future__ import annotations\nimport math, enum, dataclasses",
        "import numpy as np\nimport ml_dtypes\nimport mpmath",
        "from numpy.typing import NDArray",
        "from app.core import errors\nfrom app.core.types import DType",
        "from . import errors\nfrom .types import DType",
        "from collections.abc import Iterable",
    ],
)
def test_checker_accepts_good_source(source: str) -> None:
    assert forbidden_imports(source) == []


APP_DIR = CORE_DIR.parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(APP_DIR.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Module -> the app modules it imports (at any depth of the file, relative or not)."""
    modules = {_module_name(p): p for p in APP_DIR.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = (
                    _resolve_relative(package, node.level, node.module)
                    if node.level
                    else node.module or ""
                )
                targets |= {base} | {f"{base}.{alias.name}" for alias in node.names}
            elif isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def import_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph (its modules, the first repeated at the end), or None."""
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as error:
        return list(error.args[1])
    return None


def test_no_import_cycles_in_app() -> None:
    # Deferred (in-function) imports count too: a cycle hidden inside a function is still one.
    assert import_cycle(import_graph()) is None


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    cycle = import_cycle(graph)
    assert cycle is not None
    assert set(cycle) == {"a", "b", "c"}
    assert import_cycle({"a": {"b"}, "b": set()}) is None
