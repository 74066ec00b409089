"""Authorship journal tables (compliance/journal.py) in the ledger database.

The journal creates its tables itself when missing, but two workers starting at once on
PostgreSQL would race on that CREATE TABLE; made here, under the migration lock, they exist
before any worker opens the journal. Tables an older journal already created are kept.

Revision ID: 0002
Revises: 0001
Create Date: 2026-05-20

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: Union[str, Sequence[str], None] = "0001"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    existing = sa.inspect(op.get_bind()).get_table_names()
    if "journal" not in existing:
        op.create_table(
            "journal",
            sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
            sa.Column("event_id", sa.String(64), nullable=False, unique=True),
            sa.Column("variant_key", sa.String(128), nullable=False),
            sa.Column("asset_id", sa.String(64)),
            sa.Column("actor", sa.String(256), nullable=False),
            sa.Column("actor_kind", sa.String(16), nullable=False),
            sa.Column("action", sa.String(32), nullable=False),
            sa.Column("inputs_json", sa.Text, nullable=False),
            sa.Column("outputs_json", sa.Text, nullable=False),
            sa.Column("detail_json", sa.Text, nullable=False),
            sa.Column("at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("prev_hash", sa.String(64), nullable=False),
            sa.Column("hash", sa.String(64), nullable=False),
        )
        op.create_index("ix_journal_variant_key", "journal", ["variant_key"])
        op.create_index("ix_journal_asset_id", "journal", ["asset_id"])
    if "journal_head" not in existing:
        op.create_table(
            "journal_head",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
            sa.Column("seq", sa.Integer, nullable=False),
            sa.Column("hash", sa.String(64), nullable=False),
            sa.Column("signature", sa.LargeBinary, nullable=False),
            sa.Column("cert_chain_pem", sa.Text, nullable=False),
            sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        )


def downgrade() -> None:
    # The journal is an append-only audit record: a schema downgrade never drops it.
    pass
