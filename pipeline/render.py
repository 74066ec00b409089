"""A render run as plain steps over one Workspace: plan, takes, pick, assess, per-variant pipeline, close.

flows/render.py wires these into Prefect tasks (retries, the worker cap, the GPU slot);
anything else that renders calls the same functions.
"""
from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ContextManager

from catalogs import Catalog
from compliance.authorship import frame_hashes
from compliance.decide import rules_digest
from compliance.record import AUTO_PICKER, Pick, Take, human_pick
from foundation.primitives import Outcome, canonical_json, sha256_text
from foundation.records import BaseClip
from provenance.ledger import recorded_keys, redacted_url
from generation.backends import BaseClipBackend, DiffusersBackend, MotionBackend
from generation.contact_sheet import write_candidate_sheets
from generation.plan import VariantPlan, output_folder, plan_variants
from pipeline.check import check_run, check_text
from pipeline.lock import run_scope
from pipeline.progress import GenerationStep, Progress
from pipeline.seal import adopt_unsealed, asset_key, sealed_keys
from pipeline.settings import Settings
from pipeline.outcome import VariantOutcome, outcome
from pipeline.workspace import Workspace

if TYPE_CHECKING:  # the assessment's modules (imagehash, the face models) load when a product is assessed
    from compliance.assess import BaseAssessment

__all__ = ["EVERYTHING", "PlannedVariant", "RunPlan", "RunSummary", "Selection", "catalog_identity", "changed_inputs",
           "plan_run",
           "preview_run", "remove_leftovers", "open_backend", "make_takes", "choose_take", "assess", "finish_run",
           "shard_of"]


@dataclass(frozen=True)
class RunPlan:
    run_id: str
    all_plans: tuple[VariantPlan, ...]     # the whole catalog (what retiring compares with)
    plans: tuple[VariantPlan, ...]         # this run's (one shard's, or all)
    todo: tuple[VariantPlan, ...]          # to render: new, changed, or their file is not intact
    skipped: tuple[VariantOutcome, ...]    # unchanged and intact
    catalog: str = ""                      # catalog_identity of the catalog
    out_dir: Path = Path()                 # the resolved output folder

    def first_plan_per_product(self) -> dict[str, VariantPlan]:
        """One plan per product still to render: its base clip is shared by all its variants."""
        return {p.product.sku: p for p in reversed(self.todo)}


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    rendered: int
    skipped: int
    awaiting_pick: int                # takes wait for a person's pick (--require-review)
    review: int                       # held for a person's approval (the compliance gate, or --require-review)
    blocked: int                      # quarantined by the compliance gate, never signed
    failed: int
    seconds: float
    stage_seconds: dict[str, float]
    outcomes: tuple[VariantOutcome, ...]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for o in d["outcomes"]:
            o["status"] = Outcome(o["status"]).value
        return d


def shard_of(sku: str, shards: int) -> int:
    """Stable shard of a product: all variants of a product share one host and its base clip."""
    return int(sha256_text(sku), 16) % shards


@dataclass(frozen=True)
class Selection:
    """The --sku / --locale filters of a run (empty: every product, every locale). Locale tags compare
    case-insensitively, as the catalog loader reads them."""
    skus: frozenset[str] = frozenset()
    locales: frozenset[str] = frozenset()

    @property
    def everything(self) -> bool:
        return not self.skus and not self.locales

    def __contains__(self, plan: VariantPlan) -> bool:
        return ((not self.skus or plan.spec.sku in self.skus)
                and (not self.locales or plan.spec.locale.lower() in {t.lower() for t in self.locales}))


EVERYTHING = Selection()


def catalog_identity(catalog_dir: Path) -> str:
    """Which catalog a ledger row belongs to: its resolved folder (what runs.catalog records).
    A catalog moved or reached by another path is another catalog: its rows are neither retired
    nor reused by renders of the old path (output paths are absolute too, so nothing would skip)."""
    return str(Path(catalog_dir).resolve())


