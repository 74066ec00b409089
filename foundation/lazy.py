"""Public names of a package imported on first use (PEP 562), so that importing one stage's light
function does not import every heavy library the package's other modules need (torch, scipy,
pandas, dlib): a `tessera render` with nothing to do imports only what its check and plan use.

The names and their modules are the package's `if TYPE_CHECKING:` imports, read from its
`__init__.py`: one list, which type checkers and readers take as it is written."""
from __future__ import annotations

import ast
import importlib
import sys
from collections.abc import Callable
from pathlib import Path


def lazy_exports(package: str) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """The module `__getattr__` and `__dir__` of `package`: each name its `__init__.py` imports under
    `if TYPE_CHECKING:` is imported from its module when first asked for, then kept on the package.

    A name that is also a submodule's (`compliance.decide`) cannot be lazy: importing the submodule
    sets the package attribute to the module, so `from compliance import decide` would get the
    module. Such names are refused here; the package imports them itself."""
    module = sys.modules[package]
    exports = _type_checking_imports(Path(str(module.__file__)))
    folders = [Path(p) for p in module.__path__]
    clashes = sorted(n for n in exports for f in folders if (f / f"{n}.py").is_file() or (f / n).is_dir())
    if clashes:
        raise ValueError(f"{package}: {', '.join(clashes)} also name submodules; import them eagerly")

    def __getattr__(name: str) -> object:
        source = exports.get(name)
        if source is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(source), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(exports))

    return __getattr__, __dir__


def _type_checking_imports(init: Path) -> dict[str, str]:
    """{name: module} of the absolute `from M import N` statements under a top-level `if TYPE_CHECKING:`."""
    exports: dict[str, str] = {}
    for node in ast.parse(init.read_text(encoding="utf-8"), filename=str(init)).body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for stmt in node.body:
                if not (isinstance(stmt, ast.ImportFrom) and stmt.level == 0 and stmt.module):
                    raise ValueError(f"{init}:{stmt.lineno}: only `from MODULE import NAME` belongs here")
                exports.update({alias.asname or alias.name: stmt.module for alias in stmt.names})
    return exports
