"""Secrets and homes: no database password in Prefect's database, the ledger or the logs;
homes private by mode; a missing or read-only home is one line and exit 2."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.settings import PREFECT_API_DATABASE_CONNECTION_URL, PREFECT_API_URL, PREFECT_HOME
from pydantic import ValidationError

from flow_catalogs import small_catalog
from production_ca_for_flows import make_production_ca
from provenance import read_c2pa
from flows.deploy import apply_to_pools, tessera_deployments
from flows.nightly import RenderJob
from pipeline.render import _settings_record
from pipeline.settings import Settings
from foundation.primitives import canonical_json

pytestmark = pytest.mark.slow   # whole renders or many CLI processes: `make test-fast` leaves them out

PASSWORD = "HUNTER2-not-for-logs"
URL = f"postgresql://tessera:{PASSWORD}@127.0.0.1:1/ledger"
REPO = Path(__file__).resolve().parents[2]


def _cli(*args, env=None, prefix=()):
    return subprocess.run([*prefix, sys.executable, "-m", "flows.cli", *map(str, args)], capture_output=True,
                          text=True, timeout=300, env={**os.environ, **(env or {})}, cwd=REPO)


def _files_under(folder: Path):
    return [p for p in folder.rglob("*") if p.is_file()] if folder.is_dir() else []


def test_no_password_in_prefect_the_ledger_record_or_the_logs(tmp_path, monkeypatch):
    monkeypatch.setenv("TESSERA_LEDGER_URL", URL)
    job = RenderJob(catalog=small_catalog(tmp_path / "catalog"), out=tmp_path / "out", home=tmp_path / "home",
                    ledger_url_env="TESSERA_LEDGER_URL")
    assert job.ledger_url() == URL          # resolved where the run starts, from this host's environment
    apply_to_pools(tessera_deployments(job, shards=2, gpu_pool="secret-gpu", control_pool="secret-control"))
    with get_client(sync_client=True) as client:
        params = [client.read_deployment_by_name(n).parameters
                  for n in ("tessera-nightly/nightly", "tessera-audit/audit")]
    assert params[0]["job"]["ledger_url_env"] == "TESSERA_LEDGER_URL" and PASSWORD not in repr(params)
    # 1. Prefect's own files: its home and its database (with any -wal/-shm beside it)
    db = Path(PREFECT_API_DATABASE_CONNECTION_URL.value().split("///", 1)[1])
    prefect_files = _files_under(Path(PREFECT_HOME.value())) + _files_under(db.parent)
    assert db in prefect_files
    assert not [p for p in prefect_files if PASSWORD.encode() in p.read_bytes()]
    # 2. The ledger's record of a run's settings
    record = canonical_json(_settings_record(Settings.build(home=tmp_path / "home", ledger_url=URL)))
    assert PASSWORD not in record and "tessera:***@127.0.0.1:1/ledger" in record
    # 3. What the commands print when that ledger cannot be reached: one line, password hidden
    home = tmp_path / "home"
    home.mkdir()
    for args, env in ((("--ledger", URL), None), ((), {"TESSERA_LEDGER_URL": URL})):
        result = _cli("audit", "--home", home, *args, tmp_path / "catalog", env=env)
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: cannot open the ledger "
                                                       "postgresql://tessera:***@127.0.0.1:1/ledger: ")
        assert PASSWORD not in result.stderr + result.stdout


def test_a_url_is_refused_where_an_environment_variable_name_belongs(tmp_path):
    with pytest.raises(ValidationError) as err:
        RenderJob(catalog=tmp_path, out=tmp_path, home=tmp_path, ledger_url_env=URL)
    assert "must name an environment variable" in str(err.value) and PASSWORD not in str(err.value)


def test_a_home_is_created_private_whatever_the_umask(tmp_path):
    home = tmp_path / "new-home"
    root = tmp_path / "root.pem"
    from production_ca_for_flows import write_root
    write_root(root)
    result = subprocess.run([sys.executable, "-m", "flows.cli", "trust", "set", "--anchors", str(root),
                             "--home", str(home)], capture_output=True, text=True, timeout=120,
                            preexec_fn=lambda: os.umask(0), cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert (home.stat().st_mode & 0o777, (home / "config.json").stat().st_mode & 0o777) == (0o700, 0o600)
    listed = subprocess.run([sys.executable, "-m", "flows.cli", "audit", "--home", str(home), str(root)],
                            capture_output=True, text=True, timeout=120, preexec_fn=lambda: os.umask(0), cwd=REPO)
    assert listed.returncode == 1    # a .pem is not media: one fail row; the ledger is made on the way
    assert (home / "ledger.sqlite").stat().st_mode & 0o777 == 0o600
    for extra in ("ledger.sqlite-wal", "ledger.sqlite-shm"):
        if (home / extra).exists():
            assert (home / extra).stat().st_mode & 0o077 == 0


def test_a_read_only_home_is_one_line_and_exit_2_for_audit_and_render(tmp_path):
    home = tmp_path / "ro-home"
    home.mkdir()
    (tmp_path / "a.jpg").write_bytes(b"\xff\xd8\xff")
    home.chmod(0o555)
    prefix: tuple[str, ...] = ()
    if os.geteuid() == 0:   # root writes anywhere: drop the capabilities that let it
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: cannot make a folder read-only to root")
        caps = "-dac_override,-dac_read_search"
        prefix = (setpriv, f"--inh-caps={caps}", f"--bounding-set={caps}", "--")
    try:
        audit = _cli("audit", "--home", home, tmp_path / "a.jpg", prefix=prefix)
        render = _cli("render", REPO / "catalogs" / "sample", "--out", tmp_path / "out", "--home", home,
                      prefix=prefix)
    finally:
        home.chmod(0o700)
    want = [f"Error: the Tessera home {home} is read-only (the ledger and journal are written there)"]
    for result in (audit, render):
        assert result.returncode == 2, result.stderr
        assert result.stderr.strip().splitlines() == want
    assert not (tmp_path / "out").exists()


def test_render_refuses_a_production_key_others_can_read_unless_allowed(tmp_path):
    _, chain, key = make_production_ca(tmp_path / "secure")
    key.chmod(0o644)
    catalog = small_catalog(tmp_path / "catalog", locales=("de-DE",), aspects="1:1")
    home, out = tmp_path / "home", tmp_path / "out"
    args = ("render", catalog, "--out", out, "--home", home, "--short-side", "288", "--cert-chain", chain,
            "--private-key", key)
    refused = _cli(*args)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert f"{key}: private key is readable by others (mode 644)" in refused.stderr
    assert "--allow-insecure-key" in refused.stderr and "Traceback" not in refused.stderr
    assert not out.exists()
    # The test session's Prefect server: a render process starting its own can time out on a busy host.
    allowed = _cli(*args, "--allow-insecure-key", env={"PREFECT_API_URL": PREFECT_API_URL.value()})
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    assert [read_c2pa(f, None).signer for f in out.rglob("*.mp4")] == ["Acme Ads GmbH"]
