"""A product's variants start as soon as its base clip is made and assessed, not after every product's:
with one worker, the first product's variant is signed before the second product's base clip exists."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from flow_catalogs import small_catalog
from flows.cli import cli
from provenance.ledger import Ledger

pytestmark = pytest.mark.slow   # a whole render


def test_the_first_products_variant_is_signed_before_the_next_products_base_clip_is_made(tmp_path):
    catalog = small_catalog(tmp_path / "catalog", locales=("de-DE",), aspects="1:1", products=2)
    result = CliRunner().invoke(cli, ["render", str(catalog), "--out", str(tmp_path / "out"), "--home",
                                      str(tmp_path / "home"), "--short-side", "288", "--workers", "1"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    first_sku = (catalog / "products.csv").read_text().splitlines()[1].split(",")[0]
    assets = {a.sku: a for a in Ledger(f"sqlite:///{tmp_path / 'home' / 'ledger.sqlite'}").active_assets()}
    first = assets.pop(first_sku)
    (second,) = assets.values()
    second_clip = tmp_path / "home" / "cache" / "clips" / f"{second.base_clip_key}.mp4"
    assert first.output_path.stat().st_mtime_ns < second_clip.stat().st_mtime_ns
    # the progress reports the first product's variant first
    assert f"[1/2] rendered {first_sku}" in result.output


def test_the_plan_handed_to_the_flow_is_not_sent_to_prefects_server_with_its_parameters():
    # A 1,008-variant plan is ~9 MB as JSON; Prefect refuses flow parameters over 512 KB (HTTP 422).
    from flows.render import InProcess, render_planned

    big = {"plans": ["x" * 1000] * 10_000}
    assert render_planned.serialize_parameters({"run": InProcess(big), "stage": {"plan": 1.0}}) == {
        "run": "<InProcess>", "stage": {"plan": 1.0}}
