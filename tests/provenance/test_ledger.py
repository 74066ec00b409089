"""The ledger records assets with their manifests and knows when a variant is intact."""
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from foundation.primitives import sha256_file
from provenance.ledger import AssetRecord, Ledger


@pytest.fixture
def ledger(tmp_path) -> Ledger:
    led = Ledger(f"sqlite:///{tmp_path / 'db' / 'ledger.sqlite'}")
    led.start_run("run1", "catalogs/x", "{}")
    return led


def _record(tmp_path: Path, key: str, content: bytes = b"video bytes") -> AssetRecord:
    out = tmp_path / f"{key}.mp4"
    out.write_bytes(content)
    return AssetRecord(asset_id=f"tsr-{key}", variant_key=key, run_id="run1", sku="SKU-1", locale="de-DE",
                       aspect="9:16", output_path=out, sha256=sha256_file(out), manifest_label="urn:c2pa:1",
                       base_clip_key="base1", created_at=datetime.now(timezone.utc))


def test_record_and_look_up_by_key_sha_and_id(ledger, tmp_path):
    rec = _record(tmp_path, "k1")
    ledger.record_asset(rec, "urn:c2pa:1", '{"manifest": 1}')
    assert ledger.asset_by_key("k1").asset_id == "tsr-k1"
    assert ledger.asset_by_sha256(rec.sha256).output_path == rec.output_path
    assert ledger.asset("tsr-k1").locale == "de-DE"
    assert ledger.manifest_json("tsr-k1") == '{"manifest": 1}'
    assert ledger.asset_by_key("missing") is None


def test_intact_only_when_file_exists_unchanged_at_the_same_path(ledger, tmp_path):
    rec = _record(tmp_path, "k1")
    ledger.record_asset(rec, "urn:c2pa:1", "{}")
    assert ledger.is_intact("k1", rec.output_path)
    assert not ledger.is_intact("k1", tmp_path / "elsewhere.mp4")
    assert not ledger.is_intact("k2", rec.output_path)
    data = bytearray(rec.output_path.read_bytes())
    data[3] ^= 0xFF
    rec.output_path.write_bytes(bytes(data))
    assert not ledger.is_intact("k1", rec.output_path)
    rec.output_path.unlink()
    assert not ledger.is_intact("k1", rec.output_path)


def test_re_recording_a_key_replaces_the_row_and_its_manifest(ledger, tmp_path):
    ledger.record_asset(_record(tmp_path, "k1", b"first"), "urn:c2pa:1", '{"v": 1}')
    ledger.record_asset(_record(tmp_path, "k1", b"second"), "urn:c2pa:2", '{"v": 2}')
    assert len(ledger.active_assets()) == 1
    assert ledger.manifest_json("tsr-k1") == '{"v": 2}'


def test_runs_are_closed_with_counts(ledger, tmp_path):
    ledger.finish_run("run1", status="completed", rendered=3, skipped=2, failed=0)
    engine = create_engine(ledger.url)
    with engine.connect() as c:
        row = c.execute(text("select status, rendered, skipped, failed, finished_at from runs")).one()
    assert row[:4] == ("completed", 3, 2, 0) and row[4] is not None
