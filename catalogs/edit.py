"""A person's edit of one copy field, written back to the catalog's copy table atomically."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from foundation.primitives import atomic_path, write_bytes_atomic
from catalogs.load import CatalogError, load_catalog

EDITABLE = ("headline", "cta", "captions")


def set_copy_field(root: Path, sku: str, locale: str, field: str, text: str) -> str:
    """Replace copy[sku, locale][field] with text; returns the text it replaced.

    The catalog is loaded again after the write; if it no longer validates, the old file is put
    back and the CatalogError is raised, so an edit never leaves a broken catalog behind.
    """
    if field not in EDITABLE:
        raise CatalogError(Path(root), [f"copy field {field!r} cannot be edited; editable: {', '.join(EDITABLE)}"])
    root = Path(root)
    paths = [p for p in (root / "copy.csv", root / "copy.jsonl", root / "copy.parquet") if p.exists()]
    if len(paths) != 1:
        raise CatalogError(root, [f"expected exactly one copy table, found {len(paths)}"])
    path = paths[0]
    table = _read(path)
    # Locale tags match in any case, as the loader reads them ("he-il" is he-IL).
    rows = table.index[(table["sku"] == sku) & (table["locale"].str.lower() == locale.lower())]
    if len(rows) != 1:
        raise CatalogError(root, [f"{path.name}: no copy row for sku {sku!r} and locale {locale!r}"])
    before = str(table.at[rows[0], field])
    table.at[rows[0], field] = text
    original = path.read_bytes()
    try:
        with atomic_path(path, suffix=path.suffix) as tmp:
            _write(table, tmp, path.suffix)
        load_catalog(root)
    except CatalogError:
        write_bytes_atomic(path, original)
        raise
    return before


def catalog_locale(root: Path, locale: str) -> str:
    """The catalog's own spelling of a locale tag given in any case; CatalogError names the known tags."""
    tags = [loc.tag for loc in load_catalog(Path(root)).locales]
    for tag in tags:
        if tag.lower() == locale.lower():
            return tag
    raise CatalogError(Path(root), [f"locale {locale!r} is not in the catalog ({', '.join(tags)})"])


def _read(path: Path) -> pd.DataFrame:
    if path.suffix == ".csv":
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    if path.suffix == ".jsonl":
        return pd.read_json(path, lines=True, dtype=False).astype(str)
    return pd.read_parquet(path).astype(str)


def _write(table: pd.DataFrame, tmp: Path, suffix: str) -> None:
    if suffix == ".csv":
        table.to_csv(tmp, index=False)
    elif suffix == ".jsonl":
        table.to_json(tmp, orient="records", lines=True, force_ascii=False)
    else:
        table.to_parquet(tmp, index=False)
