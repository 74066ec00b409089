"""Public names of a package imported on first use (PEP 562), so that importing one stage's light
function does not import every heavy library the package's other modules need (torch, scipy,
pandas, dlib): a `tessera render` with nothing to do imports only what its check and plan use."""
from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from pathlib import Path


def lazy_exports(package: str, exports: Mapping[str, str]) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """The module `__getattr__` and `__dir__` of `package`, whose public names are {name: module}.
    A name is imported from its module when first asked for, then kept on the package.

    A name that is also a submodule's (`compliance.decide`) cannot be lazy: importing the submodule
    sets the package attribute to the module, so `from compliance import decide` would get the
    module. Such names are refused here; the package imports them itself."""
    folders = [Path(p) for p in sys.modules[package].__path__]
    clashes = sorted(n for n in exports for f in folders if (f / f"{n}.py").is_file() or (f / n).is_dir())
    if clashes:
        raise ValueError(f"{package}: {', '.join(clashes)} also name submodules; import them eagerly")

    def __getattr__(name: str) -> object:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(exports))

    return __getattr__, __dir__
