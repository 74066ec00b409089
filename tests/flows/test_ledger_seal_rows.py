"""pipeline.seal on a ledger written row by row (no render): what each tamper reads as, and recovery's view."""
from __future__ import annotations

import sqlite3
from datetime import datetime, timezone

import pytest

from pipeline.seal import asset_key, seal_rows, verify_ledger
from pipeline.settings import Settings
from pipeline.workspace import Workspace
from provenance.ledger import AssetRecord


@pytest.fixture
def ws(tmp_path):
    ws = Workspace(Settings.build(home=tmp_path / "home"))
    ws.ledger.start_run("r1", "catalog", "{}")
    for i in range(3):
        asset_id = f"tsr-{i:024d}"
        ws.ledger.record_asset(AssetRecord(asset_id, f"{i:064d}", "r1", "SKU", "de-DE", "1x1", tmp_path / f"{i}.mp4",
                                           f"{i:064x}", "urn:c2pa:x", "c" * 64, datetime.now(timezone.utc)),
                               "urn:c2pa:x", '{"manifest": "' + "m" * 400 + '"}')
        ws.soft_bindings.record(asset_id, i + 1, [i, i + 1])
        seal_rows(ws.journal, ws.ledger.engine, [("asset", asset_key(asset_id, tmp_path)), ("soft_binding", asset_id)])
    return ws


def _sql(ws, statement, *args):
    with sqlite3.connect(ws.settings.ledger_url.removeprefix("sqlite:///")) as db:
        db.execute(statement, args)


def test_an_untouched_ledger_is_intact_and_every_row_trusted(ws):
    integrity = verify_ledger(ws.verifying_journal, ws.ledger.engine)
    assert integrity.intact and integrity.rows == 6 and integrity.adopted_at is None
    assert integrity.summary() == "ledger intact: 6 rows match their seals"
    assert integrity.untrusted("tsr-" + "0" * 24) is None


def test_each_tamper_is_named_and_its_asset_untrusted(ws, tmp_path):
    a, b, c = (f"tsr-{i:024d}" for i in range(3))
    _sql(ws, "UPDATE manifests SET manifest_json = '{}' WHERE asset_id = ?", a)
    _sql(ws, "UPDATE watermarks SET payload = '00000000000000ff' WHERE asset_id = ?", b)
    _sql(ws, "DELETE FROM fingerprints WHERE asset_id = ?", c)
    _sql(ws, "UPDATE assets SET status = 'retired' WHERE asset_id = ?", c)      # not sealed: renders rewrite it
    integrity = verify_ledger(ws.verifying_journal, ws.ledger.engine)
    texts = [p.text for p in integrity.problems]
    assert texts == [
        f"asset {a} in {tmp_path} row altered: manifests.manifest_json differs from its seal (seq 1)",
        f"soft binding of {b} altered: payload differs from its seal (seq 2)",
        f"soft binding of {c} altered: fingerprints differs from its seal (seq 3)",
    ], texts
    assert integrity.untrusted(a) and integrity.untrusted(b) and integrity.untrusted(c)


def test_a_verify_only_journal_cannot_append(ws):
    from compliance.journal import Journal, JournalEvent

    reader = Journal.for_verifying(ws.ledger.engine, ws.credentials.cert_chain_pem)
    assert reader.verify().ok
    with pytest.raises(ValueError, match="verifying only"):
        reader.append(JournalEvent("k", "tessera", "system", "publication"))
