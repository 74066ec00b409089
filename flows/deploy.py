"""The Prefect deployments of Tessera, defined in code (not in prefect.yaml).

Why code: one function (`tessera_deployments`) builds the same three deployments for both
ways of running them, `tessera serve` (one machine, one long-lived process) and
`tessera deploy` (work pools: GPU hosts run the shards), so the schedule, the concurrency
rule and the parameters cannot drift between a prefect.yaml and the serve path; the catalog,
output folder, cron and time zone come from CLI options rather than templated YAML; and the
deployments are plain objects the tests build and apply.

- `tessera-nightly/nightly`: cron with a time zone; at most one run at a time, and a run due
  while the previous night's is still going is cancelled (CANCEL_NEW), so nights never
  overlap and runs never pile up behind a stuck one; the next night picks up what is missing.
- `tessera-render-shard/render-shard`: one shard, on the GPU work pool (one worker per GPU).
- `tessera-audit/audit`: on demand.

Entrypoints are module paths (`flows.nightly.render_shard`): every host runs the installed
`tessera` package of the deployment's version, so no source folder has to be shared.
"""
from __future__ import annotations

from importlib import metadata
from uuid import UUID

from prefect import serve
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.deployments.runner import RunnerDeployment
from prefect.exceptions import ObjectNotFound
from prefect.schedules import Cron
from prefect.types.entrypoint import EntrypointType

from flows.nightly import RenderJob, audit_media, nightly_render, render_shard

DEFAULT_CRON = "0 2 * * *"
DEFAULT_TIMEZONE = "UTC"   # the CLI passes the machine's zone (flows.cli_common.machine_timezone)
GPU_POOL = "tessera-gpu"
CONTROL_POOL = "tessera-control"


def tessera_deployments(job: RenderJob, *, shards: int, cron: str = DEFAULT_CRON, timezone: str = DEFAULT_TIMEZONE,
                        gpu_pool: str | None = None, control_pool: str | None = None) -> list[RunnerDeployment]:
    """Nightly, render-shard and audit deployments; pools None means served by `tessera serve`."""
    common = dict(version=_version(), tags=["tessera"], entrypoint_type=EntrypointType.MODULE_PATH)
    nightly = nightly_render.to_deployment(
        "nightly", schedules=[Cron(cron, timezone=timezone)],
        concurrency_limit=ConcurrencyLimitConfig(limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW),
        parameters={"job": job.model_dump(mode="json"), "shards": shards}, work_pool_name=control_pool,
        description=f"Render {job.catalog} into {job.out}: only what changed, in {shards} shards.", **common)
    shard = render_shard.to_deployment(
        "render-shard", work_pool_name=gpu_pool,
        description="One shard of a nightly render; started by tessera-nightly/nightly.", **common)
    audit = audit_media.to_deployment(
        "audit", parameters={"paths": [str(job.out)], "home": str(job.home), "ledger_url_env": job.ledger_url_env},
        work_pool_name=control_pool, description="Audit media against the ledger (on demand).", **common)
    return [nightly, shard, audit]


def apply_to_pools(deployments: list[RunnerDeployment]) -> list[UUID]:
    """Register deployments with the Prefect server, creating missing process work pools."""
    with get_client(sync_client=True) as client:
        for pool in sorted({d.work_pool_name for d in deployments if d.work_pool_name}):
            try:
                client.read_work_pool(pool)
            except ObjectNotFound:
                client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
    return [d.apply() for d in deployments]


def serve_here(deployments: list[RunnerDeployment], *, limit: int) -> None:
    """Run the deployments' schedules and runs in this process until it is stopped.

    pause_on_shutdown=False: Prefect's serve pauses the schedules of the deployments it served
    when it stops (3.8 default), so a restart or a crash of this process would silently stop
    the nightly runs. Ours stay active; runs due while no process serves them wait as Late
    and start when serve runs again.
    """
    serve(*deployments, pause_on_shutdown=False, limit=limit)


def _version() -> str:
    try:
        return metadata.version("tessera")
    except metadata.PackageNotFoundError:
        return "0.1.0"
