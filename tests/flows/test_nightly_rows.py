"""The nightly variant table: from each shard's own result, or from the ledger when a shard died."""
from datetime import datetime, timedelta, timezone
from uuid import uuid4

import pandas as pd
import pytest
from prefect.client.schemas.objects import FlowRun
from prefect.states import Completed, Crashed

from catalogs import load_catalog
from compliance.rules import known_profiles
from flow_catalogs import SAMPLE, small_catalog
from flows.nightly import _variant_rows
from pipeline.render import shard_of
from generation.plan import RenderOptions, plan_variants
from foundation.primitives import sha256_file
from provenance.ledger import AssetRecord, Ledger


@pytest.fixture
def plans(tmp_path):
    catalog = small_catalog(tmp_path / "catalog", locales=("de-DE",), aspects="9:16")
    products = pd.read_csv(SAMPLE / "products.csv", dtype=str, keep_default_na=False)
    products.assign(duration_s="2").to_csv(catalog / "products.csv", index=False)
    copy = pd.read_csv(SAMPLE / "copy.csv", dtype=str, keep_default_na=False)
    copy[copy["locale"] == "de-DE"].to_csv(catalog / "copy.csv", index=False)
    plans = plan_variants(load_catalog(catalog, known_profiles=known_profiles()), RenderOptions(short_side=240),
                          tmp_path / "out")
    assert sorted(shard_of(p.product.sku, 2) for p in plans) == [0, 0, 1]
    return plans


def _record(ledger: Ledger, plan, at: datetime) -> None:
    plan.output_path.parent.mkdir(parents=True, exist_ok=True)
    plan.output_path.write_bytes(b"signed video of " + plan.asset_id.encode())
    ledger.record_asset(AssetRecord(
        asset_id=plan.asset_id, variant_key=plan.variant_key, run_id="r1", sku=plan.spec.sku,
        locale=plan.spec.locale, aspect=plan.spec.aspect, output_path=plan.output_path,
        sha256=sha256_file(plan.output_path), manifest_label="urn:c2pa:x", base_clip_key="b", created_at=at),
        "urn:c2pa:x", "{}")


@pytest.mark.parametrize("made_before_crash", [True, False])
def test_a_crashed_shard_is_read_from_the_ledger_and_the_other_shard_from_its_result(plans, tmp_path,
                                                                                   made_before_crash):
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    ledger.start_run("r1", "c", "{}")
    since = datetime.now(timezone.utc) - timedelta(minutes=5)
    crashed_plan = next(p for p in plans if shard_of(p.product.sku, 2) == 1)
    if made_before_crash:
        _record(ledger, crashed_plan, datetime.now(timezone.utc))
    done = {"host": "gpu1", "worker": "w1", "shard": 0, "outcomes": [
        {"asset_id": p.asset_id, "sku": p.spec.sku, "locale": p.spec.locale, "aspect": p.spec.aspect,
         "status": "rendered", "reason": "", "path": str(p.output_path), "seconds": {}}
        for p in plans if shard_of(p.product.sku, 2) == 0]}
    runs = {0: FlowRun(id=uuid4(), flow_id=uuid4(), name="shard-0-of-2", state=Completed(data=done)),
            1: FlowRun(id=uuid4(), flow_id=uuid4(), name="shard-1-of-2", state=Crashed(message="worker lost"))}

    rows = {r["sku"]: r for r in _variant_rows(plans, 2, runs, ledger, since=since)}

    assert {sku: (r["status"], r["worker"]) for sku, r in rows.items() if r["shard"] == 0} == {
        "CAT-BED-PLUSH": ("rendered", "w1"), "RKT-KIT-LP1": ("rendered", "w1")}
    crashed = rows[crashed_plan.spec.sku]
    assert crashed["status"] == ("rendered" if made_before_crash else "failed")
    assert crashed["reason"] == "shard Crashed: worker lost"


def test_a_rendered_row_says_why_it_was_rendered(plans, tmp_path):
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    done = {"host": "gpu1", "worker": "w1", "shard": 0, "outcomes": [
        {"asset_id": p.asset_id, "sku": p.spec.sku, "locale": p.spec.locale, "aspect": p.spec.aspect,
         "status": "rendered", "reason": "", "path": str(p.output_path), "seconds": {}} for p in plans]}
    runs = {0: FlowRun(id=uuid4(), flow_id=uuid4(), name="shard-0-of-1", state=Completed(data=done))}
    first = plans[0]
    planned = {(first.spec.sku, first.spec.locale, first.spec.aspect): "copy.headline changed"}
    rows = _variant_rows(plans, 1, runs, ledger, since=datetime.now(timezone.utc), planned=planned)
    assert [r["reason"] for r in rows] == ["copy.headline changed", "", ""]
