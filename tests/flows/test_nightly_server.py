"""The nightly render on a real Prefect server with two real workers, end to end.

Starts `prefect server start` on loopback (own PREFECT_HOME and SQLite database, analytics
off), a process work pool for the GPU shards with two workers (w1, w2, one run each at a
time) and a control pool with one worker for the nightly run itself; registers the
deployments with `tessera deploy`; runs the nightly deployment on a 3-product catalog in
2 shards; checks that each GPU worker ran one shard, that the ledger holds every variant
exactly once and the artifacts; then runs it again and checks that nothing is rendered.

Run it alone with `pytest -m prefect_server tests/flows/test_nightly_server.py`; it takes a
few minutes on 2 cores. Every process it starts is killed (by process group) at the end.
"""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey, DeploymentFilter, DeploymentFilterName,
    FlowRunFilter, FlowRunFilterParentFlowRunId, LogFilter, LogFilterFlowRunId,
)
from prefect.settings import PREFECT_API_URL, temporary_settings

from catalogs import load_catalog
from compliance.rules import known_profiles
from generation.plan import RenderOptions, plan_variants
from provenance.ledger import Ledger, assets

from flow_catalogs import SAMPLE, small_catalog

pytestmark = [pytest.mark.prefect_server, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
LOCALES = ("de-DE", "zh-CN")
ASPECTS = "9:16;16:9"
SHORT_SIDE = 288    # the smallest --short-side every rendering command accepts
RUN_TIMEOUT_S = 900


def nightly_catalog(dest: Path) -> Path:
    """small_catalog with every sample product back (3 products, 2-second clips): both shards get work."""
    small_catalog(dest, locales=LOCALES, aspects=ASPECTS)
    products = pd.read_csv(SAMPLE / "products.csv", dtype=str, keep_default_na=False)
    products["duration_s"] = "2"
    products.to_csv(dest / "products.csv", index=False)
    copy = pd.read_csv(SAMPLE / "copy.csv", dtype=str, keep_default_na=False)
    copy[copy["locale"].isin(LOCALES)].to_csv(dest / "copy.csv", index=False)
    return dest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Processes:
    """Processes started in their own process groups, with a log file each, all killed at the end."""

    def __init__(self, env: dict[str, str], logs: Path):
        self.env, self.logs = env, logs
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, name: str, *cmd: str) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "w")
        proc = subprocess.Popen(cmd, env=self.env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        self.procs[name] = proc
        return proc

    def run(self, *cmd: str, timeout: float = 300, attempts: int = 3) -> str:
        """Run a CLI command against the server; retried, since the server's SQLite database can
        answer "database is locked" while two cores are busy starting workers."""
        for attempt in range(1, attempts + 1):
            done = subprocess.run(cmd, env=self.env, cwd=REPO, capture_output=True, text=True, timeout=timeout)
            if done.returncode == 0:
                return done.stdout
            time.sleep(3 * attempt)
        raise AssertionError(f"{' '.join(cmd)} exited {done.returncode} ({attempts} attempts):\n{done.stdout}\n"
                             f"{done.stderr}\n" + self.all_logs())

    def log(self, name: str, tail: int = 6000) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace")[-tail:] if path.exists() else ""

    def all_logs(self) -> str:
        return "\n".join(f"----- {name} log (tail) -----\n{self.log(name)}" for name in self.procs)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for proc in self.procs.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """A running server, pools, two GPU workers and one control worker; yields (procs, api_url, root)."""
    root = tmp_path_factory.mktemp("nightly-server")
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update({
        "PREFECT_HOME": str(root / "prefect-home"),
        "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{root / 'prefect.db'}",
        "PREFECT_API_URL": api,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "false",
        "PREFECT_WORKER_QUERY_SECONDS": "2",            # pick up shard runs within seconds
        "PREFECT_LOGGING_LEVEL": "INFO",
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    })
    (root / "logs").mkdir()
    procs = Processes(env, root / "logs")
    try:
        server = procs.start("server", str(VENV_BIN / "prefect"), "server", "start", "--host", "127.0.0.1",
                             "--port", str(port))
        _wait_for_health(api, server, procs)
        procs.run(str(VENV_BIN / "prefect"), "work-pool", "create", "tessera-gpu", "--type", "process",
                  "--overwrite")
        procs.run(str(VENV_BIN / "prefect"), "work-pool", "create", "tessera-control", "--type",
                  "process", "--overwrite")
        for name, pool in (("w1", "tessera-gpu"), ("w2", "tessera-gpu"), ("control", "tessera-control")):
            procs.start(name, str(VENV_BIN / "prefect"), "worker", "start", "--pool", pool, "--name", name,
                        "--limit", "1", "--type", "process")
        _wait_for_workers(api, "tessera-gpu", {"w1", "w2"}, procs)
        yield procs, api, root
    finally:
        procs.stop_all()


def _wait_for_workers(api: str, pool: str, names: set[str], procs: Processes) -> None:
    """Both GPU workers polling before any shard exists; otherwise one of them may take both shards."""
    deadline = time.monotonic() + 180
    online: set[str] = set()
    while time.monotonic() < deadline:
        request = urllib.request.Request(f"{api}/work_pools/{pool}/workers/filter", data=b"{}", method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                online = {w["name"] for w in json.loads(response.read()) if w.get("status") == "ONLINE"}
        except OSError:
            pass
        if names <= online:
            return
        time.sleep(1)
    pytest.fail(f"workers {sorted(names - online)} not online in pool {pool} within 180 s:\n"
                + "\n".join(procs.log(n) for n in sorted(names)))


def _wait_for_health(api: str, server: subprocess.Popen, procs: Processes) -> None:
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        assert server.poll() is None, f"prefect server exited {server.returncode}:\n{procs.log('server')}"
        try:
            with urllib.request.urlopen(f"{api}/health", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(1)
    pytest.fail(f"prefect server not healthy within 240 s:\n{procs.log('server')}")


@pytest.fixture(scope="module")
def deployed(stack):
    procs, api, root = stack
    catalog = nightly_catalog(root / "catalog")
    procs.run(sys.executable, "-c", "import sys; from flows.cli_ops import deploy; deploy(sys.argv[1:])",
              str(catalog), "--out", str(root / "out"), "--home", str(root / "home"), "--shards", "2",
              "--short-side", str(SHORT_SIDE), "--workers", "2", "--gpu-pool", "tessera-gpu",
              "--control-pool", "tessera-control", "--gpu-host", "gpu-test-host")
    return procs, api, root, catalog


def _run_nightly(procs: Processes, api: str, expect: str = "Completed", *, spread: bool = False):
    """Start the nightly deployment, wait until it is final; returns (run, shard runs, logs, artifacts).
    spread: see _one_shard_per_worker."""
    with temporary_settings(updates={PREFECT_API_URL: api}), get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name("tessera-nightly/nightly")
        run = client.create_flow_run_from_deployment(deployment.id)
        if spread:
            _one_shard_per_worker(procs, ("w1", "w2"))
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while not (run := client.read_flow_run(run.id)).state.is_final():
            if time.monotonic() > deadline:
                pytest.fail(f"nightly run not final within {RUN_TIMEOUT_S} s (state {run.state.name})\n"
                            + _run_logs(client, [run.id]) + procs.all_logs())
            time.sleep(3)
        shards = client.read_flow_runs(flow_run_filter=FlowRunFilter(
            parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[run.id])),
            deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=["render-shard"])))
        ids = [run.id] + [s.id for s in shards]
        logs = _run_logs(client, ids)
        assert run.state.name == expect, (f"nightly run {run.state.name}: {run.state.message}\n{logs}"
                                          + procs.all_logs())
        artifacts = {a.key: a for a in client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run.id]),
                                           key=ArtifactFilterKey(any_=["nightly-variants", "nightly-summary",
                                                                       "nightly-progress"])))}
    return run, shards, logs, artifacts


