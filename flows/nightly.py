"""The nightly render: the whole catalog, only what changed, fanned out across GPU hosts.

`nightly_render` plans the catalog, starts one `render-shard` deployment run per shard (each a
subflow run that a worker on the GPU work pool picks up), waits for all of them (one failing
does not stop the others), retires what the catalog no longer has, rechecks every published
asset of the catalog and output folder against today's registries and rules (withdrawing what
no longer passes), audits the output and publishes Prefect artifacts: progress while it runs
(moved after each variant of any shard), a table of every variant, a table of the assets the
recheck withdrew, a summary.
A rerun renders only what is missing: the render flow skips every intact variant.

`render_shard` is one shard: `run_render` limited to the products with `shard_of(sku, n) == i`.
`audit_media` is the on-demand audit, also run by the nightly flow at the end; `recheck_published`
the recheck (pipeline.recheck), run by the nightly flow before it.
"""
from __future__ import annotations

import json
import os
import re
import socket
import time
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any
from uuid import UUID

from prefect import flow, get_run_logger
from prefect.artifacts import (
    create_markdown_artifact, create_progress_artifact, create_table_artifact, update_progress_artifact,
)
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey, FlowRunFilter, FlowRunFilterId,
)
from prefect.client.schemas.objects import FlowRun
from prefect.client.schemas.sorting import ArtifactSort
from prefect.deployments import run_deployment
from prefect.states import Cancelled, Cancelling
from pydantic import BaseModel, ConfigDict, field_validator

from catalogs import load_catalog
from compliance.rules import known_profiles
from flows.render import run_render
from foundation.primitives import Outcome, write_json_atomic
from generation.plan import RenderOptions, VariantPlan, plan_variants
from pipeline.audit import audit, audit_counts
from pipeline.progress import Count, GenerationStep, Lines, Progress, VariantDone, as_progress
from pipeline.recheck import recheck
from pipeline.render import catalog_identity, preview_run, shard_of
from pipeline.settings import Settings
from pipeline.workspace import Workspace
from provenance.ledger import Ledger, redacted_url

SHARD_DEPLOYMENT = "tessera-render-shard/render-shard"
SHARD_TIMEOUT_S = 6 * 3600          # one shard of a large catalog on one GPU
SHARD_WAIT_S = 16 * 3600            # queue time + a shard, its retry, and margin
NIGHTLY_TIMEOUT_S = 20 * 3600       # below 24 h: one night never runs into the next
POLL_S = 1.0   # a shard's progress shows within a second; two small reads of the local API per poll
SHARD_PROGRESS = "shard-progress"   # each shard run's own progress artifact, moved after each of its variants
WITHDRAWN_ARTIFACT = "withdrawn-assets"   # the recheck's table: each asset withdrawn, why, where its file went
STATUSES = tuple(s.value for s in Outcome)   # as render_catalog reports


