"""The ledger schema comes from alembic revisions; opening a ledger brings it to head."""
from datetime import datetime, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, insert, text

from compliance.journal import metadata as journal_metadata
from provenance.ledger import Ledger, head_revision, metadata, runs


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
