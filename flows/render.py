"""The render flow: catalog in, signed variants out, each step recorded in the ledger.

Reads top to bottom: load and check the catalog, plan the variant matrix, skip what
the ledger already has intact, make one base clip per product, then compose, sign and
record every remaining variant. Retries and the worker cap live here and only here.
"""
from __future__ import annotations

import hashlib
import json
import time
import uuid
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import as_completed
from prefect.task_runners import ThreadPoolTaskRunner

from catalogs import load_catalog
from compliance.authorship import AUTHORSHIP_LABEL, authorship_assertion, frame_hashes
from compliance.journal import Journal
from compliance.record import AUTO_PICKER, Pick, Take, human_pick, record_decisions, record_publication
from compliance.gate import (
    BaseAssessment, Registries, ai_flags, apply_labels, assess_base_clip, decide, gate_report, hold_for_review,
    open_registries, publish_block, quarantine, rules_digest, supersede_review, verify_shipped, with_compliance,
)
from compliance.likeness import FaceModels
from compliance.rules import known_profiles
from generation import check_variant_text, make_base_clip, render_variant
from generation.contact_sheet import write_candidate_sheets
from foundation.primitives import canonical_json, pipeline_version, sha256_file
from generation.plan import VariantPlan, plan_variants
from generation.prompts import product_prompt
from foundation.records import BaseClip
from flows.gpu import ensure_gpu_limit, gpu_slot, require_gpu_limit
from flows.settings import Settings
from provenance import Credentials, load_credentials, sign_file, watermark_key
from provenance.soft_binding import SoftBindingStore, durable_marks, manifest_parts
from provenance.watermark import payload_for_asset
from provenance.ledger import AssetRecord, Ledger
from pipeline.manifest import variant_manifest


# Why a variant that passed every check is held: the catalog requires a person to approve each one.
APPROVAL_REQUIRED = ("review required (--require-review): a person approves each variant before it is signed "
                     "and published (tessera review approve ASSET_ID --by NAME)")


@dataclass(frozen=True)
class VariantOutcome:
    asset_id: str
    sku: str
    locale: str
    aspect: str
    status: str                       # rendered, skipped, awaiting_pick, review, blocked, failed
    path: str
    reason: str = ""
    seconds: dict[str, float] = field(default_factory=dict)


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

    def to_dict(self) -> dict:
        return asdict(self)


@task(retries=1, retry_delay_seconds=1, cache_policy=NO_CACHE)
def base_clip_task(plan: VariantPlan, settings: Settings, model=None) -> tuple[list[BaseClip], list[Take], float]:
    """A product's takes (one per candidate seed): the CPU motion backend, or the loaded diffusion
    model under the host's GPU slot. Each take keeps what is needed to replay it."""
    t0 = time.perf_counter()
    o = settings.options
    clips, takes = [], []
    for i in range(o.candidates):
        seed = o.seed + i
        if model is None:
            clip = make_base_clip(plan.product.photo, cache_dir=settings.clip_cache, size=o.short_side,
                                  fps=o.fps, duration_s=plan.product.duration_s, seed=seed)
            params = {"backend": "motion", "photo": str(plan.product.photo), "size": o.short_side, "fps": o.fps,
                      "duration_s": plan.product.duration_s, "seed": seed}
            name, version = "tessera-motion", pipeline_version()
        else:
            prompt = product_prompt(o.prompt_template, plan.product, plan.brand)
            image = plan.product.photo if o.diffusion.task == "i2v" else None
            with gpu_slot():
                clip = model.make_base_clip(prompt=prompt.prompt, negative_prompt=prompt.negative_prompt,
                                            image=image, seed=seed, cache_dir=settings.clip_cache)
            params = {"backend": "diffusers", "settings": asdict(o.diffusion), "prompt": prompt.prompt,
                      "negative_prompt": prompt.negative_prompt, "template": prompt.template_id,
                      "image": str(image) if image else None, "seed": seed}
            name, version = o.diffusion.model, o.diffusion.revision or json.loads(clip.params_json)["model"].get(
                "folder_sha256", "")
        clips.append(clip)
        takes.append(Take(i, clip.key, name, version, params, tuple(frame_hashes(clip.path))))
    return clips, takes, time.perf_counter() - t0


@task(retries=1, retry_delay_seconds=1, cache_policy=NO_CACHE)
def assess_task(base: BaseClip, registries: Registries, face_models: FaceModels) -> tuple[BaseAssessment, float]:
    """Likeness and protected-works evidence of the chosen take, gathered once for all its variants."""
    t0 = time.perf_counter()
    return assess_base_clip(base, registries=registries, models=face_models), time.perf_counter() - t0


