"""The ledger records assets with their manifests and knows when a variant is intact."""
import os
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from foundation.primitives import sha256_file
from provenance.ledger import AssetRecord, Ledger, file_stat


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


def test_a_file_whose_recorded_size_and_mtime_still_match_is_not_hashed_again_and_a_changed_one_is(ledger, tmp_path):
    rec = _record(tmp_path, "k1", b"signed bytes")
    size, mtime_ns = file_stat(rec.output_path)
    ledger.record_asset(replace(rec, size=size, mtime_ns=mtime_ns), "urn:c2pa:1", "{}")
    assert (ledger.asset("tsr-k1").size, ledger.asset("tsr-k1").mtime_ns) == (size, mtime_ns)
    assert ledger.is_intact("k1", rec.output_path)
    # Rewritten (new bytes, new mtime): the stat differs, so it is hashed, and the hash differs.
    rec.output_path.write_bytes(b"signed bytez")
    os.utime(rec.output_path, ns=(mtime_ns + 10**9, mtime_ns + 10**9))
    assert not ledger.is_intact("k1", rec.output_path)
    # The recorded bytes again, touched: the stat differs, the hash matches.
    rec.output_path.write_bytes(b"signed bytes")
    assert ledger.is_intact("k1", rec.output_path)
    # Same size and the recorded mtime set back on purpose: the plan trusts the stat (what
    # `tessera audit` is for: it hashes every file).
    rec.output_path.write_bytes(b"signed bytez")
    os.utime(rec.output_path, ns=(mtime_ns, mtime_ns))
    assert ledger.is_intact("k1", rec.output_path)
    assert ledger.path_record(rec.output_path, sha256_file(rec.output_path)).by_content == ()
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


def _in(folder: Path, key: str, content: bytes, run: str = "run1") -> AssetRecord:
    """The record of variant `key` rendered into output folder `folder` (<out>/<sku>/<file>)."""
    out = folder / "SKU-1" / f"{key}.mp4"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(content)
    return AssetRecord(asset_id=f"tsr-{key}", variant_key=key, run_id=run, sku="SKU-1", locale="de-DE",
                       aspect=key, output_path=out, sha256=sha256_file(out), manifest_label="urn:c2pa:1",
                       base_clip_key="base1", created_at=datetime.now(timezone.utc), output_dir=folder)


def test_a_second_output_folder_adds_rows_and_keeps_the_first_folders_row_and_manifest(ledger, tmp_path):
    first, second = _in(tmp_path / "out1", "k1", b"one"), _in(tmp_path / "out2", "k1", b"two")
    ledger.record_asset(first, "urn:c2pa:1", '{"folder": 1}')
    ledger.record_asset(second, "urn:c2pa:2", '{"folder": 2}')
    assert ledger.is_intact("k1", first.output_path) and ledger.is_intact("k1", second.output_path)
    assert ledger.manifest_json("tsr-k1", tmp_path / "out1") == '{"folder": 1}'
    assert ledger.manifest_json("tsr-k1", tmp_path / "out2") == '{"folder": 2}'
    assert {(a.output_dir, a.catalog) for a in ledger.active_assets()} == {(tmp_path / "out1", "catalogs/x"),
                                                                          (tmp_path / "out2", "catalogs/x")}


def test_retiring_touches_only_the_catalog_and_folder_rendered_and_a_key_planned_again_is_active(ledger, tmp_path):
    ledger.start_run("run2", "catalogs/y", "{}")
    a = _in(tmp_path / "out", "a", b"a")
    b = _in(tmp_path / "out", "b", b"b", run="run2")
    a2 = _in(tmp_path / "out2", "a", b"a in out2")
    for rec in (a, b, a2):
        ledger.record_asset(rec, "urn:c2pa:1", "{}")
    # Catalog x's render of out plans nothing of b (catalog y's) and nothing of out2: only a retires.
    assert ledger.retire_absent(set(), catalog="catalogs/x", output_dir=tmp_path / "out") == ["tsr-a"]
    assert {(r.variant_key, r.output_dir) for r in ledger.active_assets()} == {("b", tmp_path / "out"),
                                                                               ("a", tmp_path / "out2")}
    # Planned again and intact: skipped, and active again.
    assert ledger.is_intact("a", a.output_path)
    assert ledger.activate(["a"], tmp_path / "out") == ["tsr-a"]
    assert ledger.asset_by_key("a", tmp_path / "out").status == "active"


def test_path_record_tells_where_content_is_recorded_and_what_is_recorded_at_a_path(ledger, tmp_path):
    a, b = _in(tmp_path / "out", "a", b"a"), _in(tmp_path / "out", "b", b"b")
    ledger.record_asset(a, "urn:c2pa:1", "{}")
    ledger.record_asset(b, "urn:c2pa:1", "{}")
    at_a = ledger.path_record(a.output_path, b.sha256)      # b's bytes where a is recorded: swapped
    assert at_a.at_path.asset_id == "tsr-a" and [r.asset_id for r in at_a.by_content] == ["tsr-b"]
    assert at_a.in_output_dir
    elsewhere = ledger.path_record(tmp_path / "delivery" / "x.mp4", a.sha256)
    assert elsewhere.at_path is None and not elsewhere.in_output_dir and elsewhere.by_content[0].asset_id == "tsr-a"


def test_the_batch_intact_check_answers_as_is_intact_does_for_each_variant(ledger, tmp_path):
    recs = [_record(tmp_path, f"k{i}", f"bytes {i}".encode()) for i in range(620)]   # more than one batch of 500
    for rec in recs[:600]:
        ledger.record_asset(rec, "urn:c2pa:1", "{}")
    recs[3].output_path.write_bytes(b"changed")
    recs[4].output_path.unlink()
    asked = [(r.variant_key, r.output_path) for r in recs] + [("k5", tmp_path / "elsewhere.mp4")]
    assert ledger.intact(asked) == {pair for pair in asked if ledger.is_intact(*pair)}
    assert len(ledger.intact(asked)) == 598
