"""variant_inputs: the plan inputs behind each variant key, so a plan can say which input changed.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: Union[str, Sequence[str], None] = "0002"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    # A ledger adopted from before migrations gets every declared table at once: keep it.
    if "variant_inputs" in sa.inspect(op.get_bind()).get_table_names():
        return
    op.create_table(
        "variant_inputs",
        sa.Column("variant_key", sa.String(64), primary_key=True),
        sa.Column("inputs_json", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("variant_inputs")
