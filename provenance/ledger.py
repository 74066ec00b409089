"""The ledger: runs, assets and a copy of every signed manifest, in SQLite or PostgreSQL.

SQLAlchemy keeps the schema portable; SQLite (one file under the Tessera home) is the
default, PostgreSQL (`postgresql://...`, driven by psycopg 3) serves several render hosts.
A variant is identified by its variant key (a hash of every input), so the ledger answers
"was this exact variant already made, and is its file intact?".

Every asset row belongs to a catalog (the resolved catalog folder of the run that made it) and
an output folder (the render's --out): one row per variant key and output folder, so rendering
a catalog into a second folder adds that folder's rows and keeps the first one's, and a render
retires only rows of its own catalog and folder. The asset id (hash of the variant key) is the
same in every folder: it is what the watermark and the manifest carry.

Schema changes are alembic revisions under provenance/migrations/; opening a ledger upgrades
it to head under a database lock (PostgreSQL advisory lock, SQLite write lock), so workers
that start together migrate once. Writers may run at once on several hosts: an asset is
upserted on its unique (variant key, output folder) (INSERT ... ON CONFLICT), never read-then-written.
"""
from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import (
    BigInteger, Column, DateTime, ForeignKey, ForeignKeyConstraint, Integer, MetaData, PrimaryKeyConstraint, String, Table, Text,
    UniqueConstraint, and_, case, create_engine, event, func, insert, inspect, select, text, update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from foundation.primitives import sha256_file

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
BASELINE_REVISION = "0001"            # the schema that create_all made before migrations existed
HEAD_REVISION = "0005"                # the newest revision under migrations/versions (a test checks it)
_PG_MIGRATION_LOCK = 0x7E55E4A        # advisory lock key: one migrating process per database

metadata = MetaData()

runs = Table(
    "runs", metadata,
    Column("run_id", String(64), primary_key=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("catalog", Text, nullable=False),
    Column("status", String(16), nullable=False),          # running, completed, failed, interrupted
    Column("rendered", Integer, nullable=False, default=0),
    Column("skipped", Integer, nullable=False, default=0),
    Column("failed", Integer, nullable=False, default=0),
    Column("settings_json", Text, nullable=False),
    # The render lock the run held (pipeline.lock.run_scope: host, home, output folder, shard): a row still
    # running with the scope of a lock another process now holds belongs to a run that is dead.
    Column("lock_scope", Text),
)

# One row per variant key and output folder (migration 0004 made the key so).
assets = Table(
    "assets", metadata,
    Column("asset_id", String(64), nullable=False),
    Column("variant_key", String(64), nullable=False),
    Column("run_id", String(64), ForeignKey("runs.run_id"), nullable=False),
    Column("sku", String(128), nullable=False),
    Column("locale", String(35), nullable=False),
    Column("aspect", String(8), nullable=False),
    Column("output_path", Text, nullable=False, index=True),
    Column("sha256", String(64), nullable=False, index=True),
    Column("manifest_label", Text, nullable=False),
    Column("base_clip_key", String(64), nullable=False),
    Column("status", String(16), nullable=False, default="active"),   # active, superseded, retired, withdrawn
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("catalog", Text, nullable=False),        # the catalog identity (see catalog_identity)
    Column("output_dir", Text, nullable=False),     # the render's resolved --out folder
    # The file's size and mtime when recorded (migration 0005; None in older rows): a plan hashes again
    # only a file whose size or mtime changed (is_intact); the audit always hashes.
    Column("size", BigInteger),
    Column("mtime_ns", BigInteger),
    PrimaryKeyConstraint("asset_id", "output_dir", name="pk_assets"),
    UniqueConstraint("variant_key", "output_dir", name="uq_assets_variant_output"),
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
    Column("asset_id", String(64), nullable=False),
    Column("output_dir", Text, nullable=False),
    Column("label", Text, nullable=False),
    Column("manifest_json", Text, nullable=False),
    PrimaryKeyConstraint("asset_id", "output_dir", name="pk_manifests"),
    ForeignKeyConstraint(["asset_id", "output_dir"], ["assets.asset_id", "assets.output_dir"],
                         name="fk_manifests_assets"),
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
    catalog: str = ""                 # "": the catalog of the row's run (runs.catalog)
    output_dir: Path | None = None    # None: the file's folder
    size: int | None = None           # the file's size and mtime (ns) when recorded, None if not known
    mtime_ns: int | None = None

    @property
    def folder(self) -> Path:
        """The output folder the row belongs to."""
        return self.output_dir if self.output_dir is not None else self.output_path.parent


@dataclass(frozen=True)
class PathRecord:
    """What the ledger records about one file the audit reads: where its content is recorded,
    and which asset is recorded at its path."""
    by_content: tuple[AssetRecord, ...]   # rows whose sha256 is the file's (any folder, any status)
    at_path: AssetRecord | None           # the current (not superseded) row at the file's path
    in_output_dir: bool                   # the file lies inside an output folder the ledger records



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
    def start_run(self, run_id: str, catalog: str, settings_json: str, lock_scope: str | None = None) -> None:
        with self.engine.begin() as c:
            c.execute(insert(runs).values(run_id=run_id, started_at=_now(), catalog=catalog, status="running",
                                          settings_json=settings_json, lock_scope=lock_scope))

    def finish_run(self, run_id: str, *, status: str, rendered: int, skipped: int, failed: int) -> None:
        with self.engine.begin() as c:
            c.execute(update(runs).where(runs.c.run_id == run_id).values(
                finished_at=_now(), status=status, rendered=rendered, skipped=skipped, failed=failed))

    def close_interrupted(self, lock_scope: str) -> list[str]:
        """Runs still marked running under this lock scope become interrupted (finished now); the caller
        holds that lock, so none of them is alive. Their run ids."""
        where = and_(runs.c.status == "running", runs.c.lock_scope == lock_scope)
        with self.engine.begin() as c:
            ids = list(c.execute(select(runs.c.run_id).where(where)).scalars())
            if ids:
                c.execute(update(runs).where(where, runs.c.run_id.in_(ids))
                          .values(status="interrupted", finished_at=_now()))
        return ids

    # assets -----------------------------------------------------------------
    def record_asset(self, rec: AssetRecord, manifest_label: str, manifest_json: str) -> None:
        """Insert or replace the asset of a variant key in its output folder, with its manifest copy.

        One transaction of upserts: two writers recording the same key and folder at once leave
        one row (the later write wins), never a duplicate and never a unique-key error. The row's
        catalog, when the record names none, is its run's.
        """
        out = str(rec.folder)
        row = dict(asset_id=rec.asset_id, variant_key=rec.variant_key, run_id=rec.run_id, sku=rec.sku,
                   locale=rec.locale, aspect=rec.aspect, output_path=str(rec.output_path), sha256=rec.sha256,
                   manifest_label=rec.manifest_label, base_clip_key=rec.base_clip_key, status=rec.status,
                   created_at=rec.created_at, output_dir=out, size=rec.size, mtime_ns=rec.mtime_ns)
        manifest = self._insert(manifests).values(asset_id=rec.asset_id, output_dir=out, label=manifest_label,
                                                  manifest_json=manifest_json)
        manifest = manifest.on_conflict_do_update(index_elements=[manifests.c.asset_id, manifests.c.output_dir],
                                                  set_={"label": manifest.excluded.label,
                                                        "manifest_json": manifest.excluded.manifest_json})
        with self.engine.begin() as c:
            if self.engine.dialect.name == "postgresql":
                # PostgreSQL's ON CONFLICT covers one unique index (variant_key, output_dir); two writers
                # inserting the same new key at once can still collide on the other (the primary key):
                # "duplicate key ... pkey" in CI. One lock per key and folder makes them take turns.
                c.execute(select(func.pg_advisory_xact_lock(func.hashtext(f"{rec.variant_key}|{out}"))))
            catalog = rec.catalog or c.execute(select(runs.c.catalog).where(runs.c.run_id == rec.run_id)).scalar()
            if catalog is None:
                raise ValueError(f"asset {rec.asset_id}: run {rec.run_id} is not in the ledger")
            asset = self._insert(assets).values(**row, catalog=catalog)
            asset = asset.on_conflict_do_update(
                index_elements=[assets.c.variant_key, assets.c.output_dir],
                set_={k: asset.excluded[k] for k in (*row, "catalog") if k not in ("variant_key", "output_dir")})
            # An older variant written to the same path is replaced on disk: mark it, keep its record.
            c.execute(update(assets).where(assets.c.output_path == str(rec.output_path),
                                           assets.c.status.in_(("active", "retired")),
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

    def _first(self, *where) -> AssetRecord | None:
        """The row matching `where` that speaks for the asset: an active one first, then the newest."""
        with self.engine.connect() as c:
            row = c.execute(select(assets).where(*where).order_by(*_PREFERRED)).mappings().first()
        return _asset(row) if row else None

    def asset_by_key(self, variant_key: str, output_dir: Path | None = None) -> AssetRecord | None:
        """The row of a variant key (in `output_dir`, or the one that speaks for it in any folder)."""
        folder = () if output_dir is None else (assets.c.output_dir == str(output_dir),)
        return self._first(assets.c.variant_key == variant_key, *folder)

    def asset_by_sha256(self, sha256: str) -> AssetRecord | None:
        return self._first(assets.c.sha256 == sha256)

    def asset_id_for_sha256(self, sha256: str) -> str | None:
        """The audit's lookup: our asset id for a file's bytes, or None."""
        rec = self.asset_by_sha256(sha256)
        return rec.asset_id if rec else None

    def asset(self, asset_id: str, output_dir: Path | None = None) -> AssetRecord | None:
        """An asset's row (in `output_dir`, or the one that speaks for it in any folder)."""
        folder = () if output_dir is None else (assets.c.output_dir == str(output_dir),)
        return self._first(assets.c.asset_id == asset_id, *folder)

    def manifest_json(self, asset_id: str, output_dir: Path | None = None) -> str | None:
        """The stored manifest of an asset (in `output_dir`, or of the row that speaks for it)."""
        rec = self.asset(asset_id, output_dir)
        if rec is None:
            return None
        with self.engine.connect() as c:
            return c.execute(select(manifests.c.manifest_json).where(
                manifests.c.asset_id == asset_id, manifests.c.output_dir == str(rec.folder))).scalar()

    def is_intact(self, variant_key: str, output_path: Path) -> bool:
        """True when the variant key is recorded at this output path (not superseded there) and the file
        is the one recorded: the same size and mtime as recorded, else (or when the row has neither) the
        same sha256. A retired row counts: planned again, it is made active (activate)."""
        rec = self._first(assets.c.variant_key == variant_key, assets.c.output_path == str(output_path),
                          assets.c.status != "superseded")
        return rec is not None and file_matches(rec)

    def intact(self, planned: Iterable[tuple[str, Path]]) -> set[tuple[str, Path]]:
        """The (variant key, output path) pairs of which is_intact holds, looked up in batches (one query
        per 500 paths instead of one per variant)."""
        wanted = {(key, str(path)) for key, path in planned}
        paths = sorted({path for _, path in wanted})
        found: dict[tuple[str, str], AssetRecord] = {}
        with self.engine.connect() as c:
            for i in range(0, len(paths), 500):
                rows = c.execute(select(assets).where(assets.c.output_path.in_(paths[i:i + 500]),
                                                      assets.c.status != "superseded").order_by(*_PREFERRED))
                for row in rows.mappings():
                    pair = (row["variant_key"], row["output_path"])
                    if pair in wanted and pair not in found:
                        found[pair] = _asset(row)
        return {(key, Path(path)) for (key, path), rec in found.items() if file_matches(rec)}

    def activate(self, variant_keys: list[str], output_dir: Path) -> list[str]:
        """Rows of these keys in `output_dir` that were retired become active again (planned again,
        their files intact); the asset ids made active."""
        ids: list[str] = []
        with self.engine.begin() as c:
            for i in range(0, len(variant_keys), 500):   # SQLite caps the bound values of one statement
                where = and_(assets.c.variant_key.in_(variant_keys[i:i + 500]),
                             assets.c.output_dir == str(output_dir), assets.c.status == "retired")
                found = list(c.execute(select(assets.c.asset_id).where(where)).scalars())
                if found:
                    c.execute(update(assets).where(where).values(status="active"))
                ids += found
        return ids

    def retire_absent(self, planned: set[tuple[str, str, str]], *, catalog: str, output_dir: Path) -> list[str]:
        """Mark active assets of this catalog and output folder whose (sku, locale, aspect) is no longer
        planned as retired; files are kept. Other catalogs' and folders' rows are not this render's."""
        gone = [a.asset_id for a in self.active_assets(catalog=catalog, output_dir=output_dir)
                if (a.sku, a.locale, a.aspect) not in planned]
        if gone:
            with self.engine.begin() as c:
                # status == active again: an asset re-recorded meanwhile by a render keeps its state.
                c.execute(update(assets).where(assets.c.asset_id.in_(gone), assets.c.status == "active",
                                               assets.c.catalog == catalog, assets.c.output_dir == str(output_dir))
                          .values(status="retired"))
        return gone

    def withdraw(self, asset_id: str, output_dir: Path | None = None) -> None:
        """A published asset (its row in `output_dir`, or every row) no longer passes today's registries or
        rules (tessera recheck): status withdrawn."""
        folder = () if output_dir is None else (assets.c.output_dir == str(output_dir),)
        with self.engine.begin() as c:
            c.execute(update(assets).where(assets.c.asset_id == asset_id, *folder).values(status="withdrawn"))

    def active_assets(self, *, catalog: str | None = None, output_dir: Path | None = None) -> list[AssetRecord]:
        """Active rows, of one catalog and/or output folder when given."""
        where = [assets.c.status == "active"]
        if catalog is not None:
            where.append(assets.c.catalog == catalog)
        if output_dir is not None:
            where.append(assets.c.output_dir == str(output_dir))
        with self.engine.connect() as c:
            rows = c.execute(select(assets).where(*where)).mappings().all()
        return [_asset(r) for r in rows]

    def path_record(self, path: Path, sha256: str | None) -> PathRecord:
        """The audit's path check: rows with this content, the row at this (resolved) path, and
        whether the path lies inside a recorded output folder."""
        path = Path(path)
        with self.engine.connect() as c:
            by_content = c.execute(select(assets).where(assets.c.sha256 == sha256).order_by(*_PREFERRED)
                                   ).mappings().all() if sha256 else []
            here = c.execute(select(assets).where(assets.c.output_path == str(path), assets.c.status != "superseded")
                             .order_by(*_PREFERRED)).mappings().first()
            folders = c.execute(select(assets.c.output_dir).distinct()).scalars().all()
        inside = any(path.is_relative_to(folder) for folder in folders)
        return PathRecord(tuple(_asset(r) for r in by_content), _asset(here) if here else None, inside)


# Which of several rows speaks for an asset: an active one, then the newest.
_PREFERRED = (case((assets.c.status == "active", 0), else_=1), assets.c.created_at.desc())


def recorded_keys(url: str, output_dir: Path) -> frozenset[str]:
    """The variant keys the ledger at `url` records in `output_dir` (not superseded), read without
    creating or migrating anything: empty when there is no ledger yet, or its schema predates
    output folders."""
    url = normalize_url(url)
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        return frozenset()
    engine = create_engine(url)
    try:
        with engine.connect() as c:
            schema = inspect(c)
            if not schema.has_table("assets") or "output_dir" not in {col["name"] for col in schema.get_columns("assets")}:
                return frozenset()
            return frozenset(c.execute(select(assets.c.variant_key).where(
                assets.c.output_dir == str(Path(output_dir).resolve()), assets.c.status != "superseded")).scalars())
    finally:
        engine.dispose()


def file_stat(path: Path) -> tuple[int, int]:
    """(size, mtime_ns) of a file, as the ledger records them beside its sha256."""
    st = Path(path).stat()
    return st.st_size, st.st_mtime_ns


def file_matches(rec: AssetRecord) -> bool:
    """The recorded file is still there unchanged: by size and mtime when both are recorded and equal,
    else by its sha256 (a file rewritten, touched or copied is hashed again; never trusted on a stat
    that differs)."""
    try:
        stat = file_stat(rec.output_path)
    except (FileNotFoundError, NotADirectoryError):
        return False
    if not rec.output_path.is_file():
        return False
    if rec.size is not None and rec.mtime_ns is not None and stat == (rec.size, rec.mtime_ns):
        return True
    return sha256_file(rec.output_path) == rec.sha256


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
    # A ledger at head answers one query, without importing alembic (a plan's start-up).
    with engine.connect() as conn:
        if inspect(conn).has_table("alembic_version") and \
                conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == HEAD_REVISION:
            return
    from alembic import command
    from alembic.config import Config

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
        status=row["status"], catalog=row["catalog"], output_dir=Path(row["output_dir"]),
        size=row["size"], mtime_ns=row["mtime_ns"],
    )


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    # WAL lets the audit read while a render writes; foreign keys are off by default in SQLite.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()
