"""The ledger and the authorship journal on a real PostgreSQL server, with writers at once.

The fixture runs a throwaway PostgreSQL cluster on loopback: initdb into a temp dir (as the
`postgres` user when we are root, since initdb refuses root), pg_ctl start on a free port,
stop and delete afterwards. When the server binaries are missing it installs the Debian
`postgresql` package (root with apt only); it skips, saying why, only when it cannot.
"""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import threading
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, func, select, text

from compliance.journal import Journal, JournalEvent
from compliance.journal import metadata as journal_metadata
from foundation.primitives import sha256_file
from provenance.ledger import AssetRecord, Ledger, assets, head_revision, manifests, metadata

from ledger_0003 import ledger_at_0003

WRITERS = 4
KEYS = 24


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _install_postgres() -> str | None:
    """Install the Debian server package; returns why not, or None when it worked."""
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return "PostgreSQL server binaries are missing and we are not root with apt-get to install them"
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "--no-install-recommends", "postgresql"]):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            return f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr[-2000:]}"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def pg_server():
    """(pg bin dir, port, run-as user) of a running throwaway cluster."""
    if _pg_bin() is None:
        why = _install_postgres()
        if why:
            pytest.skip(why)
    bindir = _pg_bin()
    assert bindir is not None, "postgresql installed but no initdb found under /usr/lib/postgresql/*/bin"
    root = Path(tempfile.mkdtemp(prefix="tessera-pg-"))   # not under pytest's 0700 root-owned tmp
    as_root = os.geteuid() == 0
    user = "postgres" if as_root else None
    if as_root:
        shutil.chown(root, "postgres", "postgres")
    data, log, port = root / "data", root / "server.log", _free_port()

    def run(*cmd: str) -> None:
        done = subprocess.run(cmd, user=user, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}\n" + (
            log.read_text() if log.exists() else "")

    run(str(bindir / "initdb"), "-D", str(data), "-U", "tessera", "--auth=trust", "-E", "UTF8", "--no-sync")
    run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60", "start", "-o",
        f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60")
    try:
        yield bindir, port, user
    finally:
        subprocess.run([str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"], user=user,
                       capture_output=True, timeout=120)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server, request) -> str:
    """A fresh database per test, as a plain postgresql:// URL (the ledger picks psycopg 3)."""
    _, port, _ = pg_server
    name = "t_" + request.node.name.lower().replace("[", "_").replace("]", "").replace("-", "_")[:50]
    admin = create_engine(f"postgresql+psycopg://tessera@127.0.0.1:{port}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        c.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return f"postgresql://tessera@127.0.0.1:{port}/{name}"


def _record(folder: Path, key: str, writer: int) -> AssetRecord:
    out = folder / f"{key}.mp4"
    if not out.exists():
        out.write_bytes(f"video {key}".encode())
    return AssetRecord(asset_id=f"tsr-{key}", variant_key=key, run_id=f"run-{writer}", sku="SKU-1", locale="de-DE",
                       aspect="9:16", output_path=out, sha256=sha256_file(out), manifest_label=f"urn:c2pa:{key}",
                       base_clip_key="base1", created_at=datetime.now(timezone.utc))


def test_same_schema_and_behaviour_on_postgres(pg_url, tmp_path):
    led = Ledger(pg_url)
    assert led.engine.dialect.name == "postgresql" and led.engine.dialect.driver == "psycopg"
    with led.engine.connect() as c:
        assert c.execute(text("select version_num from alembic_version")).scalar() == head_revision()
        assert compare_metadata(MigrationContext.configure(c), [metadata, journal_metadata]) == []
    led.start_run("run-0", "catalogs/x", "{}")
    rec = _record(tmp_path, "k1", 0)
    led.record_asset(rec, "urn:c2pa:1", '{"v": 1}')
    assert led.asset_by_key("k1").asset_id == "tsr-k1"
    assert led.asset_by_sha256(rec.sha256).output_path == rec.output_path
    assert led.asset("tsr-k1").created_at.tzinfo is not None
    assert led.is_intact("k1", rec.output_path)
    led.record_asset(rec, "urn:c2pa:2", '{"v": 2}')             # re-recording replaces row and manifest
    assert len(led.active_assets()) == 1 and led.manifest_json("tsr-k1") == '{"v": 2}'
    assert led.retire_absent({("SKU-2", "de-DE", "9:16")}, catalog="catalogs/y", output_dir=tmp_path) == []
    assert led.retire_absent({("SKU-2", "de-DE", "9:16")}, catalog="catalogs/x", output_dir=tmp_path) == ["tsr-k1"]
    assert led.active_assets() == [] and led.asset("tsr-k1").status == "retired"
    led.finish_run("run-0", status="completed", rendered=1, skipped=0, failed=0)
    Ledger(pg_url)                                               # reopening an up-to-date ledger migrates nothing


def _run_writers(count: int, writer) -> list[Exception]:
    """Run writer(n) for n < count on threads at once; the exceptions they raised."""
    errors: list[Exception] = []

    def run(n: int) -> None:
        try:
            writer(n)
        except Exception as exc:  # collected: the caller's assertion names it
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    return errors


@pytest.mark.slow
def test_workers_opening_a_fresh_database_at_once_migrate_it_once(pg_url):
    barrier = threading.Barrier(WRITERS, timeout=120)

    def open_ledger(n: int) -> None:
        barrier.wait()
        Ledger(pg_url)

    assert _run_writers(WRITERS, open_ledger) == []
    with create_engine(Ledger(pg_url).url).connect() as c:
        assert c.execute(text("select version_num from alembic_version")).scalars().all() == [head_revision()]


@pytest.mark.parametrize("backend", [pytest.param("postgresql", marks=pytest.mark.slow), "sqlite"])
def test_concurrent_writers_keep_every_asset_once_and_every_journal_event(backend, request, tmp_path, creds):
    url = request.getfixturevalue("pg_url") if backend == "postgresql" else f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    Ledger(url)                                           # migrate up front, as the nightly flow does
    keys = [f"key{i:03d}" for i in range(KEYS)]
    barrier = threading.Barrier(WRITERS, timeout=120)

    def writer(n: int) -> None:
        # Each writer has its own engine (as a separate worker process would), records every key
        # (all writers overlap on all keys, in different orders) and journals each decision.
        order = keys[n % 2::2] + keys[(n + 1) % 2::2] if n % 2 else list(reversed(keys))
        led = Ledger(url)
        journal = Journal(led.engine, creds.private_key_pem, creds.cert_chain_pem)
        led.start_run(f"run-{n}", "catalogs/x", "{}")
        barrier.wait()
        for key in order:
            led.record_asset(_record(tmp_path, key, n), f"urn:c2pa:{key}", f'{{"writer": {n}}}')
            journal.append(JournalEvent(variant_key=key, actor=f"render-worker-{n}", actor_kind="system",
                                        action="publication", asset_id=f"tsr-{key}",
                                        detail={"writer": n}, event_id=f"w{n}-{key}"))

    errors = _run_writers(WRITERS, writer)
    assert errors == [], f"writers failed: {errors!r}"

    led = Ledger(url)
    with led.engine.connect() as c:
        assert c.execute(select(func.count()).select_from(assets)).scalar() == KEYS
        assert c.execute(select(func.count(assets.c.variant_key.distinct()))).scalar() == KEYS
        assert c.execute(select(func.count()).select_from(manifests)).scalar() == KEYS
    assert sorted(a.variant_key for a in led.active_assets()) == keys
    journal = Journal(led.engine, creds.private_key_pem, creds.cert_chain_pem)
    events = journal.events()
    assert [e.seq for e in events] == list(range(1, WRITERS * KEYS + 1))
    assert {e.event_id for e in events} == {f"w{n}-{k}" for n in range(WRITERS) for k in keys}
    verdict = journal.verify()
    assert verdict.ok, verdict.problem


@pytest.mark.slow
def test_writers_recording_one_new_key_at_the_same_instant_never_collide(pg_url, tmp_path):
    """ON CONFLICT (variant_key, output_dir) does not cover the other unique index (the primary key): writers
    that insert the same new key at the same instant failed with 'duplicate key ... assets_pkey' (seen
    once in CI; without the lock this test failed each of the 4 times it ran) until record_asset
    took a per-key lock."""
    writers, rounds = 8, 150
    Ledger(pg_url)
    ledgers = [Ledger(pg_url) for _ in range(writers)]
    for n, led in enumerate(ledgers):
        led.start_run(f"run-{n}", "catalogs/x", "{}")
    barrier = threading.Barrier(writers, timeout=60)

    def writer(n: int) -> None:
        for r in range(rounds):
            barrier.wait()                                # every writer inserts key r at once
            ledgers[n].record_asset(_record(tmp_path, f"new{r:03d}", n), f"urn:c2pa:new{r:03d}", "{}")

    errors = _run_writers(writers, writer)
    assert errors == [], f"writes failed: {errors!r}"
    with ledgers[0].engine.connect() as c:
        assert c.execute(select(func.count()).select_from(assets)).scalar() == rounds
        assert c.execute(select(func.count()).select_from(manifests)).scalar() == rounds


def test_migration_0004_on_postgres_keeps_rows_and_adds_a_second_folder(pg_url, tmp_path):
    ledger_at_0003(pg_url, "/srv/out")
    led = Ledger(pg_url)
    with led.engine.connect() as c:
        assert compare_metadata(MigrationContext.configure(c), [metadata, journal_metadata]) == []
    a = led.asset("tsr-a")
    assert (a.catalog, a.output_dir, led.manifest_json("tsr-a")) == ("/cat", Path("/srv/out"), '{"asset": "tsr-a"}')
    # The same variant recorded in a second folder is a second row; the first keeps its row and manifest.
    second = _record(tmp_path, "ka", 0)
    led.start_run("run-0", "/cat", "{}")
    led.record_asset(replace(second, asset_id="tsr-a", output_dir=tmp_path), "urn:c2pa:2", '{"folder": 2}')
    assert led.manifest_json("tsr-a", Path("/srv/out")) == '{"asset": "tsr-a"}'
    assert led.manifest_json("tsr-a", tmp_path) == '{"folder": 2}'
    assert {r.output_dir for r in led.active_assets(catalog="/cat")} == {Path("/srv/out"), tmp_path}
