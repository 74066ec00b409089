"""A writable copy of the sample catalog, with small helpers to edit its CSV tables."""
from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from catalogs import Catalog, CatalogError, load_catalog

SAMPLE = Path(__file__).resolve().parents[2] / "catalogs" / "sample"
SAMPLE_PROFILES = frozenset({"US-CA", "US-NY", "EU", "MX", "JP", "CN", "SA"})


class EditableCatalog:
    """The sample catalog copied into a temp folder; tables are edited as lists of dict rows."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def rows(self, table: str) -> list[dict[str, str]]:
        with open(self.root / f"{table}.csv", newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))

    def write(self, table: str, rows: list[dict[str, str]], columns: list[str] | None = None) -> None:
        columns = columns or list(rows[0])
        with open(self.root / f"{table}.csv", "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)

    def set(self, table: str, row: int, column: str, value: str) -> None:
        """Set one cell; `row` is 1-based like the loader's messages."""
        rows = self.rows(table)
        rows[row - 1][column] = value
        self.write(table, rows)

    def load(self, **kwargs: object) -> Catalog:
        return load_catalog(self.root, **kwargs)  # type: ignore[arg-type]

    def error(self, **kwargs: object) -> str:
        with pytest.raises(CatalogError) as info:
            self.load(**kwargs)
        return str(info.value)


@pytest.fixture
def sample_dir() -> Path:
    return SAMPLE


@pytest.fixture
def editable(tmp_path: Path) -> EditableCatalog:
    root = tmp_path / "catalog"
    shutil.copytree(SAMPLE, root)
    return EditableCatalog(root)


@pytest.fixture
def sample_profiles() -> frozenset[str]:
    """The rule profiles the sample's locales name."""
    return SAMPLE_PROFILES
