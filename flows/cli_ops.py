"""Ops commands of `tessera`: serve the nightly schedule, deploy to work pools, run one night.

Registered on the main group in flows/cli.py (`cli.add_command` for each of OPS_COMMANDS).
All of them talk to a Prefect server: PREFECT_API_URL must be set (docs/operations.md).
"""
from __future__ import annotations

import json
import os
import signal
import sys
from dataclasses import asdict
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

from flows.cli_common import (
    _home, _plan_table, _quiet_prefect, candidates_option, home_option, ledger_option, machine_timezone,
    short_side_option, verbose_option,
)

DEFAULT_CRON = "0 2 * * *"            # kept equal to flows.deploy (not imported: --help must not load Prefect)
LEDGER_ENV = "TESSERA_LEDGER_URL"


def _job(catalog: Path, out: Path, home: str | None, ledger: str | None, short_side: int, workers: int,
         backend: str, diffusion: Path | None, candidates: int, cert_chain: Path | None, private_key: Path | None,
         tsa_url: str | None):
    from flows.nightly import RenderJob
    if backend == "diffusers" and diffusion is None:
        raise click.UsageError("--backend diffusers needs --diffusion FILE (the model and its settings)")
    # The ledger URL travels as the NAME of its environment variable, never as a parameter
    # (Prefect stores parameters): --ledger is put into this process's environment, which the
    # flows it serves or runs inherit; remote workers need TESSERA_LEDGER_URL set themselves.
    if ledger:
        os.environ[LEDGER_ENV] = ledger
    # Absolute paths: shard runs start in other processes, on other hosts, in other folders.
    return RenderJob(catalog=catalog.resolve(), out=out.resolve(), home=_home(home).expanduser().resolve(),
                     ledger_url_env=LEDGER_ENV if os.environ.get(LEDGER_ENV) else None, short_side=short_side,
                     workers=workers, backend=backend, candidates=candidates,
                     diffusion=json.loads(diffusion.read_text()) if diffusion else None,
                     cert_chain=cert_chain.resolve() if cert_chain else None,
                     private_key=private_key.resolve() if private_key else None, tsa_url=tsa_url)


def _require_api() -> None:
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    from prefect.settings import PREFECT_API_URL
    if not PREFECT_API_URL.value():
        raise click.ClickException("PREFECT_API_URL is not set: start a server (`prefect server start`) and "
                                   "`export PREFECT_API_URL=http://127.0.0.1:4200/api` (see docs/operations.md)")


def _check_schedule(cron: str, timezone: str) -> None:
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise click.BadParameter(f"unknown IANA time zone {timezone!r}", param_hint="--timezone") from None
    if len(cron.split()) != 5:
        raise click.BadParameter(f"cron needs 5 fields (minute hour day month weekday), got {cron!r}",
                                 param_hint="--cron")


def job_options(f):
    """Options shared by every command that renders: what to render, where, and how."""
    for option in reversed([
        click.argument("catalog", type=click.Path(exists=True, file_okay=False, path_type=Path)),
        click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
                     help="Output folder for signed variants (shared by all hosts)."),
        click.option("--shards", default=2, show_default=True, type=click.IntRange(1, 256),
                     help="Parallel shard runs (one per GPU worker)."),
        short_side_option,
        click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64),
                     help="Variants composed at once inside one shard."),
        click.option("--backend", type=click.Choice(["motion", "diffusers"]), default="motion", show_default=True,
                     help="Base clips from product photos (CPU) or from a diffusion model (GPU)."),
        click.option("--diffusion", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     help="diffusers: JSON file of the model settings, e.g. "
                          '{"model": "Wan-AI/Wan2.1-T2V-1.3B-Diffusers", "revision": "<commit>"}.'),
        candidates_option,
        click.option("--cert-chain", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     help="Production PEM certificate chain (leaf first)."),
        click.option("--private-key", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     help="Production PEM private key."),
        click.option("--tsa-url", help="RFC 3161 time-stamp authority URL."),
        home_option,
        ledger_option,
    ]):
        f = option(f)
    return f


