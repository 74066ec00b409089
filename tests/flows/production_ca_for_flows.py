"""A root certificate for flow tests (the provenance tests' production CA, reused)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "provenance"))
from production_ca import make_production_ca  # noqa: E402

__all__ = ["make_production_ca", "write_root"]


def write_root(path: Path) -> Path:
    root, _, _ = make_production_ca(path.parent / "ca")
    path.write_bytes(root.read_bytes())
    return path
