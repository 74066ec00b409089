"""The render flow: catalog in, signed variants out, each step recorded in the ledger.

Reads top to bottom: plan the run (load and check the catalog, skip what the ledger
already has intact), make one base clip per product, pick and assess it, then run the
per-variant pipeline for every remaining variant. The steps are the application core's
(pipeline/); what lives here is what Prefect is for: tasks, retries, the worker cap and
the GPU slot.
"""
from __future__ import annotations

import contextlib
import queue
import time
from pathlib import Path

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import ThreadPoolTaskRunner

from catalogs import Catalog
from compliance import BaseAssessment
from compliance.record import Take
from flows.gpu import gpu_slot, require_gpu_limit
from foundation.primitives import Outcome
from foundation.records import BaseClip
from generation.backends import BaseClipBackend
from generation.plan import VariantPlan
from pipeline.lock import render_lock
from pipeline.progress import Count, Progress, VariantDone, as_progress
from pipeline.render import (EVERYTHING, RunPlan, RunSummary, Selection, assess, choose_take, finish_run, make_takes,
                             open_backend, plan_run)
from pipeline.settings import Settings
from pipeline.variant import ChosenTake, VariantOutcome, outcome, render_one
from pipeline.workspace import Workspace
from flows.start import announce_plan, run_render  # noqa: F401  (run_render: the entry point on one machine)

__all__ = ["render_catalog", "render_planned", "run_render"]


@task(retries=1, retry_delay_seconds=1, cache_policy=NO_CACHE)
def base_clip_task(ws: Workspace, backend: BaseClipBackend, plan: VariantPlan,
                   progress: Progress) -> tuple[list[BaseClip], list[Take], float]:
    """A product's takes; a GPU backend generates under the host's GPU slot."""
    t0 = time.perf_counter()
    clips, takes = make_takes(ws, backend, plan, slot=gpu_slot if backend.needs_gpu else contextlib.nullcontext,
                              progress=progress)
    return clips, takes, time.perf_counter() - t0


@task(retries=1, retry_delay_seconds=1, cache_policy=NO_CACHE)
def assess_task(ws: Workspace, base: BaseClip) -> tuple[BaseAssessment, float]:
    t0 = time.perf_counter()
    return assess(ws, base), time.perf_counter() - t0


# No retry: a failed signature or encode fails the variant with its reason (fail closed).
@task(cache_policy=NO_CACHE)
def variant_task(ws: Workspace, plan: VariantPlan, chosen: ChosenTake, run_id: str) -> VariantOutcome:
    return render_one(ws, plan, chosen, run_id)


@flow(name="tessera-render", validate_parameters=False, task_runner=ThreadPoolTaskRunner(max_workers=2))
def render_catalog(catalog_dir: Path, out_dir: Path, settings: Settings, progress=None,
                   shard: tuple[int, int] | None = None, checked: Catalog | None = None,
                   only: Selection = EVERYTHING) -> RunSummary:
    """Render a catalog; with shard=(i, n) only the products whose shard is i (of n), and no retiring;
    with `only` the products and locales it names, and no retiring either.
    checked: the catalog as pipeline.check.check_run returned it, when the caller checked it already."""
    started = time.perf_counter()
    # One render at a time per home, output folder and shard: a second one stops here with the holder's pid.
    with render_lock(settings.home, out_dir, shard):
        return _render(Workspace(settings), catalog_dir, out_dir, as_progress(progress), shard, started, checked,
                       only)


def _render(ws: Workspace, catalog_dir: Path, out_dir: Path, progress: Progress, shard: tuple[int, int] | None,
            started: float, checked: Catalog | None, only: Selection) -> RunSummary:
    settings = ws.settings
    stage: dict[str, float] = {}

    # 1. Load and check everything before any output exists; skip what is unchanged and intact.
    t0 = time.perf_counter()
    if settings.options.backend == "diffusers":
        require_gpu_limit()          # strict: a host without its limit fails here, not unthrottled later
    run = plan_run(ws, catalog_dir, out_dir, shard, checked, only)
    stage["plan"] = time.perf_counter() - t0
    announce_plan(progress, run)
    return _render_todo(ws, run, stage, started, progress, shard, only)


class InProcess:
    """A value handed to a flow in this process and not recorded with its parameters: Prefect stores
    a flow run's parameters on its server (at most 512 KB), and the plan of a large catalog is megabytes
    (9 MB for 1,008 variants). With no __dict__ and no iteration, Prefect's encoder cannot read it and
    records the placeholder "<InProcess>"."""
    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value


