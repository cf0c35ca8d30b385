"""Each export entry records the fill rate of every file column (the share of rows with a value).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    existing = {column["name"] for column in sa.inspect(op.get_bind()).get_columns("sna_exports")}
    if "fill_rates" not in existing:
        op.add_column("sna_exports", sa.Column("fill_rates", sa.Text(), nullable=True))


def downgrade() -> None:
    raise NotImplementedError("the registry is never downgraded: restore a backup instead")
