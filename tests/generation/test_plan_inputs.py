"""Who wrote the copy and who chose the brand kit are variant-key inputs only where the catalog names them,
so the keys of catalogs without those columns stay as they were."""
import json
import shutil
from pathlib import Path

import pandas as pd

from catalogs import load_catalog
from generation.plan import RenderOptions, plan_variants

SAMPLE = Path(__file__).resolve().parents[2] / "catalogs" / "sample"


def _inputs(root: Path) -> dict:
    plans = plan_variants(load_catalog(root), RenderOptions(), root / "out")
    return json.loads(next(p for p in plans if p.spec.locale == "de-DE").inputs_json)


def test_copy_and_brand_authors_are_inputs_only_when_named(tmp_path):
    root = tmp_path / "catalog"
    shutil.copytree(SAMPLE, root)
    named = _inputs(root)
    assert named["copy_author"] == "team:Berlin copy desk"
    assert named["brand"]["author"] == "team:Harbor & Pine brand team"
    copy = pd.read_csv(root / "copy.csv", dtype=str, keep_default_na=False)
    copy.drop(columns=["copy_author"]).to_csv(root / "copy.csv", index=False)
    brand = json.loads((root / "brand.json").read_text())
    del brand["author"]
    (root / "brand.json").write_text(json.dumps(brand))
    plain = _inputs(root)
    assert "copy_author" not in plain and set(plain["brand"]) == {
        "name", "primary_color", "secondary_color", "text_color", "font_family", "logo"}