schedule_options = [
    click.option("--cron", default=DEFAULT_CRON, show_default=True, help="When the nightly render runs."),
    click.option("--timezone", default=machine_timezone, show_default="this machine's, else UTC",
                 help="IANA time zone of --cron."),
    click.option("--gpu-slots", default=1, show_default=True, type=click.IntRange(1, 64),
                 help="GPU jobs at once per host (the gpu-<hostname> concurrency limit)."),
]


def _with(options):
    def apply(f):
        for option in reversed(options):
            f = option(f)
        return f
    return apply


@click.command()
@job_options
@_with(schedule_options)
@verbose_option
def serve(catalog, out, shards, short_side, workers, backend, diffusion, candidates, cert_chain, private_key, tsa_url,
          home, ledger, cron, timezone, gpu_slots, verbose):
    """Run the nightly render of CATALOG on a schedule, on this machine, until stopped.

    Serves the nightly, render-shard and audit deployments from this process (no work
    pool, no worker). Stopping it does not pause the schedule: runs due while it is down
    wait as Late and start when it serves again. Creates this host's GPU limit.

    \b
    Examples:
      tessera serve catalogs/mine --out /srv/ads
      tessera serve catalogs/mine --out /srv/ads --cron "30 1 * * *" --timezone America/New_York
    """
    _quiet_prefect(verbose, server_logs=True)     # before anything imports Prefect
    _check_schedule(cron, timezone)
    _require_api()
    from flows.deploy import serve_here, tessera_deployments
    from flows.gpu import ensure_gpu_limit

    job = _job(catalog, out, home, ledger, short_side, workers, backend, diffusion, candidates, cert_chain,
               private_key, tsa_url)
    click.echo(f"GPU limit {ensure_gpu_limit(gpu_slots)}: {gpu_slots} slot(s)", err=True)
    # Started in the background by a script (`tessera serve ... &`), the process inherits SIGINT
    # ignored and would never stop on Ctrl-C or systemd's KillSignal=SIGINT: take it back.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    # The nightly run, its shards and an audit can all be running at once.
    serve_here(tessera_deployments(job, shards=shards, cron=cron, timezone=timezone), limit=shards + 2)


@click.command()
@job_options
@_with(schedule_options)
@click.option("--gpu-pool", default="tessera-gpu", show_default=True, help="Work pool of the GPU workers (shards).")
@click.option("--control-pool", default="tessera-control", show_default=True,
              help="Work pool of the nightly and audit runs (a CPU worker).")
@click.option("--gpu-host", "gpu_hosts", multiple=True,
              help="Create the GPU limit of this host (repeat per GPU host). Default: this host.")
def deploy(catalog, out, shards, short_side, workers, backend, diffusion, candidates, cert_chain, private_key, tsa_url,
           home, ledger, cron, timezone, gpu_slots, gpu_pool, control_pool, gpu_hosts):
    """Register the nightly, render-shard and audit deployments on work pools.

    Shards run on --gpu-pool (start one worker per GPU there); the nightly and audit runs
    on --control-pool. Missing pools are created as process pools.

    \b
    Examples:
      tessera deploy catalogs/mine --out /srv/ads --shards 4 --ledger postgresql://tessera@db/tessera \\
          --backend diffusers --diffusion wan.json --gpu-host gpu1 --gpu-host gpu2
      prefect worker start --pool tessera-gpu --name gpu1-0 --limit 1
      prefect worker start --pool tessera-control --name control
    """
    _check_schedule(cron, timezone)
    _require_api()
    from flows.deploy import apply_to_pools, tessera_deployments
    from flows.gpu import ensure_gpu_limit

    job = _job(catalog, out, home, ledger, short_side, workers, backend, diffusion, candidates, cert_chain,
               private_key, tsa_url)
    for host in gpu_hosts or [None]:
        click.echo(f"GPU limit {ensure_gpu_limit(gpu_slots, host)}: {gpu_slots} slot(s)")
    deployments = tessera_deployments(job, shards=shards, cron=cron, timezone=timezone, gpu_pool=gpu_pool,
                                      control_pool=control_pool)
    for d, deployment_id in zip(deployments, apply_to_pools(deployments)):
        click.echo(f"deployment {d.flow_name}/{d.name} ({deployment_id}) on pool {d.work_pool_name}")


