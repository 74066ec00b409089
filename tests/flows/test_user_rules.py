"""A market of the user's own: a rules file in the home's rules/ folder (or --rules-dir) renders without
touching the package; a malformed one is one clean error naming the file and the field, before anything runs."""
from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from compliance.rules import DEFAULT_RULES_DIR
from flow_catalogs import small_catalog
from flows.cli import cli
from provenance import read_c2pa

pytestmark = pytest.mark.slow   # a whole render

BR = {"profile": "BR", "name": "Brazil (house rules)", "note": "our own market profile",
      "rules": [{"id": "br-house-ai-label", "sources": [{"title": "House policy for Brazil", "citation": "2026-11"}],
                 "effective_from": "2026-01-01", "applies_to": "any_ai", "applicability": "AI content in Brazil",
                 "visible_label": {"text": {"default": "CONTEÚDO GERADO POR IA"}, "position": "top-right",
                                   "min_duration_s": 1.0, "min_height_frac": 0.04, "at_start": True}}]}


def _brazil_catalog(root):
    catalog = small_catalog(root / "catalog", locales=("de-DE",), aspects="1:1")
    loc = pd.read_csv(catalog / "locales.csv", dtype=str, keep_default_na=False)
    loc.loc[0, ["tag", "language", "region", "currency", "rule_profile"]] = ["pt-BR", "pt", "BR", "BRL", "BR"]
    loc.to_csv(catalog / "locales.csv", index=False)
    copy = pd.read_csv(catalog / "copy.csv", dtype=str, keep_default_na=False)
    copy.loc[0, ["locale", "headline", "cta", "captions", "price"]] = [
        "pt-BR", "Espresso com crema perfeita", "Compre agora", "Notas de cacau e caramelo", "119.90"]
    copy.to_csv(catalog / "copy.csv", index=False)
    return catalog


def _render(root, catalog, *args):
    return CliRunner().invoke(cli, ["render", str(catalog), "--out", str(root / "out"), "--home", str(root / "home"),
                                    "--short-side", "288", "--workers", "1", *args], catch_exceptions=False)


def test_a_market_with_a_rules_file_in_the_home_renders_without_touching_the_package(tmp_path):
    catalog = _brazil_catalog(tmp_path)
    package = sorted(p.name for p in DEFAULT_RULES_DIR.glob("*.json"))
    (tmp_path / "home" / "rules").mkdir(parents=True)
    (tmp_path / "home" / "rules" / "BR.json").write_text(json.dumps(BR, ensure_ascii=False))
    result = _render(tmp_path, catalog)
    assert result.exit_code == 0, result.output
    (video,) = (tmp_path / "out").rglob("*.mp4")
    record = read_c2pa(video, None).assertion("com.tessera.compliance")
    assert record["rule_profile"] == "BR" and record["rules_in_force"] == ["br-house-ai-label"]
    assert sorted(p.name for p in DEFAULT_RULES_DIR.glob("*.json")) == package and "BR.json" not in package


def test_a_malformed_rules_file_is_one_error_naming_the_file_and_the_field(tmp_path):
    catalog = _brazil_catalog(tmp_path)
    mine = tmp_path / "my-rules"
    mine.mkdir()
    bad = json.loads(json.dumps(BR))
    bad["rules"][0]["effective_from"] = "next year"
    (mine / "BR.json").write_text(json.dumps(bad))
    result = _render(tmp_path, catalog, "--rules-dir", str(mine))
    assert result.exit_code == 1, result.output
    assert f"{mine / 'BR.json'}: rules[0].effective_from: expected a date YYYY-MM-DD, got 'next year'" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "out").exists()
    # without the folder the market is unknown: the catalog error says which row and what to name
    result = _render(tmp_path, catalog)
    assert result.exit_code == 1 and "unknown rule profile 'BR'" in result.output, result.output