def _one_shard_per_worker(procs: Processes, workers: tuple[str, str], timeout_s: float = 300) -> None:
    """Freeze the GPU worker that takes the first shard (SIGSTOP on the worker alone; its shard process
    runs on) until the other worker has taken the second, then let it go on.

    Each worker takes one run at a time (--limit 1), so on a real night, where a shard runs for
    minutes, the second shard goes to the other worker. The test's shards last seconds, and on a
    loaded 2-core machine the first worker can finish its shard and poll again before the other
    worker polls at all; freezing it keeps the fan-out this test checks deterministic."""
    def taken(name: str) -> bool:
        return "submitting flow run" in procs.log(name, tail=1_000_000)

    deadline = time.monotonic() + timeout_s
    while not any(taken(w) for w in workers):
        if time.monotonic() > deadline:
            pytest.fail(f"no GPU worker took a shard within {timeout_s:.0f} s\n" + procs.all_logs())
        time.sleep(0.2)
    first, other = workers if taken(workers[0]) else workers[::-1]
    if taken(other):
        return
    os.kill(procs.procs[first].pid, signal.SIGSTOP)
    try:
        while not taken(other):
            if time.monotonic() > deadline:
                pytest.fail(f"worker {other} took no shard within {timeout_s:.0f} s\n" + procs.all_logs())
            time.sleep(0.2)
    finally:
        os.kill(procs.procs[first].pid, signal.SIGCONT)