class RenderJob(BaseModel):
    """What a nightly or shard run renders, as plain JSON-able deployment parameters."""
    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)   # an input may be a URL with a password

    catalog: Path
    out: Path
    home: Path
    # The NAME of the environment variable holding the ledger URL (e.g. TESSERA_LEDGER_URL), never
    # the URL: deployment parameters are stored in Prefect's database and shown in its UI, and a
    # URL carries the database password. None: the SQLite ledger in the home.
    ledger_url_env: str | None = None
    short_side: int = 720
    workers: int = 2                 # variants composed at once inside one shard
    as_of: date | None = None        # rules in force on this date; the nightly pins it for all shards
    backend: str = "motion"          # "motion" (CPU, from photos) or "diffusers" (GPU)
    diffusion: dict[str, Any] | None = None   # DiffusionSettings fields, with backend "diffusers"
    candidates: int = 1              # takes per base clip; with more than 1 an automatic pick is recorded as such
    cert_chain: Path | None = None
    private_key: Path | None = None
    tsa_url: str | None = None

    @field_validator("ledger_url_env")
    @classmethod
    def _an_env_name(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
            shown = redacted_url(value) if "://" in value else value
            raise ValueError(f"ledger_url_env must name an environment variable (e.g. TESSERA_LEDGER_URL), "
                             f"got {shown!r}")
        return value

    def ledger_url(self) -> str | None:
        """The URL from the named variable, read where the run starts (this host's environment)."""
        return ledger_url_from_env(self.ledger_url_env)

    def settings(self) -> Settings:
        diffusion = None
        if self.backend == "diffusers":
            from generation.diffusion import DiffusionSettings   # imports torch: only for this backend
            if not self.diffusion or "model" not in self.diffusion:
                raise ValueError("backend 'diffusers' needs diffusion settings with at least a model")
            diffusion = DiffusionSettings(**self.diffusion)
        options = RenderOptions(short_side=self.short_side, backend=self.backend, diffusion=diffusion,
                                candidates=self.candidates)
        return Settings.build(home=self.home, ledger_url=self.ledger_url(), cert_chain=self.cert_chain,
                              private_key=self.private_key, tsa_url=self.tsa_url, options=options,
                              workers=self.workers, as_of=self.as_of or date.today())


def ledger_url_from_env(name: str | None) -> str | None:
    """The ledger URL held by environment variable `name` (None: the home's SQLite ledger)."""
    if name is None:
        return None
    value = os.environ.get(name)
    if not value:
        raise ValueError(f"environment variable {name} (the ledger URL) is not set on this host")
    return value


class NightlyFailed(RuntimeError):
    """Raised at the end of a nightly run (after its artifacts exist) when anything failed."""


# Retried once when it raises (a lost database connection, a full disk): the retry renders only
# what the first try did not finish. A crashed process is not retried; the next night picks it up.
@flow(name="tessera-render-shard", retries=1, retry_delay_seconds=60, timeout_seconds=SHARD_TIMEOUT_S,
      persist_result=True, result_serializer="json")
def render_shard(job: RenderJob, shard_index: int, shards: int) -> dict[str, Any]:
    """Render the products of shard `shard_index` of `shards`; retiring is left to the nightly flow."""
    if not 0 <= shard_index < shards:
        raise ValueError(f"shard_index must be in 0..{shards - 1}, got {shard_index}")
    logger = get_run_logger()
    progress = ShardProgress(logger.info, create_progress_artifact(
        0.0, key=SHARD_PROGRESS, description=f"variants of shard {shard_index} of {shards} done"))
    summary = run_render(job.catalog, job.out, job.settings(), progress=progress, shard=(shard_index, shards))
    logger.info(f"shard {shard_index}/{shards}: {summary.rendered} rendered, {summary.skipped} skipped, "
                f"{summary.failed} failed in {summary.seconds:.1f} s")
    # Where it ran, for the variant table: a worker passes its name to the runs it starts.
    return summary.to_dict() | {"host": socket.gethostname(), "worker": os.environ.get("PREFECT__WORKER_NAME", ""),
                                "shard": shard_index}


class ShardProgress:
    """A shard's progress: its lines in the run's log, and its own progress artifact moved after each
    variant (the nightly run adds the shards' artifacts up for its own, see shards_done)."""

    def __init__(self, write, artifact_id: UUID) -> None:
        self.lines, self.artifact_id = Lines(write), artifact_id

    def note(self, text: str) -> None:
        self.lines.note(text)

    def planned(self, count: Count) -> None:
        self._move(count)                # the unchanged variants are done already

    def variant(self, event: VariantDone) -> None:
        self.lines.variant(event)
        self._move(event.count)

    def _move(self, count: Count) -> None:
        update_progress_artifact(self.artifact_id, 100.0 * count.done / max(count.total, 1))

    def step(self, event: GenerationStep) -> None:
        self.lines.step(event)


def shards_done(client, runs: dict[UUID, int], sizes: dict[int, int]) -> dict[int, int]:
    """Variants done per running shard (shard index -> count), from each run's latest progress artifact."""
    if not runs:
        return {}
    artifacts = client.read_artifacts(
        artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[SHARD_PROGRESS]),
                                       flow_run_id=ArtifactFilterFlowRunId(any_=list(runs))),
        sort=ArtifactSort.CREATED_DESC)
    done: dict[int, int] = {}
    for artifact in artifacts:           # newest first: a retried shard's latest artifact is its own
        i = runs[artifact.flow_run_id]
        if i not in done and artifact.data is not None:
            done[i] = round(float(artifact.data) * sizes[i] / 100.0)
    return done


