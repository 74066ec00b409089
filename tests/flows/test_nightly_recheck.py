"""The nightly run's recheck step: after the shards and before the audit, every asset the catalog published in
the output folder is rechecked against today's registries; what no longer passes is withdrawn (its file moved to
the quarantine), listed in its own artifact with the reasons, and counted in the summary."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from prefect.client.schemas.sorting import ArtifactSort

from flow_catalogs import small_catalog
from flows.cli import cli
from flows.nightly import STATUSES, WITHDRAWN_ARTIFACT, RenderJob, _summary_markdown, recheck_output
from flows.render import run_render
from pipeline.settings import Settings
from pipeline.workspace import Workspace

pytestmark = pytest.mark.slow   # a whole render, then a recheck that decodes it


def _latest_withdrawn_table() -> list[dict]:
    with get_client(sync_client=True) as client:
        (artifact,) = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[WITHDRAWN_ARTIFACT])),
                                            sort=ArtifactSort.CREATED_DESC, limit=1)
    return json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data


def test_the_nightly_recheck_withdraws_lists_and_counts_an_asset_showing_a_newly_registered_work(tmp_path):
    catalog = small_catalog(tmp_path / "catalog", locales=("de-DE",), aspects="1:1")
    job = RenderJob(catalog=catalog, out=tmp_path / "out", home=tmp_path / "home", short_side=288, workers=1)
    summary = run_render(job.catalog, job.out, job.settings())
    assert summary.rendered == 1, [o.reason for o in summary.outcomes]
    (video,) = job.out.rglob("*.mp4")

    quiet = recheck_output(job)
    assert (quiet["rechecked"], quiet["withdrawn"]) == (1, [])
    assert _latest_withdrawn_table() == [{"withdrawn": "none of 1 published assets"}]

    added = CliRunner().invoke(cli, ["protected", "add", str(catalog / "photos" / "coffee.jpg"), "--title",
                                     "Crema still life", "--owner", "Studio X", "--home", str(job.home)])
    assert added.exit_code == 0, added.output
    rechecked = recheck_output(job)
    (gone,) = rechecked["withdrawn"]
    assert rechecked["rechecked"] == 1 and rechecked["withdrawal"] == "quarantine"
    assert gone["path"] == str(video) and not video.exists() and Path(gone["moved_to"]).is_file(), gone
    assert any("protected work 'Crema still life'" in r for r in gone["reasons"]), gone
    assert Workspace(Settings.build(home=job.home)).ledger.asset(gone["asset_id"]).status == "withdrawn"
    # its own artifact: one row per withdrawn asset, with its reasons and where its file went
    (row,) = _latest_withdrawn_table()
    assert (row["asset_id"], row["path"], row["disposition"], row["moved_to"]) == (
        gone["asset_id"], str(video), "quarantined", gone["moved_to"]) and "Crema still life" in row["reasons"]
    # and the summary counts it
    text = _summary_markdown(job.model_copy(update={"as_of": None}), {s: 0 for s in STATUSES}, [], [], None, rechecked)
    assert "Recheck: 1 published assets against today's registries and rules, 1 withdrawn" in text, text
    assert f"- withdrawn {gone['asset_id']} `{video}`: " in text and f"`{WITHDRAWN_ARTIFACT}`" in text, text
