"""The layout is the architecture: each package imports only the layers below it (DESIGN.md, Layout).

Every .py file of a package is parsed (never imported) and every import counts, at any nesting
level: a function-level import is as much a dependency as a top-level one.
"""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OURS = frozenset({"foundation", "catalogs", "generation", "provenance", "compliance", "pipeline", "ui", "flows"})
DOORS = frozenset({"prefect", "click", "flows", "pipeline"})   # what the stages never see

# package -> the top-level modules it must never import
FORBIDDEN = {
    "foundation": OURS - {"foundation"},
    "catalogs": DOORS,
    "generation": DOORS,
    "provenance": DOORS | {"generation", "compliance"},
    "compliance": DOORS,
    "pipeline": frozenset({"prefect", "click", "ui"}),
    "ui": frozenset({"prefect", "click", "flows"}),   # a door over pipeline/, like the CLI, without Prefect
}


def imported_modules(path: Path, package: str) -> list[tuple[int, str]]:
    """(line, top-level module) of every import statement in one file; relative imports resolve to `package`."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name.split(".")[0]) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            found.append((node.lineno, package if node.level else (node.module or "").split(".")[0]))
    return found


def test_the_finder_sees_nested_and_relative_imports(tmp_path):
    source = tmp_path / "sample.py"
    source.write_text("import os.path\n\ndef f():\n    from flows.cli import main\n    from . import x\n")
    assert imported_modules(source, "generation") == [(1, "os"), (4, "flows"), (5, "generation")]


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_only_what_its_layer_allows(package):
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"no Python files under {ROOT / package}"
    violations = [f"{path.relative_to(ROOT)}:{line} imports {module}"
                  for path in files
                  for line, module in imported_modules(path, package)
                  if module in FORBIDDEN[package]]
    assert violations == [], f"{package}/ must not import {sorted(FORBIDDEN[package])}"
