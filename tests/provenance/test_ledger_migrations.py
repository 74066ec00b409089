"""The ledger schema comes from alembic revisions; opening a ledger brings it to head."""
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, insert, text

from compliance.journal import metadata as journal_metadata
from foundation.primitives import sha256_file
from provenance.ledger import HEAD_REVISION, MIGRATIONS_DIR, AssetRecord, Ledger, head_revision, metadata, runs

from ledger_0003 import ledger_at_0003


def test_migrations_build_exactly_the_schema_the_code_declares(tmp_path):
    led = Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    with led.engine.connect() as c:
        assert compare_metadata(MigrationContext.configure(c), [metadata, journal_metadata]) == []
        assert c.execute(text("select version_num from alembic_version")).scalar() == head_revision()
        # The journal's tables exist before any worker opens the journal (no CREATE TABLE race).
        assert {"journal", "journal_head"} <= set(inspect(c).get_table_names())


def test_a_ledger_made_before_migrations_is_adopted_with_its_rows(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    engine = create_engine(url)
    metadata.create_all(engine)                      # how the ledger was created before alembic
    with engine.begin() as c:
        c.execute(insert(runs).values(run_id="old-run", started_at=datetime.now(timezone.utc), catalog="x",
                                      status="completed", rendered=1, skipped=0, failed=0, settings_json="{}"))
    led = Ledger(url)
    with led.engine.connect() as c:
        assert c.execute(text("select version_num from alembic_version")).scalar() == head_revision()
        assert c.execute(text("select run_id from runs")).scalars().all() == ["old-run"]


def test_a_ledger_from_a_newer_tessera_is_refused_not_touched(tmp_path):
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    Ledger(url)
    with create_engine(url).begin() as c:
        c.execute(text("update alembic_version set version_num = '9999_future'"))
    with pytest.raises(RuntimeError, match="9999_future.*same Tessera version"):
        Ledger(url)


def test_migration_0004_gives_existing_rows_their_run_catalog_and_output_folder(tmp_path):
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    ledger_at_0003(url, "/srv/out")
    led = Ledger(url)
    a, b = led.asset("tsr-a"), led.asset("tsr-b")
    assert (a.catalog, a.output_dir, a.status) == ("/cat", Path("/srv/out"), "active")
    assert (b.catalog, b.output_dir, b.status) == ("/cat", Path("/srv/out"), "retired")
    assert led.manifest_json("tsr-a") == '{"asset": "tsr-a"}' and led.manifest_json("tsr-b") == '{"asset": "tsr-b"}'
    with led.engine.connect() as c:
        assert compare_metadata(MigrationContext.configure(c), [metadata, journal_metadata]) == []


def test_migration_0004_downgrades_to_one_row_per_key(tmp_path):
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    ledger_at_0003(url, "/srv/out")
    led = Ledger(url)
    second = replace(led.asset("tsr-a"), output_dir=Path("/srv/out2"), output_path=Path("/srv/out2/SKU-1/tsr-a.mp4"))
    led.record_asset(second, "urn:c2pa:y", '{"asset": "tsr-a", "folder": 2}')
    assert len(led.active_assets()) == 2
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with led.engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0003")
        conn.commit()
        rows = conn.execute(text("select asset_id, output_path from assets order by asset_id")).all()
        kept = conn.execute(text("select manifest_json from manifests where asset_id = 'tsr-a'")).scalar()
    assert [r[0] for r in rows] == ["tsr-a", "tsr-b"]
    assert kept in ('{"asset": "tsr-a"}', '{"asset": "tsr-a", "folder": 2}')
    led.engine.dispose()
    assert Ledger(url).asset("tsr-a").output_dir is not None          # and up again


def test_the_head_a_ledger_is_checked_against_without_alembic_is_alembics_head():
    assert HEAD_REVISION == head_revision()


def test_migration_0005_keeps_rows_without_a_recorded_stat_and_they_are_hashed(tmp_path):
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    led = Ledger(url)
    led.start_run("r1", "cat", "{}")
    out = tmp_path / "a.mp4"
    out.write_bytes(b"signed bytes")
    rec = AssetRecord(asset_id="tsr-a", variant_key="ka", run_id="r1", sku="S", locale="de-DE", aspect="1:1",
                      output_path=out, sha256=sha256_file(out), manifest_label="urn:1", base_clip_key="b",
                      created_at=datetime.now(timezone.utc), output_dir=tmp_path)
    led.record_asset(rec, "urn:1", "{}")
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url)
    command.downgrade(cfg, "0004")
    with create_engine(url).connect() as c:
        assert "size" not in {col["name"] for col in inspect(c).get_columns("assets")}
    led = Ledger(url)                                 # upgraded again: the row has no stat
    assert (led.asset("tsr-a").size, led.asset("tsr-a").mtime_ns) == (None, None)
    assert led.is_intact("ka", out)
    out.write_bytes(b"other bytes!")
    assert not led.is_intact("ka", out)
