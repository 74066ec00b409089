"""The ledger: runs, assets and a copy of every signed manifest, in SQLite or PostgreSQL.

SQLAlchemy keeps the schema portable; SQLite (one file under the Tessera home) is the
default, PostgreSQL (`postgresql://...`, driven by psycopg 3) serves several render hosts.
A variant is identified by its variant key (a hash of every input), so the ledger answers
"was this exact variant already made, and is its file intact?".

Schema changes are alembic revisions under provenance/migrations/; opening a ledger upgrades
it to head under a database lock (PostgreSQL advisory lock, SQLite write lock), so workers
that start together migrate once. Writers may run at once on several hosts: an asset is
upserted on its unique variant key (INSERT ... ON CONFLICT), never read-then-written.
"""
from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import (
    Column, DateTime, ForeignKey, Integer, MetaData, String, Table, Text,
    create_engine, event, func, insert, inspect, select, update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from foundation.primitives import sha256_file

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
BASELINE_REVISION = "0001"            # the schema that create_all made before migrations existed
_PG_MIGRATION_LOCK = 0x7E55E4A        # advisory lock key: one migrating process per database

metadata = MetaData()

runs = Table(
    "runs", metadata,
    Column("run_id", String(64), primary_key=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("catalog", Text, nullable=False),
    Column("status", String(16), nullable=False),          # running, completed, failed
    Column("rendered", Integer, nullable=False, default=0),
    Column("skipped", Integer, nullable=False, default=0),
    Column("failed", Integer, nullable=False, default=0),
    Column("settings_json", Text, nullable=False),
)

assets = Table(
    "assets", metadata,
    Column("asset_id", String(64), primary_key=True),
    Column("variant_key", String(64), nullable=False, unique=True),
    Column("run_id", String(64), ForeignKey("runs.run_id"), nullable=False),
    Column("sku", String(128), nullable=False),
    Column("locale", String(35), nullable=False),
    Column("aspect", String(8), nullable=False),
    Column("output_path", Text, nullable=False),
    Column("sha256", String(64), nullable=False, index=True),
    Column("manifest_label", Text, nullable=False),
    Column("base_clip_key", String(64), nullable=False),
    Column("status", String(16), nullable=False, default="active"),   # active, superseded, retired, withdrawn
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# What made each variant key: the plan's inputs as canonical JSON (the key is their sha256), so a later
# plan can say which input changed. Content-addressed: written for every key a run plans to render.
variant_inputs = Table(
    "variant_inputs", metadata,
    Column("variant_key", String(64), primary_key=True),
    Column("inputs_json", Text, nullable=False),
)

manifests = Table(
    "manifests", metadata,
    Column("asset_id", String(64), ForeignKey("assets.asset_id"), primary_key=True),
    Column("label", Text, nullable=False),
    Column("manifest_json", Text, nullable=False),
)


@dataclass(frozen=True)
class AssetRecord:
    asset_id: str
    variant_key: str
    run_id: str
    sku: str
    locale: str
    aspect: str
    output_path: Path
    sha256: str
    manifest_label: str
    base_clip_key: str
    created_at: datetime
    status: str = "active"



def _now() -> datetime:
    return datetime.now(timezone.utc)


class Ledger:
    """Thin typed access to the ledger tables; one instance per run, safe across threads."""

    def __init__(self, url: str):
        self.url = url = normalize_url(url)
        if url.startswith("sqlite:///"):
            _private_sqlite_file(Path(url.removeprefix("sqlite:///")))
            self.engine: Engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
            event.listen(self.engine, "connect", _sqlite_pragmas)
        elif url.startswith("postgresql+psycopg://"):
            self.engine = create_engine(url, pool_pre_ping=True)
        else:
            raise ValueError(f"ledger URL must be sqlite:///<file> or postgresql://..., got {url!r}")
        self._insert = postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert
        upgrade_to_head(self.engine)

    # runs -------------------------------------------------------------------
    def start_run(self, run_id: str, catalog: str, settings_json: str) -> None:
        with self.engine.begin() as c:
            c.execute(insert(runs).values(run_id=run_id, started_at=_now(), catalog=catalog,
                                          status="running", settings_json=settings_json))

    def finish_run(self, run_id: str, *, status: str, rendered: int, skipped: int, failed: int) -> None:
        with self.engine.begin() as c:
            c.execute(update(runs).where(runs.c.run_id == run_id).values(
                finished_at=_now(), status=status, rendered=rendered, skipped=skipped, failed=failed))

    # assets -----------------------------------------------------------------
    def record_asset(self, rec: AssetRecord, manifest_label: str, manifest_json: str) -> None:
        """Insert or replace the asset of a variant key together with its manifest copy.

        One transaction of upserts: two writers recording the same variant key at once leave
        one row (the later write wins), never a duplicate and never a unique-key error.
        """
        row = dict(asset_id=rec.asset_id, variant_key=rec.variant_key, run_id=rec.run_id, sku=rec.sku,
                   locale=rec.locale, aspect=rec.aspect, output_path=str(rec.output_path), sha256=rec.sha256,
                   manifest_label=rec.manifest_label, base_clip_key=rec.base_clip_key, status=rec.status,
                   created_at=rec.created_at)
        asset = self._insert(assets).values(**row)
        asset = asset.on_conflict_do_update(index_elements=[assets.c.variant_key],
                                            set_={k: asset.excluded[k] for k in row if k != "variant_key"})
        manifest = self._insert(manifests).values(asset_id=rec.asset_id, label=manifest_label,
                                                  manifest_json=manifest_json)
        manifest = manifest.on_conflict_do_update(index_elements=[manifests.c.asset_id],
                                                  set_={"label": manifest.excluded.label,
                                                        "manifest_json": manifest.excluded.manifest_json})
        with self.engine.begin() as c:
            if self.engine.dialect.name == "postgresql":
                # PostgreSQL's ON CONFLICT covers one unique index (variant_key); two writers inserting
                # the same new key at once can still collide on the other (asset_id, the primary key):
                # "duplicate key ... assets_pkey" in CI. One lock per key makes them take turns.
                c.execute(select(func.pg_advisory_xact_lock(func.hashtext(rec.variant_key))))
            # An older variant written to the same path is replaced on disk: mark it, keep its record.
            c.execute(update(assets).where(assets.c.output_path == str(rec.output_path), assets.c.status == "active",
                                           assets.c.variant_key != rec.variant_key).values(status="superseded"))
            c.execute(asset)
            c.execute(manifest)

    def record_inputs(self, inputs: dict[str, str]) -> None:
        """Record the inputs JSON of variant keys ({key: inputs_json}); a key already recorded is kept
        (the same key hashes the same inputs)."""
        if not inputs:
            return
        stmt = self._insert(variant_inputs).on_conflict_do_nothing(index_elements=[variant_inputs.c.variant_key])
        with self.engine.begin() as c:
            c.execute(stmt, [{"variant_key": k, "inputs_json": v} for k, v in inputs.items()])

    def inputs_for(self, variant_key: str) -> dict | None:
        """The inputs a variant key was planned from, or None when no run recorded them."""
        with self.engine.connect() as c:
            raw = c.execute(select(variant_inputs.c.inputs_json)
                            .where(variant_inputs.c.variant_key == variant_key)).scalar()
        return json.loads(raw) if raw is not None else None

    def asset_by_key(self, variant_key: str) -> AssetRecord | None:
        with self.engine.connect() as c:
            row = c.execute(select(assets).where(assets.c.variant_key == variant_key)).mappings().first()
        return _asset(row) if row else None

    def asset_by_sha256(self, sha256: str) -> AssetRecord | None:
        with self.engine.connect() as c:
            row = c.execute(select(assets).where(assets.c.sha256 == sha256)).mappings().first()
        return _asset(row) if row else None

    def asset_id_for_sha256(self, sha256: str) -> str | None:
        """The audit's lookup: our asset id for a file's bytes, or None."""
        rec = self.asset_by_sha256(sha256)
        return rec.asset_id if rec else None

    def asset(self, asset_id: str) -> AssetRecord | None:
        with self.engine.connect() as c:
            row = c.execute(select(assets).where(assets.c.asset_id == asset_id)).mappings().first()
        return _asset(row) if row else None

    def manifest_json(self, asset_id: str) -> str | None:
        with self.engine.connect() as c:
            return c.execute(select(manifests.c.manifest_json).where(manifests.c.asset_id == asset_id)).scalar()

    def is_intact(self, variant_key: str, output_path: Path) -> bool:
        """True when the variant key is recorded for this output path and the file still hashes the same."""
        rec = self.asset_by_key(variant_key)
        if rec is None or rec.output_path != Path(output_path) or not rec.output_path.is_file():
            return False
        return sha256_file(rec.output_path) == rec.sha256

    def retire_absent(self, planned: set[tuple[str, str, str]]) -> list[str]:
        """Mark active assets whose (sku, locale, aspect) is no longer planned as retired; files are kept."""
        gone = [a.asset_id for a in self.active_assets() if (a.sku, a.locale, a.aspect) not in planned]
        if gone:
            with self.engine.begin() as c:
                # status == active again: an asset re-recorded meanwhile by a render keeps its state.
                c.execute(update(assets).where(assets.c.asset_id.in_(gone), assets.c.status == "active")
                          .values(status="retired"))
        return gone

    def withdraw(self, asset_id: str) -> None:
        """A published asset no longer passes today's registries or rules (tessera recheck): status withdrawn."""
        with self.engine.begin() as c:
            c.execute(update(assets).where(assets.c.asset_id == asset_id).values(status="withdrawn"))

    def active_assets(self) -> list[AssetRecord]:
        with self.engine.connect() as c:
            rows = c.execute(select(assets).where(assets.c.status == "active")).mappings().all()
        return [_asset(r) for r in rows]


def redacted_url(url: str) -> str:
    """The URL with its password replaced by ***: the only form a URL is stored or logged in."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable database URL>"


def _private_sqlite_file(path: Path) -> None:
    """The database file (it holds face embeddings) exists 0600 before SQLite opens it; SQLite gives
    its -wal and -shm files the same mode. A folder made for it is 0700."""
    if path == Path(":memory:") or str(path) == "":
        return
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700)
        os.chmod(path.parent, 0o700)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if os.fstat(fd).st_uid == os.geteuid():
            os.fchmod(fd, 0o600)      # an existing ledger made under a looser umask is tightened
    finally:
        os.close(fd)


def normalize_url(url: str) -> str:
    """`postgresql://` and `postgres://` mean PostgreSQL through psycopg 3 (the driver we ship)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


@functools.cache
def _revisions() -> tuple[str, frozenset[str]]:
    from alembic.script import ScriptDirectory
    script = ScriptDirectory(str(MIGRATIONS_DIR))
    head = script.get_current_head()
    if head is None:
        raise RuntimeError(f"no ledger migrations found in {MIGRATIONS_DIR}")
    return head, frozenset(r.revision for r in script.walk_revisions())


def head_revision() -> str:
    return _revisions()[0]


def current_revision(conn: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext
    return MigrationContext.configure(conn).get_current_revision()


def upgrade_to_head(engine: Engine) -> None:
    """Bring the ledger schema to the newest revision; a no-op (one query) when it is there."""
    from alembic import command
    from alembic.config import Config

    with engine.connect() as conn:
        if current_revision(conn) == head_revision():
            return
    with engine.connect() as conn:
        # 1. One migrator at a time; the others wait here, then find the work done.
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})")
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        cfg.attributes["connection"] = conn
        # 2. A ledger made by create_all before migrations existed holds the baseline schema;
        #    one migrated by a newer Tessera must not be touched by this older one.
        current = current_revision(conn)
        if current is None and inspect(conn).has_table("assets"):
            command.stamp(cfg, BASELINE_REVISION)
        elif current is not None and current not in _revisions()[1]:
            raise RuntimeError(f"ledger schema is at revision {current}, newer than this Tessera knows "
                               f"(head {head_revision()}): install the same Tessera version on every host")
        # 3. Upgrade inside the same transaction (both dialects have transactional DDL).
        command.upgrade(cfg, "head")
        conn.commit()


def _asset(row) -> AssetRecord:
    return AssetRecord(
        asset_id=row["asset_id"], variant_key=row["variant_key"], run_id=row["run_id"], sku=row["sku"],
        locale=row["locale"], aspect=row["aspect"], output_path=Path(row["output_path"]), sha256=row["sha256"],
        manifest_label=row["manifest_label"], base_clip_key=row["base_clip_key"], created_at=row["created_at"],
        status=row["status"],
    )


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    # WAL lets the audit read while a render writes; foreign keys are off by default in SQLite.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()