@flow(name="tessera-audit", timeout_seconds=4 * 3600)
def audit_media(paths: list[Path], home: Path, ledger_url_env: str | None = None,
                report: Path | None = None) -> dict[str, Any]:
    """Audit files or folders against the ledger (its URL in the environment variable named
    ledger_url_env); writes a JSON report and a markdown artifact."""
    settings = Settings.build(home=home, ledger_url=ledger_url_from_env(ledger_url_env))
    records = audit(Workspace(settings), [Path(p) for p in paths])
    rows = [r.to_dict() for r in records]
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    report = Path(report) if report else Path(home) / "reports" / f"audit-{stamp}.json"
    report.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(report, rows)
    counts = audit_counts(records)
    lines = [f"# Audit of {', '.join(map(str, paths))}", "",
             f"{len(rows)} files: {counts['pass']} pass, {counts['warn']} warn, {counts['fail']} fail.",
             f"Report: [{report}]({report.resolve().as_uri()})", ""]
    flagged = [r for r in rows if r["verdict"] != "pass"]
    if flagged:
        lines += ["| verdict | file | problems |", "| --- | --- | --- |"]
        lines += [f"| {r['verdict']} | {r['path']} | {'; '.join(r['problems'])} |" for r in flagged]
    create_markdown_artifact("\n".join(lines), key="audit-report", description="Tessera audit")
    return {"report": str(report), "files": len(rows), **counts}


@flow(name="tessera-recheck", timeout_seconds=4 * 3600)
def recheck_published(home: Path, ledger_url_env: str | None = None, as_of: date | None = None,
                      catalog: str | None = None, output_dir: Path | None = None) -> dict[str, Any]:
    """Re-assess the published assets (of one catalog identity and output folder, when given) against
    today's registries and rules and withdraw those that no longer pass; a table artifact lists each
    withdrawn asset with its reasons and what was done with its file."""
    settings = Settings.build(home=home, ledger_url=ledger_url_from_env(ledger_url_env))
    checked, withdrawn = recheck(Workspace(settings), as_of=as_of, catalog=catalog,
                                 output_dir=Path(output_dir) if output_dir else None)
    rows = [w.to_dict() | {"reasons": "; ".join(w.reasons)} for w in withdrawn]
    create_table_artifact(rows or [{"withdrawn": f"none of {checked} published assets"}], key=WITHDRAWN_ARTIFACT,
                          description=f"Assets withdrawn by the recheck as of {as_of or date.today()} "
                                      f"({settings.withdrawal})")
    return {"rechecked": checked, "withdrawn": [w.to_dict() for w in withdrawn], "withdrawal": settings.withdrawal}


def recheck_output(job: RenderJob) -> dict[str, Any]:
    """The nightly run's recheck step: the assets this catalog published into this output folder."""
    return recheck_published(job.home, job.ledger_url_env, job.as_of, catalog=catalog_identity(job.catalog),
                             output_dir=job.out.resolve())


def audit_output(job: RenderJob) -> dict[str, Any] | None:
    """The nightly run's audit step: the output folder, through the audit flow (None before any output)."""
    return audit_media([job.out], job.home, job.ledger_url_env) if job.out.exists() else None


