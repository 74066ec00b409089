"""The nightly progress moves after each variant: a shard's own progress artifact is updated per variant on
the Prefect server, and the nightly run's count (shards_done) reads it back from there."""
from __future__ import annotations

import pytest
from prefect import flow
from prefect.artifacts import create_progress_artifact
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterId
from prefect.context import FlowRunContext

from flow_catalogs import small_catalog
from flows.nightly import SHARD_PROGRESS, RenderJob, ShardProgress, shards_done
from flows.render import run_render
from pipeline.progress import VariantDone

pytestmark = pytest.mark.slow   # a whole render


def test_a_shards_progress_artifact_moves_after_each_variant_and_the_nightly_count_follows(tmp_path):
    catalog = small_catalog(tmp_path / "catalog", locales=("de-DE",), aspects="9:16;1:1;16:9")
    job = RenderJob(catalog=catalog, out=tmp_path / "out", home=tmp_path / "home", short_side=288, workers=1)
    lines: list[str] = []

    @flow
    def watched_shard() -> list[tuple[float, int]]:
        """render_shard's progress, with what the server holds read back after each variant."""
        run_id = FlowRunContext.get().flow_run.id
        artifact = create_progress_artifact(0.0, key=SHARD_PROGRESS)
        seen: list[tuple[float, int]] = []
        with get_client(sync_client=True) as client:
            class Watched(ShardProgress):
                def variant(self, event: VariantDone) -> None:
                    super().variant(event)
                    (stored,) = client.read_artifacts(artifact_filter=ArtifactFilter(id=ArtifactFilterId(any_=[artifact])))
                    seen.append((float(stored.data), shards_done(client, {run_id: 0}, {0: 3})[0]))

            summary = run_render(job.catalog, job.out, job.settings(), progress=Watched(lines.append, artifact),
                                 shard=(0, 1))
        assert summary.rendered == 3, summary
        return seen

    seen = watched_shard()
    assert seen == [(pytest.approx(100 / 3), 1), (pytest.approx(200 / 3), 2), (100.0, 3)], seen
    assert [line.split()[0] for line in lines if line.startswith("[")] == ["[1/3]", "[2/3]", "[3/3]"], lines