# No retry: a failed signature or encode fails the variant with its reason (fail closed).
@task(cache_policy=NO_CACHE)
def variant_task(plan: VariantPlan, base: BaseClip, takes: list[Take], pick: Pick, assessment: BaseAssessment,
                 creds: Credentials, wm_key: bytes, settings: Settings, run_id: str) -> VariantOutcome:
    times: dict[str, float] = {"watermark_fingerprint": 0.0}
    staging = settings.home / "cache" / "staging" / f"{plan.asset_id}.{uuid.uuid4().hex[:8]}.mp4"
    staging.parent.mkdir(parents=True, exist_ok=True)
    try:
        # 1. What the region asks of this variant: labels, metadata, likeness verdict for region, product, date.
        t0 = time.perf_counter()
        ai_generated, ai_modified = ai_flags(base.digital_source_type)
        decision = decide(assessment, region_profile=plan.locale.rule_profile, region=plan.locale.region,
                          language=plan.locale.language, sku=plan.spec.sku, as_of=settings.as_of,
                          ai_generated=ai_generated, ai_modified=ai_modified, asset_id=plan.asset_id,
                          provider=plan.brand.name, system="Tessera", system_version=pipeline_version(),
                          digital_source_type=base.digital_source_type)
        spec = apply_labels(plan.spec, decision)
        times["gate_decide"] = time.perf_counter() - t0
        # 2. Compose, watermark and fingerprint the raw frames, then encode once (unsigned, outside the output).
        marks = durable_marks(payload_for_asset(plan.asset_id), wm_key, base.fps)
        t0 = time.perf_counter()
        rendered = render_variant(base, spec, staging, frame_hook=_timed(marks.hook, times, "watermark_fingerprint"),
                                  crf=settings.options.crf, preset=settings.options.preset,
                                  metadata=decision.mp4_metadata)
        times["compose_encode"] = time.perf_counter() - t0 - times["watermark_fingerprint"]
        # 3. Check what will ship: labels on decoded frames, metadata read back.
        t0 = time.perf_counter()
        check = verify_shipped(staging, decision, spec=spec)
        if check.verdict == "pass" and settings.options.require_review:
            check = replace(check, verdict="review", reasons=(*check.reasons, APPROVAL_REQUIRED))
        times["gate_verify"] = time.perf_counter() - t0
        if check.verdict == "block":
            quarantine(staging, quarantine_dir=settings.quarantine_dir,
                       report=gate_report(decision, check, extra={"run_id": run_id, "output_path": str(plan.output_path)}))
            supersede_review(settings.review_dir, plan.asset_id, verdict="block")   # an older hold is not approvable
            return _outcome(plan, "blocked", "; ".join(check.reasons), times)
        # 4. The decisions behind it go into the journal first, so the manifest can cite the journal head.
        t0 = time.perf_counter()
        ledger = Ledger(settings.ledger_url)
        journal = Journal.from_credentials(ledger.engine, creds)
        record_decisions(journal, variant_key=plan.variant_key, asset_id=plan.asset_id, takes=takes, pick=pick,
                         copy={"headline": plan.spec.headline, "cta": plan.spec.cta,
                               "captions": " | ".join(plan.spec.captions)},
                         copy_source=f"copy author (catalog copy row {plan.copy_row}, {plan.spec.locale})",
                         photo_sha256=plan.photo_sha256, sku=plan.spec.sku, locale=plan.spec.locale)
        authorship = (AUTHORSHIP_LABEL, json.dumps(authorship_assertion(journal, plan.variant_key)))
        times["journal"] = time.perf_counter() - t0
        # 5. The manifest: what happened, the soft bindings (watermark payload, fingerprints) that find it
        #    again if the file loses it, the region's fields; then hold it for review, or sign it into the
        #    output folder (the hard binding covers these final bytes).
        t0 = time.perf_counter()
        watermarked, soft = manifest_parts(marks, duration_ms=rendered.frames * 1000 // rendered.fps)
        manifest = with_compliance(variant_manifest(plan, base, rendered, extra_actions=(watermarked,),
                                                    extra_assertions=soft + (authorship,)), decision)
        if check.verdict == "review":
            # Held unsigned until a person approves it (tessera review approve signs and publishes it).
            record = dict(variant_key=plan.variant_key, run_id=run_id, sku=plan.spec.sku, locale=plan.spec.locale,
                          aspect=plan.spec.aspect, base_clip_key=base.key,
                          soft_bindings={"payload": f"{marks.payload:016x}",
                                         "hashes": [f"{h:016x}" for h in marks.recorder.hashes]})
            extra = {"run_id": run_id, "output_path": str(plan.output_path),
                     "publish": publish_block(output_path=plan.output_path, manifest=manifest, record=record)}
            hold_for_review(staging, review_dir=settings.review_dir, report=gate_report(decision, check, extra=extra))
            return _outcome(plan, "review", "; ".join(check.reasons), times)
        plan.output_path.parent.mkdir(parents=True, exist_ok=True)
        signed = sign_file(staging, plan.output_path, manifest, creds)
        supersede_review(settings.review_dir, plan.asset_id, verdict="pass")
        times["sign"] = time.perf_counter() - t0
        # 6. Record the asset, a copy of its manifest, its soft bindings and its publication.
        t0 = time.perf_counter()
        rec = AssetRecord(asset_id=plan.asset_id, variant_key=plan.variant_key, run_id=run_id, sku=plan.spec.sku,
                          locale=plan.spec.locale, aspect=plan.spec.aspect, output_path=plan.output_path,
                          sha256=sha256_file(plan.output_path), manifest_label=signed.label,
                          base_clip_key=base.key, created_at=_utcnow())
        ledger.record_asset(rec, signed.label, signed.manifest_json)
        SoftBindingStore(ledger.engine).record(plan.asset_id, marks.payload, marks.recorder.hashes)
        record_publication(journal, variant_key=plan.variant_key, asset_id=plan.asset_id, output_sha256=rec.sha256,
                           output_path=plan.output_path)
        times["record"] = time.perf_counter() - t0
    finally:
        staging.unlink(missing_ok=True)
    return _outcome(plan, "rendered", seconds=times)


@flow(name="tessera-render", validate_parameters=False, task_runner=ThreadPoolTaskRunner(max_workers=2))
def render_catalog(catalog_dir: Path, out_dir: Path, settings: Settings, progress=None,
                   shard: tuple[int, int] | None = None) -> RunSummary:
    """Render a catalog; with shard=(i, n) only the products whose shard is i (of n), and no retiring."""
    started = time.perf_counter()
    progress = progress or (lambda line: None)
    stage: dict[str, float] = {}

    # 1. Load and check everything before any output exists.
    t0 = time.perf_counter()
    catalog = load_catalog(Path(catalog_dir), known_profiles=known_profiles())
    creds = load_credentials(settings.signing)
    ledger = Ledger(settings.ledger_url)
    journal = Journal.from_credentials(ledger.engine, creds)
    picks = lambda set_id: (p.candidate if (p := human_pick(journal, set_id)) else None)
    all_plans = plan_variants(catalog, settings.options, Path(out_dir), pick_for=picks,
                              rules_digest=lambda profile: rules_digest(profile, settings.as_of))
    plans = tuple(p for p in all_plans if shard is None or shard_of(p.product.sku, shard[1]) == shard[0])
    wm_key = watermark_key(settings.signing)
    registries = open_registries(ledger.engine)
    face_models = FaceModels.load()     # LikenessModelError: nothing could be checked, so the run fails
    if settings.options.backend == "diffusers":
        require_gpu_limit()          # strict: a host without its limit fails here, not unthrottled later
    stage["plan"] = time.perf_counter() - t0

    # 2. Skip every variant whose key is recorded and whose file is intact.
    todo = [p for p in plans if not ledger.is_intact(p.variant_key, p.output_path)]
    for plan in todo:
        check_variant_text(plan.spec)     # glyphs and fit of everything to render, before any output
    skipped = [_outcome(p, "skipped") for p in plans if p not in todo]
    run_id = uuid.uuid4().hex
    ledger.start_run(run_id, str(Path(catalog_dir).resolve()), canonical_json(_settings_record(settings)))
    progress(f"{len(plans)} variants planned: {len(todo)} to render, {len(skipped)} unchanged")

    outcomes: list[VariantOutcome] = list(skipped)
    # 3. One base clip per product, shared by all of its locales and aspect ratios.
    first_plan = {p.product.sku: p for p in reversed(todo)}
    model = _load_model(settings) if first_plan and settings.options.backend == "diffusers" else None
    base_futures = {sku: base_clip_task.submit(p, settings, model) for sku, p in first_plan.items()}
    chosen: dict[str, tuple[BaseClip, list[Take], Pick]] = {}
    stage["base_clip"] = 0.0
    for sku, fut in base_futures.items():
        value = fut.result(raise_on_failure=False)
        mine = [p for p in todo if p.product.sku == sku]
        if isinstance(value, BaseException):
            outcomes += [_outcome(p, "failed", f"base clip: {_reason(value)}") for p in mine]
            continue
        clips, takes, secs = value
        stage["base_clip"] += secs
        # 3b. Which take: a reviewer's pick, else an automatic one (recorded as such), unless review is required.
        plan = first_plan[sku]
        if len(takes) > 1:
            write_candidate_sheets(settings.home / "candidates" / plan.candidate_set, clips, sku)
        if plan.pick is not None:
            pick = human_pick(journal, plan.candidate_set)
        elif len(takes) > 1 and settings.options.require_review:
            reason = (f"awaiting a pick among {len(takes)} takes: tessera review pick {plan.candidate_set} "
                      f"--candidate N --by NAME")
            outcomes += [_outcome(p, "awaiting_pick", reason) for p in mine]
            continue
        else:
            pick = Pick(0, AUTO_PICKER, "system", "unattended run: the first take is used automatically")
        chosen[sku] = (clips[pick.candidate], takes, pick)

    # 3c. Likeness and protected-works evidence, once per chosen take.
    assessments = {sku: assess_task.submit(base, registries, face_models) for sku, (base, _, _) in chosen.items()}
    stage["gate_assess"] = 0.0
    for sku, fut in assessments.items():
        value = fut.result(raise_on_failure=False)
        if isinstance(value, BaseException):
            outcomes += [_outcome(p, "failed", f"compliance check: {_reason(value)}")
                         for p in todo if p.product.sku == sku]
            del chosen[sku]
            continue
        chosen[sku] = (*chosen[sku], value[0])
        stage["gate_assess"] += value[1]

    # 4. Compose, sign and record each variant; report progress as they finish.
    futures = {variant_task.submit(p, *chosen[p.product.sku], creds, wm_key, settings, run_id): p
               for p in todo if p.product.sku in chosen}
    done = len(plans) - len(futures)
    for fut in as_completed(list(futures)):
        p = futures[fut]
        done += 1
        out = fut.result(raise_on_failure=False)
        if isinstance(out, BaseException):
            out = _outcome(p, "failed", _reason(out))
        for k, v in out.seconds.items():
            stage[k] = stage.get(k, 0.0) + v
        outcomes.append(out)
        progress(f"[{done}/{len(plans)}] {out.status:8} {out.sku} {out.locale} {out.aspect}"
                 + (f": {out.reason}" if out.reason else ""))

    # 5. Retire assets of products, locales or aspect ratios the catalog no longer has (files are kept).
    if shard is None:
        retired = ledger.retire_absent({(p.spec.sku, p.spec.locale, p.spec.aspect) for p in all_plans})
        if retired:
            progress(f"retired {len(retired)} assets no longer in the catalog (files kept)")

    # 6. Close the run in the ledger.
    counts = {s: sum(o.status == s for o in outcomes)
              for s in ("rendered", "skipped", "awaiting_pick", "review", "blocked", "failed")}
    ledger.finish_run(run_id, status="failed" if counts["failed"] else "completed",
                      rendered=counts["rendered"], skipped=counts["skipped"], failed=counts["failed"])
    order = {p.asset_id: i for i, p in enumerate(plans)}
    return RunSummary(run_id=run_id, seconds=time.perf_counter() - started, stage_seconds=stage,
                      outcomes=tuple(sorted(outcomes, key=lambda o: order[o.asset_id])), **counts)


def _outcome(plan: VariantPlan, status: str, reason: str = "", seconds: dict | None = None) -> VariantOutcome:
    return VariantOutcome(plan.asset_id, plan.spec.sku, plan.spec.locale, plan.spec.aspect, status,
                          str(plan.output_path), reason=reason, seconds=seconds or {})


def _timed(hook, times: dict[str, float], name: str):
    """The same hook, its thread CPU time summed under times[name]: a wall clock around it would
    also count the time this thread waits for a core while ffmpeg decodes and encodes."""
    def timed(i, frame):
        t0 = time.thread_time()
        out = hook(i, frame)
        times[name] += time.thread_time() - t0
        return out
    return timed


def _load_model(settings: Settings):
    """The diffusion pipeline, loaded once per run and shared by every base clip of it."""
    from generation.diffusion import DiffusionBackend   # torch is imported only for this backend
    return DiffusionBackend(settings.options.diffusion)


def shard_of(sku: str, shards: int) -> int:
    """Stable shard of a product: all variants of a product share one host and its base clip."""
    return int(hashlib.sha256(sku.encode()).hexdigest(), 16) % shards


def _reason(exc: BaseException) -> str:
    """The failed task's own exception is the reason we report."""
    return f"{type(exc).__name__}: {exc}"


def _settings_record(settings: Settings) -> dict:
    d = asdict(settings)
    d["signing"] = {k: (str(v) if v else None) for k, v in asdict(settings.signing).items()}
    return d


def _utcnow():
    from datetime import datetime, timezone
    return datetime.now(timezone.utc)


def run_render(catalog_dir: Path, out_dir: Path, settings: Settings, progress=print,
               shard: tuple[int, int] | None = None) -> RunSummary:
    """Entry point on one machine: the worker cap comes from the settings of this run, and Tessera
    creates this host's GPU limit (one job at a time) when the diffusion backend is used."""
    if settings.options.backend == "diffusers":
        ensure_gpu_limit(1)
    runner = ThreadPoolTaskRunner(max_workers=settings.workers)
    return render_catalog.with_options(task_runner=runner)(catalog_dir, out_dir, settings, progress, shard)
