"""`tessera render --dry-run`: the plan without rendering, per variant render/skip/retire and which input
changed; `--sku` / `--locale` filters on the dry run and the render."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from flow_catalogs import small_catalog
from flows.cli import cli
from pipeline.render import changed_inputs
from provenance.ledger import Ledger, runs, variant_inputs

pytestmark = pytest.mark.slow   # whole renders or many CLI processes: `make test-fast` leaves them out


def _cli(root: Path, catalog: Path, *args: str):
    return CliRunner().invoke(cli, ["render", str(catalog), "--out", str(root / "out"), "--home", str(root / "home"),
                                    "--short-side", "288", "--workers", "1", *args], catch_exceptions=False)


def _written(root: Path) -> tuple:
    """What a dry run must leave as it was: every output file with its mtime, the ledger's runs and inputs."""
    files = sorted((str(p), p.stat().st_mtime_ns) for p in (root / "out").rglob("*") if p.is_file())
    engine = Ledger(f"sqlite:///{root / 'home' / 'ledger.sqlite'}").engine
    with engine.connect() as c:
        counts = (c.execute(select(func.count()).select_from(runs)).scalar(),
                  c.execute(select(func.count()).select_from(variant_inputs)).scalar())
    return files, counts


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    root = tmp_path_factory.mktemp("dry")
    catalog = small_catalog(root / "catalog", locales=("de-DE", "ja-JP"), aspects="9:16;1:1")
    first = _cli(root, catalog)
    assert first.exit_code == 0, first.output
    return root, catalog


def test_a_changed_headline_is_planned_as_exactly_that_locale_then_rendered_as_planned(rendered):
    root, catalog = rendered
    copy = pd.read_csv(catalog / "copy.csv", dtype=str, keep_default_na=False)
    copy.loc[copy["locale"] == "de-DE", "headline"] = "Jetzt neu probieren"
    copy.to_csv(catalog / "copy.csv", index=False)

    before = _written(root)
    plan = _cli(root, catalog, "--dry-run", "--json")
    assert plan.exit_code == 0, plan.output
    lines = json.loads(plan.output)
    assert _written(root) == before                                   # a dry run writes nothing
    to_render = {(p["locale"], p["aspect"]) for p in lines if p["action"] == "render"}
    assert to_render == {("de-DE", "9:16"), ("de-DE", "1:1")}
    assert {p["reason"] for p in lines if p["action"] == "render"} == {"copy.headline changed"}
    assert {p["reason"] for p in lines if p["action"] == "skip"} == {"unchanged and intact"}
    assert len(lines) == 4

    table = _cli(root, catalog, "--dry-run")
    assert "4 variants: 2 to render, 2 to skip, 0 to retire" in table.output, table.output

    result = _cli(root, catalog, "--json")
    summary = json.loads(result.stdout)
    done = {(o["locale"], o["aspect"]) for o in summary["outcomes"] if o["status"] == "rendered"}
    assert done == to_render and summary["skipped"] == 2, result.output


def test_sku_and_locale_filters_narrow_the_plan_and_the_render(rendered):
    root, catalog = rendered
    copy = pd.read_csv(catalog / "copy.csv", dtype=str, keep_default_na=False)
    copy.loc[copy["locale"] == "ja-JP", "cta"] = "今すぐチェック"
    copy.to_csv(catalog / "copy.csv", index=False)
    plan = json.loads(_cli(root, catalog, "--dry-run", "--json", "--locale", "JA-jp").output)
    assert {(p["locale"], p["action"], p["reason"]) for p in plan} == {("ja-JP", "render", "copy.cta changed")}
    assert len(plan) == 2                                              # nothing of de-DE, nothing retired
    unknown = _cli(root, catalog, "--dry-run", "--sku", "NOPE-1")
    assert unknown.exit_code == 2 and "'NOPE-1' is not a product of the catalog" in unknown.output

    result = _cli(root, catalog, "--json", "--sku", "ESP-BLEND-1KG", "--locale", "ja-JP")
    summary = json.loads(result.stdout)
    assert (summary["rendered"], summary["skipped"], len(summary["outcomes"])) == (2, 0, 2), result.output
    again = json.loads(_cli(root, catalog, "--dry-run", "--json").output)
    assert {p["action"] for p in again} == {"skip"}                   # the filtered render retired nothing


def test_changed_inputs_names_model_and_settings_apart():
    base = {"options": {"short_side": 720, "diffusion": {"model": "a", "revision": "1"}}, "photo_sha256": "x"}
    assert changed_inputs(base, {**base, "photo_sha256": "y"}) == ["photo"]
    assert changed_inputs(base, {**base, "options": {"short_side": 1080, "diffusion": {"model": "a", "revision": "1"}}}) \
        == ["settings"]
    assert changed_inputs(base, {**base, "options": {"short_side": 720, "diffusion": {"model": "b", "revision": "1"}}}) \
        == ["model"]
    assert changed_inputs(base, {**base, "copy_author": "mt:DeepL"}) == ["copy.copy_author"]


def test_nightly_dry_run_plans_like_render_without_a_prefect_server(rendered, monkeypatch):
    root, catalog = rendered
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    render_plan = json.loads(_cli(root, catalog, "--dry-run", "--json").output)
    night = CliRunner().invoke(cli, ["nightly", str(catalog), "--out", str(root / "out"), "--home", str(root / "home"),
                                     "--short-side", "288", "--workers", "1", "--dry-run", "--json"],
                               catch_exceptions=False)
    assert night.exit_code == 0, night.output
    assert json.loads(night.output) == render_plan
