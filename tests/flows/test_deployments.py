"""The deployments as registered on a Prefect server, the per-host GPU limit, and `tessera serve`."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import ConcurrencyLimitStrategy
from prefect.settings import PREFECT_API_URL

from flow_catalogs import small_catalog
from flows.deploy import apply_to_pools, tessera_deployments
from flows.gpu import ensure_gpu_limit, gpu_limit_name
from flows.nightly import RenderJob

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def job(tmp_path) -> RenderJob:
    return RenderJob(catalog=small_catalog(tmp_path / "catalog"), out=tmp_path / "out", home=tmp_path / "home",
                     short_side=240)


def test_gpu_limit_names_are_per_host_and_valid():
    assert gpu_limit_name("GPU-Box_7.example.com") == "gpu-gpu-box-7-example-com"
    assert gpu_limit_name() == gpu_limit_name(os.uname().nodename)
    with pytest.raises(ValueError, match="empty"):
        gpu_limit_name("...")


def test_ensure_gpu_limit_creates_then_resizes_the_hosts_limit():
    name = ensure_gpu_limit(1, "render-host-a")
    assert ensure_gpu_limit(3, "render-host-a") == name == "gpu-render-host-a"
    with get_client(sync_client=True) as client:
        limit = client.read_global_concurrency_limit_by_name(name)
    assert (limit.limit, limit.active) == (3, True)


def test_deployments_on_pools_keep_schedule_time_zone_and_one_night_at_a_time(job):
    deployments = tessera_deployments(job, shards=3, cron="30 1 * * *", timezone="America/New_York",
                                      gpu_pool="test-gpu", control_pool="test-control")
    apply_to_pools(deployments)
    with get_client(sync_client=True) as client:
        nightly = client.read_deployment_by_name("tessera-nightly/nightly")
        shard = client.read_deployment_by_name("tessera-render-shard/render-shard")
        audit = client.read_deployment_by_name("tessera-audit/audit")
        pools = {p: client.read_work_pool(p).type for p in ("test-gpu", "test-control")}
    [schedule] = nightly.schedules
    assert (schedule.schedule.cron, schedule.schedule.timezone, schedule.active) == ("30 1 * * *",
                                                                                     "America/New_York", True)
    assert nightly.global_concurrency_limit.limit == 1
    assert nightly.concurrency_options.collision_strategy == ConcurrencyLimitStrategy.CANCEL_NEW
    assert nightly.parameters["shards"] == 3 and nightly.parameters["job"]["short_side"] == 240
    assert (nightly.work_pool_name, shard.work_pool_name, audit.work_pool_name) == ("test-control", "test-gpu",
                                                                                  "test-control")
    assert shard.entrypoint == "flows.nightly.render_shard" and shard.schedules == []
    assert pools == {"test-gpu": "process", "test-control": "process"}


@pytest.mark.slow
def test_stopping_tessera_serve_leaves_the_nightly_schedule_active(job, tmp_path):
    env = dict(os.environ, PREFECT_API_URL=PREFECT_API_URL.value(), PREFECT_SERVER_ANALYTICS_ENABLED="false")
    log = open(tmp_path / "serve.log", "w")
    serve = subprocess.Popen(
        [sys.executable, "-c", "import faulthandler, signal, sys; faulthandler.register(signal.SIGUSR1, all_threads=True);"
         " from flows.cli_ops import serve; serve(sys.argv[1:])", str(job.catalog),
         "--out", str(job.out), "--home", str(job.home), "--shards", "1", "--gpu-slots", "2",
         "--timezone", "Asia/Tokyo"], env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True)
    try:
        deployment = _wait_for_served_nightly(serve, tmp_path / "serve.log")
        assert deployment.schedules[0].schedule.timezone == "Asia/Tokyo"
        serve.send_signal(signal.SIGINT)              # what Ctrl-C or `systemctl stop` (KillSignal=SIGINT) sends
        try:
            code = serve.wait(60)
        except subprocess.TimeoutExpired:
            serve.send_signal(signal.SIGUSR1)         # faulthandler: every thread's stack into the log
            time.sleep(2)
            pytest.fail("tessera serve still runs 60 s after SIGINT:\n" + (tmp_path / "serve.log").read_text())
        assert code in (0, 1, -signal.SIGINT, 130), (tmp_path / "serve.log").read_text()
    finally:
        if serve.poll() is None:
            os.killpg(serve.pid, signal.SIGKILL)
            serve.wait(10)
    with get_client(sync_client=True) as client:
        after = client.read_deployment_by_name("tessera-nightly/nightly")
        gpu = client.read_global_concurrency_limit_by_name(gpu_limit_name())
    assert [s.active for s in after.schedules] == [True] and not after.paused, (tmp_path / "serve.log").read_text()
    assert gpu.limit == 2


def _wait_for_served_nightly(proc: subprocess.Popen, log: Path, timeout_s: float = 180):
    deadline = time.monotonic() + timeout_s
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            assert proc.poll() is None, f"tessera serve exited {proc.returncode}:\n{log.read_text()}"
            # Served deployments are registered before the runner starts polling.
            for d in client.read_deployments():
                if d.name == "nightly" and d.schedules and d.schedules[0].schedule.timezone == "Asia/Tokyo":
                    time.sleep(3)    # let the runner finish starting, so the stop goes through its shutdown path
                    return d
            time.sleep(1)
    pytest.fail(f"tessera serve did not register its deployments within {timeout_s} s:\n{log.read_text()}")


def test_a_render_job_carries_the_diffusion_backend_to_every_shard(job, tmp_path):
    model = tmp_path / "tiny-model"
    gpu_job = RenderJob.model_validate(job.model_dump(mode="json") | {
        "backend": "diffusers", "diffusion": {"model": str(model), "num_inference_steps": 2}, "candidates": 2})
    options = gpu_job.settings().options
    assert (options.backend, options.diffusion.model, options.diffusion.num_inference_steps, options.candidates) == (
        "diffusers", str(model), 2, 2)
    with pytest.raises(ValueError, match="needs diffusion settings"):
        job.model_copy(update={"backend": "diffusers"}).settings()
