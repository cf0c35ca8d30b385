"""Each export entry records its delivery to the platform: status, destination, counts, time.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

COLUMNS = (
    ("delivery_status", lambda: sa.String(16)),
    ("delivery_mode", lambda: sa.String(16)),
    ("delivery_destination", lambda: sa.String(128)),
    ("delivered_at", lambda: sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")),
    ("delivery_added", lambda: sa.BigInteger()),
    ("delivery_removed", lambda: sa.BigInteger()),
    ("delivery_invalid", lambda: sa.BigInteger()),
    ("delivery_requests", lambda: sa.BigInteger()),
)


def upgrade() -> None:
    existing = {column["name"] for column in sa.inspect(op.get_bind()).get_columns("sna_exports")}
    for name, kind in COLUMNS:
        if name not in existing:  # MySQL commits each ALTER: a crashed upgrade is resumed column by column
            op.add_column("sna_exports", sa.Column(name, kind(), nullable=True))


def downgrade() -> None:
    raise NotImplementedError("the registry is never downgraded: restore a backup instead")