def plan_run(ws: Workspace, catalog_dir: Path, out_dir: Path, shard: tuple[int, int] | None = None,
             checked: Catalog | None = None, only: Selection = EVERYTHING) -> RunPlan:
    """Load and check everything before any output exists, then plan and find what to render.
    The caller holds render_lock(home, out_dir, shard).
    checked: the catalog as check_run returned it (the CLI checks before the flow starts); else checked here.
    only: the products and locales to render (the rest of the catalog is neither rendered nor retired)."""
    settings = ws.settings
    # 1. Catalog, rules, text fit, credentials (check_run), then the registries: a bad one stops the run here.
    catalog = checked if checked is not None else check_run(settings, Path(catalog_dir), Path(out_dir))
    all_plans, plans = _plans(ws, catalog, Path(out_dir), shard, only)
    remove_leftovers(ws, plans)
    # 2. A ledger made before seals is sealed as found, once; then skip every variant whose key is
    #    recorded and sealed and whose file is intact (a run killed between recording and sealing
    #    left an unsealed row: that variant is made again). One retired earlier (its locale or
    #    product was dropped, now back) is active again.
    out = Path(out_dir).resolve()
    adopt_unsealed(ws.journal, ws.ledger.engine)
    sealed = sealed_keys(ws.journal, "asset")
    intact = ws.ledger.intact((p.variant_key, p.output_path) for p in plans
                              if asset_key(p.asset_id, output_folder(p.output_path)) in sealed)
    todo = tuple(p for p in plans if (p.variant_key, p.output_path) not in intact)
    # The text of recorded variants made again (their file changed) was not checked by check_run.
    recorded = recorded_keys(settings.ledger_url, out)
    check_text([p for p in todo if p.variant_key in recorded], catalog)
    # Opened now, not by the first variant: a missing key, registry or face model fails the run here
    # (a run with nothing to render uses none of them).
    if todo:
        for _ in (ws.watermark_key, ws.registries, ws.face_models):
            pass
    unchanged = [p for p in plans if (p.variant_key, p.output_path) in intact]
    ws.ledger.activate([p.variant_key for p in unchanged], out)
    # What made each key, so that a later plan can say which input changed (see preview_run).
    ws.ledger.record_inputs({p.variant_key: p.inputs_json for p in todo})
    skipped = tuple(outcome(p, Outcome.SKIPPED) for p in unchanged)
    # 3. Close the rows of runs that were killed holding this render's lock (the caller holds it now).
    scope = run_scope(settings.home, out, shard)
    ws.ledger.close_interrupted(scope)
    run_id = uuid.uuid4().hex
    ws.ledger.start_run(run_id, catalog_identity(catalog_dir), canonical_json(_settings_record(settings)), scope)
    return RunPlan(run_id, all_plans, plans, todo, skipped, catalog_identity(catalog_dir), out)


def _plans(ws: Workspace, catalog: Catalog, out_dir: Path, shard: tuple[int, int] | None,
           only: Selection) -> tuple[tuple[VariantPlan, ...], tuple[VariantPlan, ...]]:
    """Every variant of the catalog (with the reviewers' picks and the rules in force), and this run's."""
    settings = ws.settings
    # The journal (and so the credentials) is opened only when there are takes to pick among.
    picks = lambda set_id: (p.candidate if (p := human_pick(ws.journal, set_id)) else None)  # noqa: E731
    all_plans = plan_variants(catalog, settings.options, out_dir, pick_for=picks,
                              rules_digest=lambda profile: rules_digest(profile, settings.as_of,
                                                                    rules_dir=settings.rules_dirs))
    plans = tuple(p for p in all_plans
                  if (shard is None or shard_of(p.product.sku, shard[1]) == shard[0]) and p in only)
    return all_plans, plans


@dataclass(frozen=True)
class PlannedVariant:
    """One line of a dry run: what a render would do with a variant, and why."""
    asset_id: str
    sku: str
    locale: str
    aspect: str
    action: str          # "render", "skip" or "retire"
    reason: str
    path: str


