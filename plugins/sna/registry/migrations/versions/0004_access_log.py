"""The access log: who downloaded, deleted or delivered which export, when (GDPR accountability).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if "sna_access_log" in set(sa.inspect(op.get_bind()).get_table_names()):
        return
    op.create_table(
        "sna_access_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb"), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("export_id", sa.String(64), nullable=True),
        sa.Column("audience", sa.String(128), nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("via", sa.String(16), nullable=False),
        sa.Column("detail", sa.String(255), nullable=False),
    )
    op.create_index("ix_sna_access_log_audience_at", "sna_access_log", ["audience", "at"])


def downgrade() -> None:
    raise NotImplementedError("the registry is never downgraded: restore a backup instead")