@click.command()
@job_options
@click.option("--shard-deployment", default="tessera-render-shard/render-shard", show_default=True,
              help="Deployment that renders one shard.")
@click.option("--json", "as_json", is_flag=True, help="Print the run summary (or the --dry-run plan) as JSON.")
@click.option("--dry-run", is_flag=True, help="Print the plan (per variant: render, skip or retire, and why); "
                                              "needs no Prefect server and renders nothing.")
@verbose_option
def nightly(catalog, out, shards, short_side, workers, backend, diffusion, candidates, cert_chain, private_key,
            tsa_url, home, ledger, shard_deployment, as_json, dry_run, verbose):
    """Run one nightly render of CATALOG now, from this process; shards run on the workers.

    The shards are runs of the render-shard deployment, so a `tessera serve` or GPU workers
    must be running. On a terminal a bar shows the variants done of all shards (the nightly-progress
    artifact shows the same). After the shards, every asset the catalog published in --out is
    rechecked against today's registries and rules (as `tessera recheck`), then the folder is
    audited. Exit status 1 when a shard, a variant or the audit failed, or the recheck withdrew an asset.

    \b
    Examples:
      tessera nightly catalogs/mine --out /srv/ads --shards 4
      tessera nightly catalogs/mine --out /srv/ads --json > night.json
      tessera nightly catalogs/mine --out /srv/ads --dry-run
    """
    _quiet_prefect(verbose, server_logs=True)     # before anything imports Prefect
    from pipeline.check import check_run, expected_errors

    job = _job(catalog, out, home, ledger, short_side, workers, backend, diffusion, candidates, cert_chain,
               private_key, tsa_url)
    # 1. The catalog, rules, text fit and credentials, before any Prefect server is asked for.
    settings = job.settings()
    try:
        checked = check_run(settings, job.catalog, job.out)
    except expected_errors() as exc:
        raise click.ClickException(str(exc)) from None
    if dry_run:
        from pipeline.render import preview_run
        from pipeline.workspace import Workspace
        lines = preview_run(Workspace(settings), checked, job.out)
        click.echo(json.dumps([asdict(line) for line in lines], indent=2, ensure_ascii=False) if as_json
                   else _plan_table(lines))
        return
    _require_api()
    from flows.cli_progress import TerminalBar, progress_for
    from flows.nightly import NightlyFailed, nightly_render

    progress = progress_for(as_json=as_json)
    try:
        summary = nightly_render(job, shards=shards, shard_deployment=shard_deployment, progress=progress)
    except NightlyFailed as exc:
        if isinstance(progress, TerminalBar):
            progress.close()
        click.echo(f"nightly render failed: {exc}", err=True)
        sys.exit(1)
    if isinstance(progress, TerminalBar):
        progress.close()
    if as_json:
        click.echo(json.dumps(summary, indent=2, default=str))
    else:
        from flows.nightly import STATUSES
        click.echo(f"{summary['variants']} variants: " + ", ".join(f"{summary[s]} {s}" for s in STATUSES)
                   + f", {summary['retired']} retired")
        click.echo(f"recheck: {summary['rechecked']} published assets, {summary['withdrawn']} withdrawn")
        if summary["audit"]:
            click.echo(f"audit report: {summary['audit']['report']}")


OPS_COMMANDS = (serve, deploy, nightly)
