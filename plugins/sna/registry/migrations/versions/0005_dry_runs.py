"""Dry runs are recorded (counts only, no file) so the page can show them: the table `sna_dry_runs`.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _timestamp() -> sa.types.TypeEngine:
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    if "sna_dry_runs" not in inspector.get_table_names():
        op.create_table(
            "sna_dry_runs",
            sa.Column("id", sa.String(64), primary_key=True),
            sa.Column("run_key", sa.String(255), nullable=False),
            sa.Column("audience", sa.String(64), nullable=False),
            sa.Column("platform", sa.String(16), nullable=False),
            sa.Column("hashing", sa.String(16), nullable=False),
            sa.Column("filters", sa.Text, nullable=False),
            sa.Column("reference_date", sa.Date, nullable=False),
            sa.Column("created_at", _timestamp(), nullable=False),
            sa.Column("scanned", sa.BigInteger, nullable=False),
            sa.Column("rows", sa.BigInteger, nullable=False),
            sa.Column("excluded", sa.Text, nullable=False),
            sa.Column("warnings", sa.Text, nullable=False),
            sa.Column("dag_run_id", sa.String(250), nullable=True),
            sa.UniqueConstraint("run_key", name="uq_sna_dry_runs_run_key"),
        )
        inspector = sa.inspect(op.get_bind())
    # MySQL commits each statement: a crash between the table and its index is resumed here
    if "ix_sna_dry_runs_audience_created" not in {index["name"] for index in inspector.get_indexes("sna_dry_runs")}:
        op.create_index("ix_sna_dry_runs_audience_created", "sna_dry_runs", ["audience", "created_at"])


def downgrade() -> None:
    raise NotImplementedError("the registry is never downgraded: restore a backup instead")
