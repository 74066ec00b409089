"""The ledger is scoped to a catalog and an output folder, and the audit compares paths with it.

One home renders catalog A, catalog B, A again (all into one folder), then A into a second
folder: no render retires another catalog's or folder's assets, and every folder audits pass.
A swapped pair of files and a replaced file are named as such, and fail the audit.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from flows.cli import cli
from flows.render import run_render
from generation.plan import RenderOptions
from pipeline.audit import audit
from pipeline.settings import Settings
from pipeline.workspace import Workspace
from provenance.ledger import Ledger

from flow_catalogs import small_catalog

pytestmark = pytest.mark.slow   # whole renders


@pytest.fixture(scope="module")
def renders(tmp_path_factory):
    root = tmp_path_factory.mktemp("scope")
    cat_a = small_catalog(root / "catalog-a", locales=("de-DE",), aspects="1:1")
    cat_b = small_catalog(root / "catalog-b", locales=("zh-CN",), aspects="1:1")
    settings = Settings.build(home=root / "home", options=RenderOptions(short_side=288))
    out, out2 = root / "out", root / "out2"
    summaries = [run_render(catalog, folder, settings, progress=lambda _: None)
                 for catalog, folder in ((cat_a, out), (cat_b, out), (cat_a, out), (cat_a, out2))]
    return root, settings, out, out2, summaries


def _rows(settings, folder: Path):
    """The audit of a folder through the one audit every door runs, by file name."""
    return {Path(r.path).name: r for r in audit(Workspace(settings), [folder])}


def test_renders_of_two_catalogs_and_two_folders_retire_nothing_and_every_folder_audits_pass(renders):
    _, settings, out, out2, summaries = renders
    assert [(s.rendered, s.skipped, s.failed) for s in summaries] == [(1, 0, 0), (1, 0, 0), (0, 1, 0), (1, 0, 0)]
    ledger = Ledger(settings.ledger_url)
    active = ledger.active_assets()
    assert sorted((a.locale, a.output_dir.name) for a in active) == [("de-DE", "out"), ("de-DE", "out2"),
                                                                      ("zh-CN", "out")]
    assert {Path(a.catalog).name for a in active} == {"catalog-a", "catalog-b"}
    # The first folder keeps its row and manifest when A is rendered into the second.
    de = next(a for a in active if a.locale == "de-DE" and a.output_dir == out)
    assert ledger.manifest_json(de.asset_id, out) != ledger.manifest_json(de.asset_id, out2)
    for folder, files in ((out, 2), (out2, 1)):
        rows = list(_rows(settings, folder).values())
        assert [(r.verdict, r.location) for r in rows] == [("pass", "recorded")] * files, \
            [(r.path, r.problems) for r in rows]


def test_a_copy_outside_the_output_folders_passes_and_says_where_the_original_is(renders, tmp_path):
    _, settings, out, _, _ = renders
    original = next(out.rglob("*de-DE*.mp4"))
    shutil.copy2(original, tmp_path / "delivered.mp4")
    row = _rows(settings, tmp_path)["delivered.mp4"]
    assert (row.verdict, row.location, row.recorded_path, row.problems) == ("pass", "copy", str(original), ())


def test_swapped_and_replaced_files_are_named_and_fail_the_audit(renders):
    root, settings, out, out2, _ = renders
    de, zh = next(out.rglob("*de-DE*.mp4")), next(out.rglob("*zh-CN*.mp4"))
    other_folder = next(out2.rglob("*.mp4"))
    kept = {p: p.read_bytes() for p in (de, zh)}
    try:
        # 1. Two signed files swapped by name in the output folder.
        de.write_bytes(kept[zh])
        zh.write_bytes(kept[de])
        rows = _rows(settings, out)
        assert {n: (r.verdict, r.location, r.recorded_path) for n, r in rows.items()} == {
            de.name: ("fail", "swapped", str(zh)), zh.name: ("fail", "swapped", str(de))}
        assert any(p.startswith("swapped: ") and str(zh) in p for p in rows[de.name].problems)
        result = CliRunner().invoke(cli, ["audit", str(out), "--home", str(settings.home)])
        assert result.exit_code == 1 and result.output.count("swapped: ") == 2, result.output
        # 2. The same variant from the other folder copied over this one: ours, but recorded there.
        de.write_bytes(other_folder.read_bytes())
        row = _rows(settings, out)[de.name]
        assert (row.verdict, row.location, row.recorded_path) == ("fail", "swapped", str(other_folder))
        # 3. Bytes the ledger does not know at a recorded path.
        zh.write_bytes(kept[zh][:-1] + bytes([kept[zh][-1] ^ 0xFF]))
        row = _rows(settings, out)[zh.name]
        assert (row.verdict, row.location) == ("fail", "replaced")
        assert any(p.startswith("replaced: not the file the ledger records at this path") for p in row.problems)
        # 4. Ours, under an unrecorded name inside the output folder: moved.
        zh.write_bytes(kept[zh])
        moved = de.with_name("renamed.mp4")
        de.rename(moved)
        row = _rows(settings, out)["renamed.mp4"]
        assert (row.verdict, row.location, row.recorded_path) == ("warn", "moved", str(other_folder))
        moved.rename(de)
    finally:
        for path, data in kept.items():
            path.write_bytes(data)
    assert [r.verdict for r in _rows(settings, out).values()] == ["pass", "pass"]
