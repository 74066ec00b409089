"""Runs exclude each other, a resumed variant records each decision once, and nothing is left behind."""
from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import select

import pipeline.publish
from flows.render import run_render
from generation.plan import RenderOptions
from pipeline.lock import RenderLocked, render_lock, run_scope
from pipeline.settings import Settings
from pipeline.workspace import Workspace
from provenance.ledger import Ledger, runs

from flow_catalogs import small_catalog

pytestmark = pytest.mark.slow   # whole renders or many CLI processes: `make test-fast` leaves them out


def test_a_second_render_of_the_same_home_and_folder_stops_naming_the_holder(tmp_path):
    catalog = small_catalog(tmp_path / "catalog", locales=("de-DE",), aspects="1:1")
    settings = Settings.build(home=tmp_path / "home", options=RenderOptions(short_side=288))
    with render_lock(settings.home, tmp_path / "out"):
        with pytest.raises(RenderLocked, match=r"another render \(pid \d+ on .*, started .*\) holds"):
            run_render(catalog, tmp_path / "out", settings, progress=lambda _: None)
    assert not (tmp_path / "out").exists()


def test_a_variant_killed_while_signing_is_resumed_with_each_decision_once_and_no_leftovers(tmp_path, monkeypatch):
    catalog = small_catalog(tmp_path / "catalog", locales=("de-DE",), aspects="1:1;9:16")
    settings = Settings.build(home=tmp_path / "home", options=RenderOptions(short_side=288))
    out = tmp_path / "out"
    real_sign = pipeline.publish.sign_file

    def killed(src, dst, manifest, creds):
        # What a kill at this point leaves: the unsigned encode and a half-written signed copy.
        (src.parent / f"{manifest.asset_id}.deadbeef.mp4").write_bytes(b"unsigned")
        (dst.parent / f".{dst.name}.x1y2z3.part.mp4").write_bytes(b"half")
        raise RuntimeError("killed while signing")

    monkeypatch.setattr(pipeline.publish, "sign_file", killed)
    first = run_render(catalog, out, settings, progress=lambda _: None)
    assert (first.rendered, first.failed) == (0, 2)
    assert list(settings.home.glob("cache/staging/*.mp4")) and list(out.rglob(".*.part*"))

    monkeypatch.setattr(pipeline.publish, "sign_file", real_sign)
    again = run_render(catalog, out, settings, progress=lambda _: None)
    assert (again.rendered, again.failed) == (2, 0)
    assert not list(settings.home.glob("cache/staging/*")) and not list(out.rglob(".*"))
    journal = Workspace(settings).journal
    for o in again.outcomes:
        kinds = Counter(e.action for e in journal.events(asset_id=o.asset_id))
        assert kinds == {"input_recorded": 1, "brand_kit_applied": 1, "copy_written": 3, "generation_run": 1,
                         "candidate_picked": 1, "publication": 1}, o.asset_id


def test_a_run_left_running_by_a_killed_render_is_closed_by_the_next_render_holding_its_lock(tmp_path):
    catalog = small_catalog(tmp_path / "catalog", locales=("de-DE",), aspects="1:1")
    settings = Settings.build(home=tmp_path / "home", options=RenderOptions(short_side=288))
    out = tmp_path / "out"
    ledger = Ledger(settings.ledger_url)
    mine = run_scope(settings.home, out)
    # Rows a killed render left at running, and rows of renders this one's lock says nothing about.
    scopes = {"killed": mine, "other-folder": run_scope(settings.home, tmp_path / "out2"),
              "other-shard": run_scope(settings.home, out, (0, 2)),
              "other-host": "elsewhere" + mine[mine.index("|"):],
              "other-home": run_scope(tmp_path / "home2", out), "no-scope": None}
    for run_id, scope in scopes.items():
        ledger.start_run(run_id, str(catalog), "{}", scope)
    summary = run_render(catalog, out, settings, progress=lambda _: None)
    with ledger.engine.connect() as c:
        rows = {r.run_id: (r.status, r.finished_at is not None) for r in c.execute(select(runs))}
    assert rows.pop("killed") == ("interrupted", True)
    assert rows.pop(summary.run_id) == ("completed", True)
    assert rows == {run_id: ("running", False) for run_id in scopes if run_id != "killed"}