@flow(name="tessera-nightly", timeout_seconds=NIGHTLY_TIMEOUT_S)
def nightly_render(job: RenderJob, shards: int = 2, shard_deployment: str = SHARD_DEPLOYMENT,
                   shard_wait_s: float = SHARD_WAIT_S, progress: Any = None) -> dict[str, Any]:
    """Render the catalog in `shards` parallel deployment runs, then retire, audit and report.
    progress: a pipeline.progress.Progress told of each change (`tessera nightly` passes its bar)."""
    logger = get_run_logger()
    shown: Progress = as_progress(progress)
    started = datetime.now(timezone.utc)
    if shards < 1:
        raise ValueError(f"shards must be at least 1, got {shards}")

    # 1. Plan the whole catalog and check it before any shard starts. One date for all shards;
    #    credentials are minted and the ledger migrated here, once, not by N shards racing.
    job = job.model_copy(update={"as_of": job.as_of or date.today()})
    settings = job.settings()
    catalog = load_catalog(job.catalog, known_profiles=known_profiles(settings.rules_dirs))
    # Which variants exist and where they go; their keys (and so what to skip) are each shard's
    # business: render_catalog adds the reviewers' picks and the rules in force to them.
    plans = plan_variants(catalog, settings.options, job.out)
    ws = Workspace(settings)
    ws.credentials   # noqa: B018 (minted here, once, before the shards start)
    ledger = ws.ledger
    by_shard = {i: [p for p in plans if shard_of(p.product.sku, shards) == i] for i in range(shards)}
    # Why each variant is to be rendered, taken now, before the shards record the new ones.
    planned = {(v.sku, v.locale, v.aspect): v.reason for v in preview_run(ws, catalog, job.out) if v.action == "render"}
    logger.info(f"{len(plans)} variants of {len(catalog.products)} products in {shards} shards: "
                + ", ".join(f"{i}: {len(ps)}" for i, ps in by_shard.items()))
    progress_id = create_progress_artifact(0.0, key="nightly-progress",
                                           description=f"variants done (rendered, skipped or failed), of {len(plans)}")

    # 2. Start every shard with work at once: timeout=0 returns as soon as the run exists.
    started_runs: dict[int, UUID] = {}
    for i, shard_plans in by_shard.items():
        if shard_plans:
            run = run_deployment(shard_deployment, timeout=0, as_subflow=True,
                                 flow_run_name=f"shard-{i}-of-{shards}",
                                 parameters={"job": job.model_dump(mode="json"), "shard_index": i, "shards": shards})
            started_runs[i] = run.id

    # 3. Wait for all of them; each variant of any shard moves the progress bar, a failure stops nothing.
    finished: list[int] = []
    sizes = {i: len(ps) for i, ps in by_shard.items()}
    count = {"done": -1, "since": time.monotonic()}

    def report(client) -> None:
        running = {started_runs[i]: i for i in started_runs if i not in finished}
        done = sum(sizes[i] for i in finished) + sum(shards_done(client, running, sizes).values())
        if done != count["done"]:
            count["done"] = done
            update_progress_artifact(progress_id, 100.0 * done / max(len(plans), 1))
            logger.info(f"progress: {done} of {len(plans)} variants done")
            what = f"{len(finished)} of {len(started_runs)} shards finished"
            shown.variant(VariantDone(Count(done, len(plans), done, len(plans), time.monotonic() - count["since"]),
                                      "", what))

    def shard_done(i: int, run: FlowRun) -> None:
        finished.append(i)
        line = f"shard {i}/{shards} ({run.name}) ended {run.state.name}"
        logger.info(line)
        shown.note(line)

    runs = _wait_for_runs(started_runs, timeout_s=shard_wait_s, on_final=shard_done, on_poll=report)

    # 4. One row per variant: from the shard's own result, else from the ledger.
    rows = _variant_rows(plans, shards, runs, ledger, since=started, planned=planned,
                         scope=(catalog_identity(job.catalog), job.out.resolve()))
    counts = {s: sum(r["status"] == s for r in rows) for s in STATUSES}

    # 5. Retire, once, what the catalog no longer has (files are kept).
    retired = ledger.retire_absent({(p.spec.sku, p.spec.locale, p.spec.aspect) for p in plans},
                                   catalog=catalog_identity(job.catalog), output_dir=job.out.resolve())

    # 6. Recheck what this catalog has published here against today's registries and rules: a consent
    #    that expired, a face or work registered since, a rule now in force withdraw the asset (its own
    #    artifact lists them). Before the audit, so that the audit sees what is published now.
    rechecked = recheck_output(job)

    # 7. Audit the output folder against the ledger.
    audit = audit_output(job)
    update_progress_artifact(progress_id, 100.0)

    # 8. Publish the variant table and the summary; fail the run afterwards if anything failed.
    create_table_artifact(rows or [{"status": "no variants planned"}], key="nightly-variants",
                          description=f"Nightly render of {job.catalog}: every variant and what happened to it")
    shard_rows = [_shard_row(i, runs[i], len(by_shard[i])) for i in sorted(runs)]
    create_markdown_artifact(_summary_markdown(job, counts, retired, shard_rows, audit, rechecked),
                             key="nightly-summary", description="Nightly render summary")
    withdrawn = len(rechecked["withdrawn"])
    summary = {"variants": len(plans), **counts, "retired": len(retired), "rechecked": rechecked["rechecked"],
               "withdrawn": withdrawn, "shards": shard_rows, "audit": audit}
    problems = [f"shard {r['shard']} {r['state']}" for r in shard_rows if r["state"] != "Completed"]
    problems += [f"{counts['failed']} of {len(plans)} variants failed"] if counts["failed"] else []
    problems += [f"recheck: {withdrawn} published assets withdrawn"] if withdrawn else []
    problems += [f"audit: {audit['fail']} files fail"] if audit and audit["fail"] else []
    if problems:
        raise NightlyFailed("; ".join(problems) + f" (summary: {json.dumps(summary, default=str)})")
    return summary


