"""docs/catalogs.md documents every column and key the loader accepts."""
from __future__ import annotations

from pathlib import Path

import pytest

from catalogs import load

DOC = Path(__file__).resolve().parents[2] / "docs" / "catalogs.md"
SECTIONS = {
    "## products": load.PRODUCT_COLUMNS + load.PRODUCT_OPTIONAL,
    "## locales": load.LOCALE_COLUMNS,
    "## copy": load.COPY_COLUMNS + load.COPY_OPTIONAL,
    "## brand.json": load.BRAND_KEYS + load.BRAND_OPTIONAL,
}


@pytest.mark.parametrize("heading", SECTIONS)
def test_every_column_has_a_row_in_its_section(heading: str) -> None:
    text = DOC.read_text(encoding="utf-8")
    section = text.split(f"\n{heading}\n", 1)[1].split("\n## ", 1)[0]
    documented = {line.split("|")[1].strip().strip("`") for line in section.splitlines()
                  if line.startswith("| `")}
    assert documented == set(SECTIONS[heading])


def test_row_numbering_and_limits_are_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert "Row N is the N-th data record, counting from 1. The header is not a row." in text
    assert f"first {load.MAX_PROBLEMS}" in text
    assert f"{load.MAX_IMAGE_PIXELS // 1_000_000} megapixels" in text
    assert f"{load.MAX_IMAGE_BYTES:,} bytes" in text