@flow(name="tessera-render", validate_parameters=False, task_runner=ThreadPoolTaskRunner(max_workers=2))
def render_planned(ws: Workspace, run: InProcess, stage: dict[str, float], started: float, progress,
                   shard: tuple[int, int] | None, only: Selection) -> RunSummary:
    """The rest of a render that flows.start.run_render planned (holding the render lock); `run` holds
    its RunPlan."""
    return _render_todo(ws, run.value, stage, started, as_progress(progress), shard, only)


def _render_todo(ws: Workspace, run: RunPlan, stage: dict[str, float], started: float, progress: Progress,
                 shard: tuple[int, int] | None, only: Selection) -> RunSummary:
    settings = ws.settings
    outcomes: list[VariantOutcome] = list(run.skipped)

    # 2. Per product, in plan order: its base clip (shared by all its locales and aspect ratios), the
    #    take (a reviewer's pick, else an automatic one, recorded as such, unless review is required),
    #    its likeness and protected-works evidence, then its variants, which start as soon as their
    #    product is assessed. Base clips run at most `workers` products ahead, so variants do not
    #    wait behind every product's base clip.
    first_plan = run.first_plan_per_product()
    backend = open_backend(settings) if first_plan else None
    todo_of: dict[str, list[VariantPlan]] = {}
    for p in run.todo:
        todo_of.setdefault(p.product.sku, []).append(p)
    skus, ahead = list(todo_of), max(1, settings.workers)      # products in plan order
    base_futures = {sku: base_clip_task.submit(ws, backend, first_plan[sku], progress) for sku in skus[:ahead]}
    stage["base_clip"] = stage["gate_assess"] = 0.0
    finished: queue.SimpleQueue = queue.SimpleQueue()     # variant futures, as they finish
    futures: dict[object, VariantPlan] = {}
    reported = settled = 0       # variants finished, and those settled without a render (failed, awaiting)
    composing = time.perf_counter()

    def report(block: bool) -> None:
        """Progress for each variant finished so far (block: until every submitted one has)."""
        nonlocal reported
        while reported < len(futures):
            try:
                fut = finished.get(block=block)
            except queue.Empty:
                return
            reported += 1
            p = futures[fut]
            out = fut.result(raise_on_failure=False)
            if isinstance(out, BaseException):
                out = outcome(p, Outcome.FAILED, _reason(out))
            for k, v in out.seconds.items():
                stage[k] = stage.get(k, 0.0) + v
            outcomes.append(out)
            count = Count(len(run.skipped) + settled + reported, len(run.plans), reported, len(run.todo) - settled,
                          time.perf_counter() - composing)
            progress.variant(VariantDone(count, out.status.value, f"{out.sku} {out.locale} {out.aspect}", out.reason))

    def settle(plans: list[VariantPlan], status: Outcome, reason: str) -> None:
        nonlocal settled
        outcomes.extend(outcome(p, status, reason) for p in plans)
        settled += len(plans)

    def one_product(sku: str, value: object) -> None:
        mine = todo_of[sku]
        if isinstance(value, BaseException):
            return settle(mine, Outcome.FAILED, f"base clip: {_reason(value)}")
        clips, takes, secs = value
        stage["base_clip"] += secs
        choice = choose_take(ws, first_plan[sku], clips, takes)
        if isinstance(choice, str):
            return settle(mine, Outcome.AWAITING_PICK, choice)
        # 3. Likeness and protected-works evidence, once per chosen take.
        assessed = assess_task.submit(ws, choice[0]).result(raise_on_failure=False)
        if isinstance(assessed, BaseException):
            return settle(mine, Outcome.FAILED, f"compliance check: {_reason(assessed)}")
        stage["gate_assess"] += assessed[1]
        chosen = ChosenTake(choice[0], tuple(takes), choice[1], assessed[0])
        # 4. The per-variant pipeline for each of the product's variants; progress as they finish.
        for p in mine:
            fut = variant_task.submit(ws, p, chosen, run.run_id)
            futures[fut] = p
            fut.add_done_callback(finished.put)

    for i, sku in enumerate(skus):
        one_product(sku, base_futures.pop(sku).result(raise_on_failure=False))
        # The next product's base clip queues behind this product's variants, not ahead of them.
        if i + ahead < len(skus):
            nxt = skus[i + ahead]
            base_futures[nxt] = base_clip_task.submit(ws, backend, first_plan[nxt], progress)
        report(block=False)
    report(block=True)

    # 5. Retire what the catalog no longer has (whole-catalog runs only) and close the run.
    return finish_run(ws, run, outcomes, stage, started, retire=shard is None and only.everything,
                      progress=progress.note)


def _reason(exc: BaseException) -> str:
    """The failed task's own exception is the reason we report."""
    return f"{type(exc).__name__}: {exc}"
