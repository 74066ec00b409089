"""The per-variant pipeline: decide, compose and mark, verify, journal, manifest, then sign or hold.

`render_one` is what every door runs for one planned variant once its product's take is
chosen and assessed; it returns a VariantOutcome and never raises for the variant's own
problems (a blocked or held variant is an outcome). A failed encode or signature raises:
the caller records the variant as failed with that reason (fail closed, no retry here).
"""
from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, replace

from compliance.authorship import AUTHORSHIP_LABEL, authorship_assertion
from compliance import (
    BaseAssessment, ai_flags, apply_labels, decide, gate_report, hold_for_review, publish_block, quarantine,
    supersede_review, verify_shipped, with_compliance,
)
from compliance.record import InputRecord, Pick, Take, record_decisions
from foundation.primitives import Outcome, pipeline_version, sha256_file
from foundation.records import BaseClip, FrameHook
from generation import render_variant, text_regions
from generation.plan import VariantPlan
from pipeline.outcome import VariantOutcome, outcome
from pipeline.manifest import generative_system, photo_used, photoreal, source_type_of, variant_manifest
from provenance.inputs import InputProvenance, input_provenance
from pipeline.publish import Publication, publish
from pipeline.workspace import Workspace
from provenance.soft_binding import durable_marks, manifest_parts
from provenance.watermark import payload_for_asset

__all__ = ["APPROVAL_REQUIRED", "ChosenTake", "VariantOutcome", "outcome", "render_one"]

# Why a variant that passed every check is held: the catalog requires a person to approve each one.
APPROVAL_REQUIRED = ("review required (--require-review): a person approves each variant before it is signed "
                     "and published (tessera review approve ASSET_ID --by NAME)")


@dataclass(frozen=True)
class ChosenTake:
    """A product's base clip as chosen (a person's or the automatic pick), with the evidence about it."""
    base: BaseClip
    takes: tuple[Take, ...]
    pick: Pick
    assessment: BaseAssessment


