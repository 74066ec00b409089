"""assets and manifests per output folder: catalog and output_dir columns, key (variant_key, output_dir);
runs.lock_scope, the render lock a run held (so that a killed run's row can be closed).

A catalog rendered into a second --out gets rows of its own there instead of repointing the
first folder's rows; a render retires only rows of its catalog and folder. Existing rows get
their run's catalog (runs.catalog) and the output folder of their path (a render writes
<out>/<sku>/<file>, so the folder is the path's grandparent).

Both dialects: the new tables are built beside the old ones, filled, and renamed into place
(SQLite cannot change a primary key in place). Constraint names are explicit, so that they
survive the renames and later revisions can name them.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07

"""
from pathlib import PurePath
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: Union[str, Sequence[str], None] = "0003"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_ASSET_COLUMNS = ("asset_id", "variant_key", "run_id", "sku", "locale", "aspect", "output_path", "sha256",
                  "manifest_label", "base_clip_key", "status", "created_at")


def _asset_columns() -> list[sa.Column]:
    return [
        sa.Column("asset_id", sa.String(64), nullable=False),
        sa.Column("variant_key", sa.String(64), nullable=False),
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
    ]


def upgrade() -> None:
    conn = op.get_bind()
    if "lock_scope" not in {c["name"] for c in sa.inspect(conn).get_columns("runs")}:
        op.add_column("runs", sa.Column("lock_scope", sa.Text))
    # A ledger adopted from before migrations was made by create_all with today's schema: keep it.
    if "output_dir" in {c["name"] for c in sa.inspect(conn).get_columns("assets")}:
        return
    # 1. The rows as they are (reflected, so that values keep their types), with their run's catalog
    #    and their folder.
    old = sa.MetaData()
    old_assets, old_runs, old_manifests = (sa.Table(t, old, autoload_with=conn) for t in ("assets", "runs", "manifests"))
    rows = conn.execute(sa.select(old_assets, old_runs.c.catalog)
                        .join(old_runs, old_runs.c.run_id == old_assets.c.run_id)).mappings().all()
    folder = {r["asset_id"]: str(PurePath(r["output_path"]).parent.parent) for r in rows}
    copies = conn.execute(sa.select(old_manifests)).mappings().all()
    # 2. The new tables beside the old ones.
    new_assets = op.create_table(
        "assets_0004", *_asset_columns(),
        sa.Column("catalog", sa.Text, nullable=False),
        sa.Column("output_dir", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("asset_id", "output_dir", name="pk_assets"),
        sa.UniqueConstraint("variant_key", "output_dir", name="uq_assets_variant_output"),
    )
    new_manifests = op.create_table(
        "manifests_0004",
        sa.Column("asset_id", sa.String(64), nullable=False),
        sa.Column("output_dir", sa.Text, nullable=False),
        sa.Column("label", sa.Text, nullable=False),
        sa.Column("manifest_json", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("asset_id", "output_dir", name="pk_manifests"),
        sa.ForeignKeyConstraint(["asset_id", "output_dir"], ["assets_0004.asset_id", "assets_0004.output_dir"],
                                name="fk_manifests_assets"),
    )
    if rows:
        op.bulk_insert(new_assets, [{**{k: r[k] for k in _ASSET_COLUMNS}, "catalog": r["catalog"],
                                     "output_dir": folder[r["asset_id"]]} for r in rows])
    kept = [m for m in copies if m["asset_id"] in folder]     # a manifest without its asset row has no folder
    if kept:
        op.bulk_insert(new_manifests, [{**m, "output_dir": folder[m["asset_id"]]} for m in kept])
    # 3. Old out (the child first: its foreign key points at the old assets), new in.
    op.drop_table("manifests")
    op.drop_index("ix_assets_sha256", table_name="assets")
    op.drop_table("assets")
    op.rename_table("assets_0004", "assets")
    op.rename_table("manifests_0004", "manifests")
    op.create_index("ix_assets_sha256", "assets", ["sha256"])
    op.create_index("ix_assets_output_path", "assets", ["output_path"])


def downgrade() -> None:
    op.drop_column("runs", "lock_scope")   # SQLite 3.35+ drops a column in place (a copy would break the FKs)
    # One row per asset id again: the row that speaks for it (active first, then the newest) is kept.
    conn = op.get_bind()
    new = sa.MetaData()
    new_assets, new_manifests = (sa.Table(t, new, autoload_with=conn) for t in ("assets", "manifests"))
    rows = conn.execute(sa.select(new_assets).order_by(
        sa.case((new_assets.c.status == "active", 0), else_=1), new_assets.c.created_at.desc())).mappings().all()
    chosen: dict[str, dict] = {}
    for r in rows:
        chosen.setdefault(r["asset_id"], dict(r))
    copies = conn.execute(sa.select(new_manifests)).mappings().all()
    old_assets = op.create_table("assets_0003", *_asset_columns(), sa.PrimaryKeyConstraint("asset_id"),
                                 sa.UniqueConstraint("variant_key"))
    old_manifests = op.create_table(
        "manifests_0003",
        sa.Column("asset_id", sa.String(64), sa.ForeignKey("assets_0003.asset_id"), primary_key=True),
        sa.Column("label", sa.Text, nullable=False),
        sa.Column("manifest_json", sa.Text, nullable=False),
    )
    if chosen:
        op.bulk_insert(old_assets, [{k: r[k] for k in _ASSET_COLUMNS} for r in chosen.values()])
    kept = [{"asset_id": m["asset_id"], "label": m["label"], "manifest_json": m["manifest_json"]} for m in copies
            if m["asset_id"] in chosen and m["output_dir"] == chosen[m["asset_id"]]["output_dir"]]
    if kept:
        op.bulk_insert(old_manifests, kept)
    op.drop_table("manifests")
    op.drop_index("ix_assets_sha256", table_name="assets")
    op.drop_index("ix_assets_output_path", table_name="assets")
    op.drop_table("assets")
    op.rename_table("assets_0003", "assets")
    op.rename_table("manifests_0003", "manifests")
    op.create_index("ix_assets_sha256", "assets", ["sha256"])