# How each input of a variant key is named in a dry run's reasons.
INPUT_NAMES = {"headline": "copy.headline", "cta": "copy.cta", "captions": "copy.captions", "price": "copy.price",
               "currency": "copy.price", "photo_sha256": "photo", "duration_s": "product.duration_s",
               "rules": "rule", "rule_profile": "rule", "pick": "pick", "brand": "brand",
               "copy_author": "copy.copy_author",
               "pipeline": "Tessera version", "prompt_templates": "prompt templates"}


def changed_inputs(before: dict, after: dict) -> list[str]:
    """Which inputs differ, by name ("copy.headline", "photo", "rule", "model", "settings", ...)."""
    names: list[str] = []
    for key in sorted(set(before) | set(after)):
        if before.get(key) == after.get(key):
            continue
        if key == "options":
            old, new = before.get(key) or {}, after.get(key) or {}
            model = lambda o: {k: (o.get("diffusion") or {}).get(k) for k in ("model", "revision")}  # noqa: E731
            name = "model" if model(old) != model(new) else "settings"
        else:
            name = INPUT_NAMES.get(key, key)
        if name not in names:
            names.append(name)
    return names


def preview_run(ws: Workspace, catalog: Catalog, out_dir: Path, only: Selection = EVERYTHING) -> tuple[PlannedVariant, ...]:
    """The plan of a render without rendering: per variant render, skip or retire, and why.
    Writes nothing (the catalog is the one check_run returned)."""
    all_plans, plans = _plans(ws, catalog, Path(out_dir), None, only)
    # The recorded variant each (sku, locale, aspect) of this catalog has now in this folder.
    current = {(a.sku, a.locale, a.aspect): a
               for a in ws.ledger.active_assets(catalog=catalog_identity(catalog.root), output_dir=Path(out_dir).resolve())}
    lines: list[PlannedVariant] = []
    intact = ws.ledger.intact((p.variant_key, p.output_path) for p in plans)
    for p in plans:
        line = lambda action, reason: PlannedVariant(p.asset_id, p.spec.sku, p.spec.locale, p.spec.aspect,  # noqa: E731
                                                     action, reason, str(p.output_path))
        recorded = current.get((p.spec.sku, p.spec.locale, p.spec.aspect))
        if (p.variant_key, p.output_path) in intact:
            lines.append(line("skip", "unchanged and intact"))
        elif recorded is None:
            lines.append(line("render", "new: no signed variant recorded"))
        elif recorded.variant_key == p.variant_key:
            lines.append(line("render", "the signed file is missing or its bytes changed"))
        elif (before := ws.ledger.inputs_for(recorded.variant_key)) is None:
            lines.append(line("render", "inputs changed (the recorded variant predates input records)"))
        else:
            changed = changed_inputs(before, json.loads(p.inputs_json))
            lines.append(line("render", ", ".join(f"{name} changed" for name in changed) or "inputs changed"))
    if only.everything:
        planned = {(p.spec.sku, p.spec.locale, p.spec.aspect) for p in all_plans}
        lines += [PlannedVariant(a.asset_id, a.sku, a.locale, a.aspect, "retire", "no longer in the catalog",
                                 str(a.output_path)) for key, a in sorted(current.items()) if key not in planned]
    return tuple(lines)


def remove_leftovers(ws: Workspace, plans: tuple[VariantPlan, ...]) -> None:
    """What a killed earlier run of these variants left: unsigned encodes in the staging folder and
    half-written files beside the outputs. Safe to remove: the caller holds the render lock."""
    for p in plans:
        for leftover in ws.staging_dir.glob(f"{p.asset_id}.*.mp4"):
            leftover.unlink(missing_ok=True)
        if p.output_path.parent.is_dir():
            for leftover in p.output_path.parent.glob(f".{p.output_path.name}.*.part*"):
                leftover.unlink(missing_ok=True)


def open_backend(settings: Settings) -> BaseClipBackend:
    """The run's base-clip backend (a diffusion model is loaded once, here, for every product)."""
    o = settings.options
    if o.backend == "diffusers":
        if o.diffusion is None:
            raise ValueError("backend 'diffusers' needs diffusion settings")
        return DiffusersBackend(o.diffusion, prompt_template=o.prompt_template)
    return MotionBackend(size=o.short_side, fps=o.fps)