def _wait_for_runs(run_ids: dict[int, UUID], *, timeout_s: float, on_final, on_poll=None) -> dict[int, FlowRun]:
    """Poll until every run is final; runs still unfinished at the deadline are cancelled.
    on_poll(client): after each round (and once at the end), e.g. to move the progress bar."""
    done: dict[int, FlowRun] = {}
    deadline = time.monotonic() + timeout_s
    with get_client(sync_client=True) as client:
        while True:
            pending = {run_ids[i]: i for i in run_ids if i not in done}
            if not pending:
                if on_poll:
                    on_poll(client)
                return done
            late = time.monotonic() > deadline
            for run in client.read_flow_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=list(pending)))):
                i = pending[run.id]
                if run.state is not None and run.state.is_final():
                    done[i] = run
                    on_final(i, run)
                elif late:
                    # Stuck or never picked up (no GPU worker online): stop it so that it cannot start
                    # after this night is over; a running one is killed by its worker (Cancelling).
                    message = f"not finished within {timeout_s:.0f} s of the nightly run"
                    stop = Cancelling(message=message) if run.state and run.state.is_running() else Cancelled(
                        message=message)
                    client.set_flow_run_state(run.id, stop, force=True)
                    done[i] = client.read_flow_run(run.id)
            if on_poll:
                on_poll(client)
            if late:
                return done
            time.sleep(POLL_S)