def render_one(ws: Workspace, plan: VariantPlan, chosen: ChosenTake, run_id: str) -> VariantOutcome:
    settings, base = ws.settings, chosen.base
    times: dict[str, float] = {"watermark_fingerprint": 0.0}
    staging = ws.staging_dir / f"{plan.asset_id}.{uuid.uuid4().hex[:8]}.mp4"
    staging.parent.mkdir(parents=True, exist_ok=True)
    try:
        # 1. What the region asks of this variant: labels, metadata, likeness verdict for region, product, date.
        t0 = time.perf_counter()
        photo = (input_provenance(plan.product.photo, ws.trust_anchors, catalog_source=plan.product.photo_source)
                 if photo_used(base) else None)
        logo = (input_provenance(plan.brand.logo, ws.trust_anchors, catalog_source=plan.brand.logo_source,
                                 catalog_field="logo_source") if plan.brand.logo else None)
        music = (input_provenance(plan.brand.music, ws.trust_anchors, catalog_source=plan.brand.music_source,
                                  catalog_field="music_source") if plan.brand.music else None)
        source_type = source_type_of(base, photo, music)
        # a model conditioned on the photo (i2v) altered it: AI-modified when the photo is a capture
        conditioned_on = photo.source_type if photo is not None and base.backend != "motion" else None
        ai_generated, ai_modified = ai_flags(source_type.value if source_type else None, conditioned_on=conditioned_on)
        decision = decide(chosen.assessment, region_profile=plan.locale.rule_profile, region=plan.locale.region,
                          language=plan.locale.language, sku=plan.spec.sku, as_of=settings.as_of,
                          ai_generated=ai_generated, ai_modified=ai_modified, asset_id=plan.asset_id,
                          photoreal_objects_or_scenes=photoreal(base), advertising=True,   # every variant is an ad
                          provider=plan.brand.name, system="Tessera", system_version=pipeline_version(),
                          digital_source_type=source_type.value if source_type else None,
                          generative_system=generative_system(base, photo), rules_dir=settings.rules_dirs)
        spec = apply_labels(plan.spec, decision)
        times["gate_decide"] = time.perf_counter() - t0
        # 2. Compose, watermark and fingerprint the raw frames, then encode once (unsigned, outside the output).
        marks = durable_marks(payload_for_asset(plan.asset_id), ws.watermark_key, base.fps,
                              text_regions=text_regions(spec))
        t0 = time.perf_counter()
        rendered = render_variant(base, spec, staging, frame_hook=_timed(marks.hook, times, "watermark_fingerprint"),
                                  crf=settings.options.crf, preset=settings.options.preset,
                                  keyframe_s=settings.options.keyframe_s, metadata=decision.mp4_metadata,
                                  audio=plan.brand.music)
        times["compose_encode"] = time.perf_counter() - t0 - times["watermark_fingerprint"]
        # 3. Check what will ship: labels on decoded frames, metadata read back.
        t0 = time.perf_counter()
        check = verify_shipped(staging, decision, spec=spec)
        if check.verdict == "pass" and settings.options.require_review:
            check = replace(check, verdict="review", reasons=(*check.reasons, APPROVAL_REQUIRED))
        times["gate_verify"] = time.perf_counter() - t0
        if check.verdict == "block":
            quarantine(staging, quarantine_dir=ws.quarantine_dir,
                       report=gate_report(decision, check, extra={"run_id": run_id,
                                                                  "output_path": str(plan.output_path)}))
            supersede_review(ws.review_dir, plan.asset_id, verdict="block")   # an older hold is not approvable
            return outcome(plan, Outcome.BLOCKED, "; ".join(check.reasons), times)
        # 4. The decisions behind it go into the journal first, so the manifest can cite the journal head.
        t0 = time.perf_counter()
        record_decisions(ws.journal, variant_key=plan.variant_key, asset_id=plan.asset_id, takes=list(chosen.takes),
                         pick=chosen.pick, copy={"headline": plan.spec.headline, "cta": plan.spec.cta,
                                                 "captions": " | ".join(plan.spec.captions)},
                         copy_author=plan.copy_author, copy_row=plan.copy_row,
                         photo_sha256=plan.photo_sha256 if photo is not None else None,
                         sku=plan.spec.sku, locale=plan.spec.locale,
                         footage_source_type=source_type.value if source_type else None,
                         inputs=input_records(plan, base, photo, logo, music), brand=brand_record(plan))
        authorship = (AUTHORSHIP_LABEL, json.dumps(authorship_assertion(ws.journal, plan.variant_key)))
        times["journal"] = time.perf_counter() - t0
        # 5. The manifest: what happened, the soft bindings (watermark payload, fingerprints) that find it
        #    again if the file loses it, the region's fields.
        t_manifest = time.perf_counter()
        watermarked, soft = manifest_parts(marks, duration_ms=rendered.frames * 1000 // rendered.fps)
        manifest = with_compliance(variant_manifest(plan, base, rendered, extra_actions=(watermarked,),
                                                    extra_assertions=soft + (authorship,), photo=photo,
                                                    logo=logo, music=music), decision)
        pub = Publication(asset_id=plan.asset_id, variant_key=plan.variant_key, run_id=run_id, sku=plan.spec.sku,
                          locale=plan.spec.locale, aspect=plan.spec.aspect, base_clip_key=base.key,
                          output_path=plan.output_path, watermark_payload=marks.payload,
                          fingerprints=tuple(marks.recorder.hashes), text_prints=marks.recorder.text_prints())
        # 6. Hold it unsigned until a person approves it (tessera review approve publishes it), or publish.
        if check.verdict == "review":
            extra = {"run_id": run_id, "output_path": str(plan.output_path),
                     "publish": publish_block(output_path=plan.output_path, manifest=manifest, record=pub.to_record())}
            hold_for_review(staging, review_dir=ws.review_dir, report=gate_report(decision, check, extra=extra))
            return outcome(plan, Outcome.REVIEW, "; ".join(check.reasons), times)
        times["sign"] = time.perf_counter() - t_manifest
        publish(ws, staging, manifest, pub, times=times)
        supersede_review(ws.review_dir, plan.asset_id, verdict="pass")
    finally:
        staging.unlink(missing_ok=True)
    return outcome(plan, Outcome.RENDERED, seconds=times)


def input_records(plan: VariantPlan, base: BaseClip, photo: InputProvenance | None,
                  logo: InputProvenance | None, music: InputProvenance | None = None) -> tuple[InputRecord, ...]:
    """The variant's input files for the journal: the product photo where it is an input (photo_used), the
    brand logo the brand kit names (read for its provenance; Tessera does not draw it into the frames), the
    music bed (the audio track)."""
    out = []
    if photo is not None:
        if base.backend == "motion":
            in_frames, use = True, "its pixels are in every frame (a virtual camera move over it)"
        elif json.loads(base.params_json).get("composited_photo"):
            in_frames, use = True, "the image-to-video model's conditioning image, composited into the frames"
        else:
            in_frames, use = False, "the image-to-video model's conditioning image; its pixels are not in the frames"
        out.append(InputRecord("product photo", plan.product.photo.name, plan.photo_sha256, photo.to_dict(),
                               plan.product.photo_owner, plan.product.photo_licence,
                               f"products.csv row {plan.product.row}", in_frames, use))
    if logo is not None and plan.brand.logo is not None:
        out.append(InputRecord("brand logo", plan.brand.logo.name, sha256_file(plan.brand.logo), logo.to_dict(),
                               plan.brand.logo_owner, plan.brand.logo_licence, "brand.json", False,
                               "named by the brand kit; not drawn into the frames"))
    if music is not None and plan.brand.music is not None:
        out.append(InputRecord("music bed", plan.brand.music.name, sha256_file(plan.brand.music), music.to_dict(),
                               plan.brand.music_owner, plan.brand.music_licence, "brand.json", True,
                               "the audio track: trimmed to the variant, faded and loudness-normalised"))
    return tuple(out)


def brand_record(plan: VariantPlan) -> dict:
    """The brand kit and aspect ratio the layout applies, as the catalog records them."""
    b = plan.brand
    return {"name": b.name, "primary_color": b.primary_color, "secondary_color": b.secondary_color,
            "text_color": b.text_color, "font_family": b.font_family, "author": str(b.author),
            "aspect": plan.spec.aspect, "aspect_catalog": f"locales.csv row {plan.locale.row}"}


def _timed(hook: FrameHook, times: dict[str, float], name: str) -> FrameHook:
    """The same hook, its thread CPU time summed under times[name]: a wall clock around it would
    also count the time this thread waits for a core while ffmpeg decodes and encodes."""
    def timed(i, frame):
        t0 = time.thread_time()
        out = hook(i, frame)
        times[name] += time.thread_time() - t0
        return out
    return timed