def make_takes(ws: Workspace, backend: BaseClipBackend, plan: VariantPlan,
               slot: Callable[[], ContextManager[Any]] = contextlib.nullcontext,
               progress: Progress | None = None) -> tuple[list[BaseClip], list[Take]]:
    """A product's takes, one per candidate seed; each keeps what is needed to judge and replay it.
    slot(): held around each generation (the host's GPU slot for a GPU backend).
    progress: told each generation step ("generating take 1/4: step 12/30"), by a backend that has steps."""
    o = ws.settings.options
    clips, takes = [], []
    for i in range(o.candidates):
        params = backend.take_params(plan.product, plan.brand, o.seed + i)
        on_step = None
        if progress is not None:
            def on_step(step: int, steps: int, take: int = i + 1, report: Progress = progress) -> None:
                report.step(GenerationStep(plan.product.sku, take, o.candidates, step, steps))
        with slot():
            clip = backend.make_clip(params, ws.settings.clip_cache, on_step=on_step)
        name, version = backend.system(clip)
        clips.append(clip)
        takes.append(Take(i, clip.key, name, version, params, tuple(frame_hashes(clip.path))))
    return clips, takes


def choose_take(ws: Workspace, plan: VariantPlan, clips: list[BaseClip],
                takes: list[Take]) -> tuple[BaseClip, Pick] | str:
    """A reviewer's pick, else the automatic one (recorded as such); or, when review is required and
    nobody picked yet, the reason the product's variants wait."""
    if len(takes) > 1:
        write_candidate_sheets(ws.candidates_dir / plan.candidate_set, clips, plan.product.sku, plan.spec)
    if plan.pick is not None:
        pick = human_pick(ws.journal, plan.candidate_set)
        if pick is None:
            raise RuntimeError(f"{plan.candidate_set}: the plan has a pick the journal does not")
    elif len(takes) > 1 and ws.settings.options.require_review:
        return (f"awaiting a pick among {len(takes)} takes: tessera review pick {plan.candidate_set} "
                f"--candidate N --by NAME")
    else:
        pick = Pick(0, AUTO_PICKER, "system", "unattended run: the first take is used automatically")
    return clips[pick.candidate], pick


def assess(ws: Workspace, base: BaseClip) -> BaseAssessment:
    """Likeness and protected-works evidence of the chosen take, gathered once for all its variants."""
    from compliance.assess import assess_base_clip

    return assess_base_clip(base, registries=ws.registries, models=ws.face_models)


def finish_run(ws: Workspace, run: RunPlan, outcomes: list[VariantOutcome], stage: dict[str, float],
               started: float, *, retire: bool, progress: Callable[[str], None]) -> RunSummary:
    """Retire what the catalog no longer has (whole-catalog runs only), close the run in the ledger."""
    if retire:
        retired = ws.ledger.retire_absent({(p.spec.sku, p.spec.locale, p.spec.aspect) for p in run.all_plans},
                                          catalog=run.catalog, output_dir=run.out_dir)
        if retired:
            progress(f"retired {len(retired)} assets no longer in the catalog (files kept)")
    counts = {s.value: sum(o.status == s for o in outcomes) for s in Outcome}
    ws.ledger.finish_run(run.run_id, status="failed" if counts["failed"] else "completed",
                         rendered=counts["rendered"], skipped=counts["skipped"], failed=counts["failed"])
    order = {p.asset_id: i for i, p in enumerate(run.plans)}
    return RunSummary(run_id=run.run_id, seconds=time.perf_counter() - started, stage_seconds=stage,
                      outcomes=tuple(sorted(outcomes, key=lambda o: order[o.asset_id])), **counts)


def _settings_record(settings: Settings) -> dict:
    """The run's settings as the ledger keeps them: the database URL with its password hidden."""
    d = asdict(settings)
    d["ledger_url"] = redacted_url(settings.ledger_url)
    d["signing"] = {k: (str(v) if v else None) for k, v in asdict(settings.signing).items()}
    return d
