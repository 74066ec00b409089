"""Every door reaches the same application core and gets the same answer."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from compliance.journal import Journal
from flows.nightly import RenderJob, audit_media, audit_output
from flows.render import run_render
from foundation.frames import ffmpeg_exe
from generation.plan import RenderOptions
from pipeline.settings import Settings
from provenance import ledger as ledger_module
from provenance.watermark import payload_for_asset

from flow_catalogs import small_catalog

pytestmark = pytest.mark.slow   # whole renders or many CLI processes: `make test-fast` leaves them out

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """One product in two locales and three aspects: six variants, rendered once."""
    root = tmp_path_factory.mktemp("one-core")
    catalog = small_catalog(root / "catalog", locales=("de-DE", "zh-CN"))
    settings = Settings.build(home=root / "home", options=RenderOptions(short_side=288), workers=2)
    built = []
    original = ledger_module.Ledger.__init__

    def counting(self, url):
        built.append(url)
        original(self, url)

    ledger_module.Ledger.__init__ = counting
    try:
        summary = run_render(catalog, root / "out", settings, progress=lambda _: None)
    finally:
        ledger_module.Ledger.__init__ = original
    return root, catalog, settings, summary, built


def test_a_six_variant_render_builds_one_ledger_engine(rendered):
    _, _, _, summary, built = rendered
    assert (summary.rendered, summary.failed) == (6, 0)
    assert len(built) == 1


def test_a_stripped_copy_gets_the_same_row_from_the_cli_the_audit_flow_and_the_nightly_audit(rendered, tmp_path):
    root, catalog, settings, summary, _ = rendered
    original = Path(summary.outcomes[0].path)
    stripped = tmp_path / "copies" / "stripped.mp4"
    stripped.parent.mkdir()
    subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-i", str(original), "-map", "0:v", "-c", "copy",
                    "-map_metadata", "-1", str(stripped)], check=True)

    # 1. The CLI, as a user runs it.
    cli = subprocess.run([sys.executable, "-m", "flows.cli", "audit", str(stripped), "--json",
                          "--home", str(settings.home)], capture_output=True, text=True, cwd=REPO)
    assert cli.returncode in (0, 1), cli.stderr
    [from_cli] = json.loads(cli.stdout)
    # 2. The audit deployment's flow.
    flow_result = audit_media([stripped.parent], settings.home, report=tmp_path / "flow.json")
    [from_flow] = json.loads(Path(flow_result["report"]).read_text())
    # 3. The nightly run's audit step, over the same folder.
    job = RenderJob(catalog=catalog, out=stripped.parent, home=settings.home, short_side=288)
    nightly = audit_output(job)
    [from_nightly] = json.loads(Path(nightly["report"]).read_text())

    assert from_cli == from_flow == from_nightly
    assert from_cli["recovered"] is True and from_cli["watermark"] is not None
    assert from_cli["recovery"]["asset_id"] == summary.outcomes[0].asset_id


def test_a_plain_render_and_an_approval_journal_publications_of_one_shape(tmp_path):
    catalog = small_catalog(tmp_path / "catalog", locales=("de-DE",), aspects="1:1")
    held = Settings.build(home=tmp_path / "home", options=RenderOptions(short_side=288, require_review=True))
    first = run_render(catalog, tmp_path / "held", held, progress=lambda _: None)
    [waiting] = first.outcomes
    assert waiting.status == "review"
    approve = subprocess.run([sys.executable, "-m", "flows.cli", "review", "approve", waiting.asset_id,
                              "--by", "Dana Lee", "--home", str(held.home)], capture_output=True, text=True, cwd=REPO)
    assert approve.returncode == 0, approve.stderr
    plain = Settings.build(home=tmp_path / "home", options=RenderOptions(short_side=288))
    second = run_render(catalog, tmp_path / "plain", plain, progress=lambda _: None)
    [published] = second.outcomes
    assert published.status == "rendered"

    from pipeline.workspace import Workspace
    journal: Journal = Workspace(plain).journal
    by_asset = {e.asset_id: e for e in journal.events() if e.action == "publication"}
    approved, rendered_ = by_asset[waiting.asset_id], by_asset[published.asset_id]
    assert (approved.actor, approved.actor_kind) == (rendered_.actor, rendered_.actor_kind) == ("tessera", "system")
    assert set(approved.outputs) == set(rendered_.outputs) == {"file"}
    assert set(approved.detail) == set(rendered_.detail) == {"path", "approved_by"}
    assert (approved.detail["approved_by"], rendered_.detail["approved_by"]) == ("Dana Lee", None)
    # Both went through the same publish: watermark payload recorded, so both copies can be recovered.
    store = Workspace(plain).soft_bindings
    for asset_id in (waiting.asset_id, published.asset_id):
        assert store.asset_for_payload(payload_for_asset(asset_id)) == asset_id