def _run_logs(client, flow_run_ids) -> str:
    logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=list(flow_run_ids))))
    return "\n".join(f"{log.timestamp:%H:%M:%S} {log.flow_run_id} {log.name}: {log.message}" for log in logs)


def _planned_variants(catalog: Path, out: Path) -> set[tuple[str, str, str]]:
    plans = plan_variants(load_catalog(catalog, known_profiles=known_profiles()),
                          RenderOptions(short_side=SHORT_SIDE), out)
    return {(p.spec.sku, p.spec.locale, p.spec.aspect) for p in plans}


def _by_shard(rows: list[dict]) -> dict[int, list[dict]]:
    return {shard: [r for r in rows if r["shard"] == shard] for shard in {r["shard"] for r in rows}}


def _counts_and_ended(logs: str, sizes: dict[int, int]) -> list[tuple[int, int]]:
    """Each progress count the nightly logged, with the variants of the shards ended before it."""
    ended, out = 0, []
    for line in logs.splitlines():
        if m := re.search(r"progress: (\d+) of \d+ variants done", line):
            out.append((int(m.group(1)), ended))
        elif m := re.search(r"shard (\d+)/\d+ \(.*\) ended ", line):
            ended += sizes[int(m.group(1))]
    return out


def _table(artifact) -> list[dict]:
    data = json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data
    return data


@pytest.fixture(scope="module")
def first_night(deployed):
    """The first nightly run on the deployed catalog; every test here needs it done, in whatever order they run."""
    procs, api, _, _ = deployed
    return _run_nightly(procs, api, spread=True)


