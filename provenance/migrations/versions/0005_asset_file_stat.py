"""assets.size and assets.mtime_ns: the signed file's size and modification time when it was recorded,
so that a plan re-hashes only the outputs whose size or mtime changed (the audit always hashes).
Rows recorded before this revision have neither and are hashed as before.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: Union[str, Sequence[str], None] = "0004"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    # A ledger adopted from before migrations may have been made with these columns already.
    have = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("assets")}
    for name in ("size", "mtime_ns"):
        if name not in have:
            op.add_column("assets", sa.Column(name, sa.BigInteger))


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+): a batch table copy would break the manifests' foreign key.
    op.drop_column("assets", "mtime_ns")
    op.drop_column("assets", "size")
