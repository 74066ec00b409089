"""Initial ledger schema: runs, assets (variant_key unique), manifests.

Revision ID: 0001
Revises:
Create Date: 2026-05-20

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("catalog", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("rendered", sa.Integer, nullable=False),
        sa.Column("skipped", sa.Integer, nullable=False),
        sa.Column("failed", sa.Integer, nullable=False),
        sa.Column("settings_json", sa.Text, nullable=False),
    )
    op.create_table(
        "assets",
        sa.Column("asset_id", sa.String(64), primary_key=True),
        sa.Column("variant_key", sa.String(64), nullable=False, unique=True),
        sa.Column("run_id", sa.String(64), sa.ForeignKey("runs.run_id"), nullable=False),
        sa.Column("sku", sa.String(128), nullable=False),
        sa.Column("locale", sa.String(35), nullable=False),
        sa.Column("aspect", sa.String(8), nullable=False),
        sa.Column("output_path", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("manifest_label", sa.Text, nullable=False),
        sa.Column("base_clip_key", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_assets_sha256", "assets", ["sha256"])
    op.create_table(
        "manifests",
        sa.Column("asset_id", sa.String(64), sa.ForeignKey("assets.asset_id"), primary_key=True),
        sa.Column("label", sa.Text, nullable=False),
        sa.Column("manifest_json", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("manifests")
    op.drop_index("ix_assets_sha256", table_name="assets")
    op.drop_table("assets")
    op.drop_table("runs")
