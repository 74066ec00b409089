"""`run_render`, the render's entry point on one machine; Prefect is imported and started only when
there is something to render. An unchanged catalog is planned, reported and its run closed in the
ledger without it (the ephemeral Prefect server alone takes seconds to start), with the same
summary and exit status as a render through the flow."""
from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from catalogs import Catalog
from pipeline.lock import render_lock
from pipeline.progress import Count, Progress, as_progress
from pipeline.render import EVERYTHING, RunPlan, RunSummary, Selection, finish_run, plan_run
from pipeline.settings import Settings
from pipeline.workspace import Workspace

__all__ = ["announce_plan", "run_render"]


def run_render(catalog_dir: Path, out_dir: Path, settings: Settings, progress: Progress | Callable[[str], None] = print,
               shard: tuple[int, int] | None = None, checked: Catalog | None = None,
               only: Selection = EVERYTHING) -> RunSummary:
    """Plan under the render lock; with nothing to render, close the run here; else the Prefect flow
    renders the plan (the worker cap from the settings of this run). The diffusion backend goes
    through the flow from the start: Tessera creates this host's GPU limit (one job at a time) first."""
    if settings.options.backend == "diffusers":
        from flows.gpu import ensure_gpu_limit
        from flows.render import render_catalog
        from prefect.task_runners import ThreadPoolTaskRunner
        ensure_gpu_limit(1)
        runner = ThreadPoolTaskRunner(max_workers=settings.workers)
        return render_catalog.with_options(task_runner=runner)(catalog_dir, out_dir, settings, progress, shard,
                                                                  checked, only)
    started = time.perf_counter()
    shown = as_progress(progress)
    # One render at a time per home, output folder and shard: a second one stops here with the holder's pid.
    with render_lock(settings.home, out_dir, shard):
        ws = Workspace(settings)
        t0 = time.perf_counter()
        run = plan_run(ws, catalog_dir, out_dir, shard, checked, only)
        stage = {"plan": time.perf_counter() - t0}
        announce_plan(shown, run)
        if not run.todo:
            return finish_run(ws, run, list(run.skipped), stage, started, retire=shard is None and only.everything,
                              progress=shown.note)
        from flows.render import InProcess, render_planned
        from prefect.task_runners import ThreadPoolTaskRunner
        runner = ThreadPoolTaskRunner(max_workers=settings.workers)
        return render_planned.with_options(task_runner=runner)(ws, InProcess(run), stage, started, shown, shard,
                                                                  only)


def announce_plan(progress: Progress, run: RunPlan) -> None:
    """The plan's size as a note, and the bar's starting point (the unchanged variants are done)."""
    progress.note(f"{len(run.plans)} variants planned: {len(run.todo)} to render, {len(run.skipped)} unchanged")
    progress.planned(Count(len(run.skipped), len(run.plans), 0, len(run.todo), 0.0))