def _variant_rows(plans: tuple[VariantPlan, ...], shards: int, runs: dict[int, FlowRun], ledger: Ledger,
                  since: datetime, planned: dict[tuple[str, str, str], str] | None = None,
                  scope: tuple[str, Path] | None = None) -> list[dict[str, Any]]:
    """One row per planned (sku, locale, aspect): the shard's own outcome, else what the ledger shows.
    planned: why each variant was to be rendered (the dry-run reasons taken before the shards ran);
    a rendered row with no reason of its own gets that one ("copy.headline changed").
    scope: (catalog identity, output folder) whose ledger rows are this run's; None: any."""
    planned = planned or {}
    results: dict[int, dict[str, Any]] = {}
    reasons: dict[int, str] = {}
    for i, run in runs.items():
        state = run.state
        if state is not None and state.is_completed():
            try:
                results[i] = state.result()
            except Exception as exc:  # unreadable result storage: the ledger below still answers
                reasons[i] = f"shard result unreadable ({type(exc).__name__}: {exc})"
        else:
            reasons[i] = f"shard {state.name if state else 'never started'}: {state.message if state else ''}".strip()
    outcomes = {(o["sku"], o["locale"], o["aspect"]): (o, r["host"], r["worker"])
                for r in results.values() for o in r["outcomes"]}
    catalog, out = scope if scope is not None else (None, None)
    active = {(a.sku, a.locale, a.aspect): a for a in ledger.active_assets(catalog=catalog, output_dir=out)}
    rows = []
    for p in plans:
        i, triple = shard_of(p.product.sku, shards), (p.spec.sku, p.spec.locale, p.spec.aspect)
        row = {"sku": p.spec.sku, "locale": p.spec.locale, "aspect": p.spec.aspect, "shard": i}
        if triple in outcomes:
            o, host, worker = outcomes[triple]
            reason = o["reason"] or (planned.get(triple, "") if o["status"] == "rendered" else "")
            row |= {"status": o["status"], "reason": reason, "host": host, "worker": worker,
                    "asset_id": o["asset_id"]}
        elif (a := active.get(triple)) and _utc(a.created_at) >= since and ledger.is_intact(a.variant_key,
                                                                                           a.output_path):
            # The shard did not report (crashed after this variant, or result unreadable): the ledger
            # shows the variant was made tonight.
            row |= {"status": "rendered", "reason": reasons.get(i, ""), "host": "", "worker": "",
                    "asset_id": a.asset_id}
        else:
            # Not confirmed tonight: it may be unchanged, but nothing checked it.
            row |= {"status": "failed", "reason": reasons.get(i, "shard did not report this variant"),
                    "host": "", "worker": "", "asset_id": ""}
        rows.append(row | {"path": str(p.output_path)})
    return rows


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)   # SQLite returns naive UTC


def _shard_row(i: int, run: FlowRun, variants: int) -> dict[str, Any]:
    return {"shard": i, "flow_run": run.name, "flow_run_id": str(run.id), "variants": variants,
            "state": run.state.name if run.state else "unknown",
            "message": (run.state.message or "") if run.state else ""}


def _summary_markdown(job: RenderJob, counts: dict[str, int], retired: list[str], shard_rows: list[dict],
                      audit: dict[str, Any] | None, rechecked: dict[str, Any] | None = None) -> str:
    lines = [f"# Nightly render of `{job.catalog}`", "", f"Output `{job.out}`, rules as of {job.as_of}.", "",
             "| " + " | ".join(STATUSES) + " | retired |", "| --- " * (len(STATUSES) + 1) + "|",
             "| " + " | ".join(str(counts[s]) for s in STATUSES) + f" | {len(retired)} |", "",
             "| shard | flow run | variants | state | message |", "| --- | --- | --- | --- | --- |"]
    lines += [f"| {r['shard']} | {r['flow_run']} | {r['variants']} | {r['state']} | {r['message']} |"
              for r in shard_rows]
    if rechecked is not None:
        gone = rechecked["withdrawn"]
        done = "moved to the quarantine" if rechecked["withdrawal"] == "quarantine" else "added to the takedown list"
        lines += ["", f"Recheck: {rechecked['rechecked']} published assets against today's registries and rules, "
                      f"{len(gone)} withdrawn" + (f" (files {done}; see the `{WITHDRAWN_ARTIFACT}` artifact)"
                                                  if gone else ".")]
        lines += [f"- withdrawn {w['asset_id']} `{w['path']}`: {'; '.join(w['reasons'])}" for w in gone]
    if audit:
        report = Path(audit["report"])
        lines += ["", f"Audit: {audit['files']} files, {audit['pass']} pass, {audit['warn']} warn, "
                      f"{audit['fail']} fail. Report: [{report}]({report.resolve().as_uri()})"]
    else:
        lines += ["", "Audit: no output folder yet, nothing to audit."]
    return "\n".join(lines)
