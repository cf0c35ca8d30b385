"""Export entries and run leases, as SNA wrote them before migrations existed.

A registry created by that code already has both tables: they are kept as they are (with every
entry) and only the version is recorded.

Revision ID: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _timestamp() -> sa.types.TypeEngine:
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "sna_exports" not in existing:
        op.create_table(
            "sna_exports",
            sa.Column("id", sa.String(64), primary_key=True),
            sa.Column("run_key", sa.String(255), nullable=False),
            sa.Column("audience", sa.String(64), nullable=False),
            sa.Column("platform", sa.String(16), nullable=False),
            sa.Column("hashing", sa.String(16), nullable=False),
            sa.Column("filters", sa.Text, nullable=False),
            sa.Column("reference_date", sa.Date, nullable=False),
            sa.Column("created_at", _timestamp(), nullable=False),
            sa.Column("file_uri", sa.String(1024), nullable=False),
            sa.Column("file_key", sa.String(1024), nullable=False),
            sa.Column("size", sa.BigInteger, nullable=False),
            sa.Column("sha256", sa.String(64), nullable=False),
            sa.Column("rows", sa.BigInteger, nullable=False),
            sa.Column("scanned", sa.BigInteger, nullable=False),
            sa.Column("excluded", sa.Text, nullable=False),
            sa.Column("warnings", sa.Text, nullable=False),
            sa.Column("dag_run_id", sa.String(250), nullable=True),
            sa.UniqueConstraint("run_key", name="uq_sna_exports_run_key"),
        )
        op.create_index("ix_sna_exports_audience_created", "sna_exports", ["audience", "created_at"])
        op.create_index("ix_sna_exports_created", "sna_exports", ["created_at"])
    if "sna_exports_leases" not in existing:
        op.create_table(
            "sna_exports_leases",
            sa.Column("run_key", sa.String(255), primary_key=True),
            sa.Column("owner", sa.String(512), nullable=False),
            sa.Column("series", sa.String(512), nullable=True),
            sa.Column("host", sa.String(255), nullable=False),
            sa.Column("pid", sa.Integer, nullable=True),
            sa.Column("token", sa.String(32), nullable=False),
            sa.Column("acquired_at", _timestamp(), nullable=False),
            sa.Column("expires_at", _timestamp(), nullable=False),
        )


def downgrade() -> None:
    raise NotImplementedError("the registry is never downgraded: restore a backup instead")
