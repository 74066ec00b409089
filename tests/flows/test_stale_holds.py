"""Holds reflect the present: a variant blocked once and published after the cause was fixed is no
longer listed as blocked, and its quarantine report says it was superseded."""
from __future__ import annotations

import json
from datetime import date

import pytest
from click.testing import CliRunner
from PIL import Image
from skimage import data

from compliance.assess import open_registries
from compliance.likeness import face_embedding
from flow_catalogs import small_catalog
from flows.cli import cli
from pipeline.settings import Settings
from provenance.ledger import Ledger

pytestmark = pytest.mark.slow   # two whole renders


def _cli(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_a_blocked_variant_published_later_is_not_listed_as_blocked(tmp_path):
    catalog = small_catalog(tmp_path / "catalog", locales=("de-DE",), aspects="1:1")
    Image.fromarray(data.astronaut()).save(catalog / "photos" / "coffee.jpg", quality=95)
    home = tmp_path / "home"
    likeness = open_registries(Ledger(Settings.build(home=home).ledger_url).engine).likeness
    entry = likeness.add_watch("Eileen Collins", face_embedding(data.astronaut()), reason="public figure",
                               added_by="legal@acme")
    render = ("render", str(catalog), "--out", str(tmp_path / "out"), "--home", str(home), "--short-side", "288",
              "--workers", "1")
    assert _cli(*render).exit_code == 3                       # blocked: the face is on the watch list
    listed = _cli("review", "list", "--blocked", "--home", str(home))
    assert listed.output.strip().endswith("1 blocked"), listed.output
    (report_path,) = (home / "quarantine").glob("*.json")
    asset_id = json.loads(report_path.read_text())["asset_id"]

    # the cause is fixed (off the watch list, a signed release on file): render again, it publishes
    likeness.remove("watch", entry)
    likeness.add_consent("Eileen Collins", face_embedding(data.astronaut()), regions="EU", products="*",
                         expires_on=date(2099, 1, 1), record_ref="release-1.pdf")
    again = _cli(*render)
    assert again.exit_code == 0, again.output
    assert Ledger(Settings.build(home=home).ledger_url).asset(asset_id).status == "active"
    listed = _cli("review", "list", "--blocked", "--home", str(home))
    assert asset_id not in listed.output and listed.output.strip().endswith("0 blocked"), listed.output
    report = json.loads(report_path.read_text())
    assert (report["status"], report["superseded_by"]) == ("superseded", "pass")
    assert not (home / "quarantine" / f"{asset_id}.mp4").exists()
    assert json.loads(_cli("review", "list", "--blocked", "--json", "--home", str(home)).output) == []


def test_a_stale_blocked_report_is_reconciled_with_the_ledger(tmp_path):
    """A blocked report left over from before publications superseded it: the listing asks the ledger."""
    from datetime import datetime, timedelta, timezone

    from compliance import quarantine
    from pipeline.review import blocked_now
    from pipeline.workspace import Workspace
    from provenance.ledger import AssetRecord

    home = tmp_path / "home"
    ws = Workspace(Settings.build(home=home))
    staged = tmp_path / "staged.mp4"
    staged.write_bytes(b"unsigned")
    quarantine(staged, quarantine_dir=ws.quarantine_dir,
               report={"asset_id": "tsr-old", "verdict": "block", "reasons": ["face on the watch list"]})
    assert [i.asset_id for i in blocked_now(ws)] == ["tsr-old"]
    ws.ledger.start_run("r", catalog="c", settings_json="{}")
    ws.ledger.record_asset(AssetRecord(
        asset_id="tsr-old", variant_key="k" * 64, run_id="r", sku="S", locale="de-DE", aspect="1:1",
        output_path=tmp_path / "out.mp4", sha256="0" * 64, manifest_label="m", base_clip_key="b",
        created_at=datetime.now(timezone.utc) + timedelta(seconds=1)), "m", "{}")
    assert blocked_now(ws) == []
    assert json.loads((ws.quarantine_dir / "tsr-old.json").read_text())["status"] == "superseded"
