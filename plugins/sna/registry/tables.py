"""Every table of the registry, in one metadata: the schema as the newest migration leaves it.

The migrations in `migrations/versions/` create and upgrade the tables; these definitions are what
the code reads and writes. A test checks that a registry upgraded from the first version matches them.
"""

from __future__ import annotations

import sqlalchemy as sa

from sna.registry.database import timestamp_type

EXPORTS = "sna_exports"
LEASES = "sna_exports_leases"
ACCESS_LOG = "sna_access_log"
DRY_RUNS = "sna_dry_runs"
VERSION_TABLE = "sna_registry_version"
"""Not `alembic_version`: the registry may share a database with Airflow's own migrations."""

metadata = sa.MetaData()

exports = sa.Table(
    EXPORTS,
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("run_key", sa.String(255), nullable=False),
    sa.Column("audience", sa.String(64), nullable=False),
    sa.Column("platform", sa.String(16), nullable=False),
    sa.Column("hashing", sa.String(16), nullable=False),
    sa.Column("filters", sa.Text, nullable=False),
    sa.Column("reference_date", sa.Date, nullable=False),
    sa.Column("created_at", timestamp_type(), nullable=False),
    sa.Column("file_uri", sa.String(1024), nullable=False),
    sa.Column("file_key", sa.String(1024), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("rows", sa.BigInteger, nullable=False),
    sa.Column("scanned", sa.BigInteger, nullable=False),
    sa.Column("excluded", sa.Text, nullable=False),
    sa.Column("warnings", sa.Text, nullable=False),
    sa.Column("dag_run_id", sa.String(250), nullable=True),
    sa.Column("delivery_status", sa.String(16), nullable=True),
    sa.Column("delivery_mode", sa.String(16), nullable=True),
    sa.Column("delivery_destination", sa.String(128), nullable=True),
    sa.Column("delivered_at", timestamp_type(), nullable=True),
    sa.Column("delivery_added", sa.BigInteger, nullable=True),
    sa.Column("delivery_removed", sa.BigInteger, nullable=True),
    sa.Column("delivery_invalid", sa.BigInteger, nullable=True),
    sa.Column("delivery_requests", sa.BigInteger, nullable=True),
    sa.Column("fill_rates", sa.Text, nullable=True),
    sa.UniqueConstraint("run_key", name=f"uq_{EXPORTS}_run_key"),
)
sa.Index(f"ix_{EXPORTS}_audience_created", exports.c.audience, exports.c.created_at)
sa.Index(f"ix_{EXPORTS}_created", exports.c.created_at)

leases = sa.Table(
    LEASES,
    metadata,
    sa.Column("run_key", sa.String(255), primary_key=True),
    sa.Column("owner", sa.String(512), nullable=False),
    sa.Column("series", sa.String(512), nullable=True),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=True),
    sa.Column("token", sa.String(32), nullable=False),
    sa.Column("acquired_at", timestamp_type(), nullable=False),
    sa.Column("expires_at", timestamp_type(), nullable=False),
)

access_log = sa.Table(
    ACCESS_LOG,
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("at", timestamp_type(), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("export_id", sa.String(64), nullable=True),
    sa.Column("audience", sa.String(128), nullable=False),
    sa.Column("actor", sa.String(255), nullable=False),
    sa.Column("via", sa.String(16), nullable=False),
    sa.Column("detail", sa.String(255), nullable=False),
)
sa.Index(f"ix_{ACCESS_LOG}_audience_at", access_log.c.audience, access_log.c.at)
dry_runs = sa.Table(
    DRY_RUNS,
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("run_key", sa.String(255), nullable=False),
    sa.Column("audience", sa.String(64), nullable=False),
    sa.Column("platform", sa.String(16), nullable=False),
    sa.Column("hashing", sa.String(16), nullable=False),
    sa.Column("filters", sa.Text, nullable=False),
    sa.Column("reference_date", sa.Date, nullable=False),
    sa.Column("created_at", timestamp_type(), nullable=False),
    sa.Column("scanned", sa.BigInteger, nullable=False),
    sa.Column("rows", sa.BigInteger, nullable=False),
    sa.Column("excluded", sa.Text, nullable=False),
    sa.Column("warnings", sa.Text, nullable=False),
    sa.Column("dag_run_id", sa.String(250), nullable=True),
    sa.UniqueConstraint("run_key", name=f"uq_{DRY_RUNS}_run_key"),
)
"""Dry runs: what a run would export (counts only, no file), one per audience and reference date."""
sa.Index(f"ix_{DRY_RUNS}_audience_created", dry_runs.c.audience, dry_runs.c.created_at)