def test_nightly_runs_shards_on_the_gpu_workers_and_records_every_variant_once(deployed, first_night):
    procs, api, root, catalog = deployed
    run, shards, logs, artifacts = first_night

    # Two shard runs, both completed, one on each GPU worker (the name a worker gives its runs).
    assert len(shards) == 2 and all(s.state.is_completed() for s in shards), logs
    rows = _table(artifacts["nightly-variants"])
    ran_by = {shard: {r["worker"] for r in rows if r["shard"] == shard} for shard in (0, 1)}
    assert sorted(w for workers in ran_by.values() for w in workers) == ["w1", "w2"], (ran_by, logs)

    # The ledger holds every planned variant exactly once, all active.
    expected = _planned_variants(catalog, root / "out")
    assert len(expected) == 3 * len(LOCALES) * 2
    ledger = Ledger(f"sqlite:///{root / 'home' / 'ledger.sqlite'}")
    with ledger.engine.connect() as c:
        recorded = c.execute(select(assets.c.sku, assets.c.locale, assets.c.aspect, assets.c.variant_key)).all()
    assert sorted(r[:3] for r in recorded) == sorted(expected), recorded      # each variant once, nothing else
    assert len({r.variant_key for r in recorded}) == len(recorded)
    assert {(a.sku, a.locale, a.aspect) for a in ledger.active_assets()} == expected

    # Artifacts: every variant in the table, rendered; progress at 100 %; a summary naming the audit report.
    assert len(rows) == len(expected) and {r["status"] for r in rows} == {"rendered"}, rows
    assert {r["host"] for r in rows} == {socket.gethostname()}
    assert float(artifacts["nightly-progress"].data) == 100.0
    # It moved with the shards' variants, not only as shards ended: some count was logged that is more
    # than the shards ended by then hold (the nightly logs each new count and each shard's end, in order).
    counts = [int(n) for n in re.findall(r"progress: (\d+) of 12 variants done", logs)]
    assert counts == sorted(counts) and counts[0] == 0 and counts[-1] == 12, logs
    assert any(done > ended for done, ended in _counts_and_ended(logs, {i: len(s) for i, s in _by_shard(rows).items()})), logs
    summary = artifacts["nightly-summary"].data
    assert f"| {len(expected)} | 0 | 0 | 0 | 0 | 0 | 0 |" in summary and "Report: [" in summary, summary
    report = Path(summary.split("Report: [", 1)[1].split("]", 1)[0])
    assert {r["verdict"] for r in json.loads(report.read_text())} == {"pass"}


def test_second_nightly_with_no_catalog_change_renders_nothing(deployed, first_night):
    # This time through `tessera nightly`: the nightly flow runs in the command's process, the
    # shards still on the two workers.
    procs, api, root, catalog = deployed
    ledger = Ledger(f"sqlite:///{root / 'home' / 'ledger.sqlite'}")
    before = {a.variant_key: a.created_at for a in ledger.active_assets()}
    assert len(before) == 12, "the first nightly run recorded every variant"
    out = procs.run(sys.executable, "-c", "import sys; from flows.cli_ops import nightly; nightly(sys.argv[1:])",
                    str(catalog), "--out", str(root / "out"), "--home", str(root / "home"), "--shards", "2",
                    "--short-side", str(SHORT_SIDE), "--workers", "2", "--json", attempts=1, timeout=RUN_TIMEOUT_S)
    summary = json.loads(out)
    assert (summary["variants"], summary["rendered"], summary["skipped"], summary["failed"]) == (12, 0, 12, 0), summary
    assert [s["state"] for s in summary["shards"]] == ["Completed", "Completed"], summary
    assert {a.variant_key: a.created_at for a in ledger.active_assets()} == before


def test_a_failed_variant_fails_the_night_with_its_reason_and_the_rerun_makes_only_it(deployed, first_night):
    procs, api, root, catalog = deployed
    victim = root / "out" / "ESP-BLEND-1KG" / "ESP-BLEND-1KG_de-DE_9x16.mp4"
    victim.unlink()
    victim.mkdir()                                   # the signed file cannot be written there
    run, shards, logs, artifacts = _run_nightly(procs, api, expect="Failed")
    assert "1 of 12 variants failed" in run.state.message, run.state.message
    assert len(shards) == 2 and all(s.state.is_completed() for s in shards), logs   # the other shard went on
    rows = _table(artifacts["nightly-variants"])
    failed = [r for r in rows if r["status"] == "failed"]
    assert [(r["sku"], r["locale"], r["aspect"]) for r in failed] == [("ESP-BLEND-1KG", "de-DE", "9:16")], rows
    assert "Is a directory" in failed[0]["reason"], failed
    assert {r["status"] for r in rows if r not in failed} == {"skipped"}
    assert "| 0 | 11 | 0 | 0 | 0 | 1 | 0 |" in artifacts["nightly-summary"].data

    victim.rmdir()
    run, shards, logs, artifacts = _run_nightly(procs, api)
    rows = _table(artifacts["nightly-variants"])
    assert [(r["sku"], r["locale"], r["aspect"]) for r in rows if r["status"] == "rendered"] == [
        ("ESP-BLEND-1KG", "de-DE", "9:16")], rows
    assert victim.is_file()
