"""A whole render of a small real catalog: compose, encode, sign, record, audit, re-render."""
import shutil
from pathlib import Path

import pandas as pd
import pytest

from catalogs import CatalogError
from compliance import audit_paths
from flows.render import run_render
from pipeline.settings import Settings
from generation.plan import RenderOptions
from provenance import load_credentials
from provenance.ledger import Ledger

from flow_catalogs import small_catalog


def _first_render(root: Path):
    """A first render of the small catalog into root/out, with its own home (ledger, clip cache) under root."""
    catalog = small_catalog(root / "catalog")
    settings = Settings.build(home=root / "home", options=RenderOptions(short_side=288), workers=2)
    summary = run_render(catalog, root / "out", settings, progress=lambda _: None)
    return root, catalog, settings, summary


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """Shared by the tests that leave its catalog, output folder and home as they found them."""
    return _first_render(tmp_path_factory.mktemp("e2e"))


@pytest.fixture
def rendered_own(tmp_path):
    """A first render of this test's own: for tests that change the catalog or the output folder."""
    return _first_render(tmp_path)


def _audit(settings, paths):
    led = Ledger(settings.ledger_url)
    anchors = load_credentials(settings.signing).anchors_pem
    return [r.to_dict() for r in audit_paths(paths, anchors_pem=anchors, lookup=led.asset_id_for_sha256)]


@pytest.mark.slow
def test_first_render_signs_every_variant_and_the_audit_trusts_them(rendered):
    root, _, settings, summary = rendered
    assert (summary.rendered, summary.skipped, summary.failed) == (9, 0, 0)
    files = sorted((root / "out").rglob("*.mp4"))
    assert len(files) == 9
    report = _audit(settings, [root / "out"])
    assert [r["c2pa_state"] for r in report] == ["Trusted"] * 9
    assert [r["verdict"] for r in report] == ["pass"] * 9
    assert all(r["asset_id"] and r["asset_id"].startswith("tsr-") for r in report)
    assert all(r["digital_source_type"].endswith("/digitalCapture") for r in report)


@pytest.mark.slow
def test_second_render_of_unchanged_catalog_renders_nothing(rendered):
    root, catalog, settings, _ = rendered
    again = run_render(catalog, root / "out", settings, progress=lambda _: None)
    assert (again.rendered, again.skipped, again.failed) == (0, 9, 0)


@pytest.mark.slow
def test_changed_headline_re_renders_exactly_that_locale(rendered_own):
    root, catalog, settings, _ = rendered_own
    copy = pd.read_csv(catalog / "copy.csv", dtype=str, keep_default_na=False)
    copy.loc[copy["locale"] == "de-DE", "headline"] = "Jetzt neu probieren"
    copy.to_csv(catalog / "copy.csv", index=False)
    again = run_render(catalog, root / "out", settings, progress=lambda _: None)
    assert (again.rendered, again.skipped, again.failed) == (3, 6, 0)
    assert {o.locale for o in again.outcomes if o.status == "rendered"} == {"de-DE"}


@pytest.mark.slow
def test_a_flipped_byte_fails_that_file_only(rendered, tmp_path):
    root, _, settings, _ = rendered
    # A copy of the output folder: the audit finds our assets by their bytes (SHA-256 in the ledger), and
    # the shared output folder stays intact for the other tests.
    out = shutil.copytree(root / "out", tmp_path / "out")
    files = sorted(out.rglob("*.mp4"))
    victim = files[0]
    data = bytearray(victim.read_bytes())
    mdat = data.index(b"mdat")                         # the encoded frames, after the manifest store
    data[mdat + (len(data) - mdat) // 2] ^= 0x01       # (the file's middle byte may be its padding)
    victim.write_bytes(bytes(data))
    report = {Path(r["path"]).name: r for r in _audit(settings, [out])}
    bad = report.pop(victim.name)
    assert bad["c2pa_state"] == "Invalid" and bad["verdict"] == "fail"
    assert any("mismatch" in code for code in bad["c2pa_codes"])
    assert {r["verdict"] for r in report.values()} == {"pass"}


def test_malformed_catalog_stops_before_any_output(tmp_path):
    catalog = small_catalog(tmp_path / "catalog")
    products = pd.read_csv(catalog / "products.csv", dtype=str, keep_default_na=False)
    products.loc[0, "price"] = "twelve"
    products.to_csv(catalog / "products.csv", index=False)
    settings = Settings.build(home=tmp_path / "home", options=RenderOptions(short_side=288))
    with pytest.raises(CatalogError, match="price"):
        run_render(catalog, tmp_path / "out", settings, progress=lambda _: None)
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_a_changed_price_re_renders_that_product_only_and_a_dropped_locale_is_retired_until_it_is_back(tmp_path):
    catalog = small_catalog(tmp_path / "catalog", locales=("en-US", "de-DE"), aspects="1:1", products=2)
    settings = Settings.build(home=tmp_path / "home", options=RenderOptions(short_side=288), workers=2)
    first = run_render(catalog, tmp_path / "out", settings)
    assert (first.rendered, first.failed) == (4, 0)
    # A new price for the first product: in USD (en-US shows the product's price) and in EUR (de-DE's own).
    products = pd.read_csv(catalog / "products.csv", dtype=str, keep_default_na=False)
    copy = pd.read_csv(catalog / "copy.csv", dtype=str, keep_default_na=False)
    changed = products.loc[0, "sku"]
    products.loc[0, "price"] = "19.99"
    copy.loc[(copy["sku"] == changed) & (copy["locale"] == "de-DE"), "price"] = "18.99"
    products.to_csv(catalog / "products.csv", index=False)
    copy.to_csv(catalog / "copy.csv", index=False)
    second = run_render(catalog, tmp_path / "out", settings)
    assert (second.rendered, second.skipped, second.failed) == (2, 2, 0)
    assert {o.sku for o in second.outcomes if o.status == "rendered"} == {changed}
    # de-DE leaves the catalog: its assets are retired in the ledger, their files stay.
    tables = {name: pd.read_csv(catalog / name, dtype=str, keep_default_na=False) for name in ("locales.csv", "copy.csv")}
    for name, column in (("locales.csv", "tag"), ("copy.csv", "locale")):
        table = pd.read_csv(catalog / name, dtype=str, keep_default_na=False)
        table[table[column] != "de-DE"].to_csv(catalog / name, index=False)
    third = run_render(catalog, tmp_path / "out", settings)
    assert (third.rendered, third.skipped) == (0, 2)
    ledger = Ledger(settings.ledger_url)
    de = [o for o in second.outcomes if o.locale == "de-DE"]
    assert {ledger.asset(o.asset_id).status for o in de} == {"retired"} and all(Path(o.path).is_file() for o in de)
    assert {a.locale for a in ledger.active_assets()} == {"en-US"}
    # de-DE comes back unchanged: its variants are intact, so they are skipped, and active again.
    for name, table in tables.items():
        table.to_csv(catalog / name, index=False)
    fourth = run_render(catalog, tmp_path / "out", settings)
    assert (fourth.rendered, fourth.skipped) == (0, 4)
    assert {ledger.asset(o.asset_id).status for o in de} == {"active"}
    assert {a.locale for a in ledger.active_assets()} == {"en-US", "de-DE"}
