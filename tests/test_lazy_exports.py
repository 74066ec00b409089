"""The stage packages import their public names on first use (foundation/lazy.py), from the list their
`__init__.py` writes under `if TYPE_CHECKING:`."""
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from foundation.lazy import _type_checking_imports


@pytest.mark.parametrize("package", ["compliance", "generation", "provenance"])
def test_every_public_name_resolves_from_the_module_the_package_names(package):
    pkg = importlib.import_module(package)
    exports = _type_checking_imports(Path(pkg.__file__))
    eager = set(vars(pkg)) & set(pkg.__all__)
    assert set(exports) | eager == set(pkg.__all__), set(pkg.__all__) ^ (set(exports) | eager)
    for name, module in exports.items():
        assert getattr(pkg, name) is getattr(importlib.import_module(module), name)
    assert set(pkg.__all__) <= set(dir(pkg))
    with pytest.raises(AttributeError, match=f"module '{package}' has no attribute 'nothing_here'"):
        pkg.nothing_here  # noqa: B018


def test_a_package_import_imports_none_of_its_modules_until_asked():
    code = ("import sys, provenance; before = 'provenance.manifest' in sys.modules; provenance.sign_file; "
            "print(before, 'provenance.manifest' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "True"]


def test_a_name_that_is_also_a_submodule_is_refused(tmp_path, monkeypatch):
    pkg = tmp_path / "lazypkg"
    pkg.mkdir()
    (pkg / "decide.py").write_text("def decide():\n    return 1\n")
    (pkg / "__init__.py").write_text("from typing import TYPE_CHECKING\nfrom foundation.lazy import lazy_exports\n"
                                     "if TYPE_CHECKING:\n    from lazypkg.decide import decide\n"
                                     "__getattr__, __dir__ = lazy_exports(__name__)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ValueError, match="lazypkg: decide also name submodules"):
        importlib.import_module("lazypkg")
