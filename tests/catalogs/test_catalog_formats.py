"""CSV, Parquet and JSON Lines give identical records; exactly one file per table."""
from __future__ import annotations

import dataclasses
import json
import shutil
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from catalogs import Catalog, CatalogError, load_catalog

TABLES = ("products", "locales", "copy")


def _portable(catalog: Catalog) -> Catalog:
    """The catalog with folder-dependent paths made relative, to compare copies in other folders."""
    products = tuple(dataclasses.replace(p, photo=p.photo.relative_to(catalog.root)) for p in catalog.products)
    return dataclasses.replace(catalog, root=Path("."), products=products)


def _convert(sample_dir: Path, dest: Path, fmt: str, *, typed: bool = False) -> Path:
    """Copy the sample into dest with every table rewritten as `fmt`.

    typed=True writes prices and durations as numbers (JSON numbers, Parquet decimals and floats),
    as a merchant's export would, instead of text."""
    shutil.copytree(sample_dir, dest)
    for table in TABLES:
        frame = pd.read_csv(dest / f"{table}.csv", dtype=str, keep_default_na=False)
        (dest / f"{table}.csv").unlink()
        if fmt == "parquet":
            if typed and table == "products":
                frame["price"] = frame["price"].map(Decimal)
                frame["duration_s"] = frame["duration_s"].astype(float)
            frame.to_parquet(dest / f"{table}.parquet", index=False)
        elif fmt == "jsonl":
            with open(dest / f"{table}.jsonl", "w", encoding="utf-8") as f:
                for record in frame.to_dict("records"):
                    if typed:
                        for column in ("price", "duration_s"):
                            if record.get(column):
                                record[column] = float(record[column])
                            elif column in record:
                                record[column] = None
                    f.write(json.dumps(record, ensure_ascii=False) + "\n")
        else:
            raise AssertionError(fmt)
    return dest


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
@pytest.mark.parametrize("typed", [False, True], ids=["text", "typed"])
def test_formats_give_identical_records(sample_dir: Path, tmp_path: Path, fmt: str, typed: bool) -> None:
    expected = _portable(load_catalog(sample_dir))
    converted = load_catalog(_convert(sample_dir, tmp_path / fmt, fmt, typed=typed))
    assert _portable(converted) == expected
    # Decimal equality ignores trailing zeros; the canonical form must match too.
    assert [str(c.price) for c in converted.copy] == [str(c.price) for c in expected.copy]


def test_mixed_formats_in_one_catalog(sample_dir: Path, tmp_path: Path) -> None:
    root = _convert(sample_dir, tmp_path / "mixed", "jsonl")
    frame = pd.read_json(root / "locales.jsonl", lines=True, dtype=str)
    (root / "locales.jsonl").unlink()
    frame.to_csv(root / "locales.csv", index=False)
    assert _portable(load_catalog(root)) == _portable(load_catalog(sample_dir))


def test_two_formats_for_one_table_is_an_error(sample_dir: Path, tmp_path: Path) -> None:
    root = tmp_path / "both"
    shutil.copytree(sample_dir, root)
    pd.read_csv(root / "copy.csv", dtype=str, keep_default_na=False).to_parquet(root / "copy.parquet")
    with pytest.raises(CatalogError) as info:
        load_catalog(root)
    assert "copy.csv and copy.parquet; keep exactly one format" in str(info.value)


def test_missing_table_is_an_error(sample_dir: Path, tmp_path: Path) -> None:
    root = tmp_path / "missing"
    shutil.copytree(sample_dir, root)
    (root / "locales.csv").unlink()
    (root / "brand.json").unlink()
    with pytest.raises(CatalogError) as info:
        load_catalog(root)
    message = str(info.value)
    assert "locales.*: missing: expected one of locales.csv, locales.parquet, locales.jsonl" in message
    assert "brand.json: missing" in message


def test_bad_json_line_names_the_line(sample_dir: Path, tmp_path: Path) -> None:
    root = _convert(sample_dir, tmp_path / "bad", "jsonl")
    lines = (root / "products.jsonl").read_text(encoding="utf-8").splitlines()
    lines[1] = lines[1][:-1]  # drop the closing brace
    (root / "products.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(CatalogError) as info:
        load_catalog(root)
    assert "products.jsonl: cannot be read: line 2 is not valid JSON" in str(info.value)


def test_jsonl_row_numbers_name_the_record(sample_dir: Path, tmp_path: Path) -> None:
    root = _convert(sample_dir, tmp_path / "rows", "jsonl")
    lines = (root / "copy.jsonl").read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[2])
    record["price"] = "12,50"
    lines[2] = json.dumps(record, ensure_ascii=False)
    (root / "copy.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(CatalogError) as info:
        load_catalog(root)
    assert "copy.jsonl row 3, column 'price': price '12,50' is not a number" in str(info.value)


def test_parquet_row_numbers_name_the_record(sample_dir: Path, tmp_path: Path) -> None:
    root = _convert(sample_dir, tmp_path / "rows", "parquet")
    frame = pd.read_parquet(root / "products.parquet")
    frame.loc[1, "currency"] = "DOLLARS"
    frame.to_parquet(root / "products.parquet", index=False)
    with pytest.raises(CatalogError) as info:
        load_catalog(root)
    assert "products.parquet row 2, column 'currency': unknown ISO 4217 currency 'DOLLARS'" in str(info.value)
