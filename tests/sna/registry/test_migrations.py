"""A registry written before migrations existed is upgraded in place, every entry intact."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from sna.registry import Registry
from sna.registry.entries import _to_row
from sna.registry.schema import current_revision, head_revision
from sna.registry.tables import metadata
from tests.sna.registry.test_entries import MARIADB_ADMIN, POSTGRES_ADMIN, _throwaway_database, make_entry

# The DDL SNA 0.1 issued through `create_all` (no version table): what a deployed registry holds.
_LEGACY_DDL = [
    """CREATE TABLE sna_exports (
        id VARCHAR(64) NOT NULL PRIMARY KEY, run_key VARCHAR(255) NOT NULL, audience VARCHAR(64) NOT NULL,
        platform VARCHAR(16) NOT NULL, hashing VARCHAR(16) NOT NULL, filters TEXT NOT NULL,
        reference_date DATE NOT NULL, created_at {ts} NOT NULL, file_uri VARCHAR(1024) NOT NULL,
        file_key VARCHAR(1024) NOT NULL, size BIGINT NOT NULL, sha256 VARCHAR(64) NOT NULL,
        {rows} BIGINT NOT NULL, scanned BIGINT NOT NULL, excluded TEXT NOT NULL, warnings TEXT NOT NULL,
        dag_run_id VARCHAR(250), CONSTRAINT uq_sna_exports_run_key UNIQUE (run_key))""",
    "CREATE INDEX ix_sna_exports_audience_created ON sna_exports (audience, created_at)",
    "CREATE INDEX ix_sna_exports_created ON sna_exports (created_at)",
    """CREATE TABLE sna_exports_leases (
        run_key VARCHAR(255) NOT NULL PRIMARY KEY, owner VARCHAR(512) NOT NULL, series VARCHAR(512),
        host VARCHAR(255) NOT NULL, pid INTEGER, token VARCHAR(32) NOT NULL,
        acquired_at {ts} NOT NULL, expires_at {ts} NOT NULL)""",
]


@pytest.fixture(params=["sqlite", "mariadb", "postgresql"])
def legacy_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'registry.db'}"
    elif request.param == "mariadb":
        yield from _throwaway_database(MARIADB_ADMIN, "mariadb")
    else:
        yield from _throwaway_database(POSTGRES_ADMIN, "postgresql")


def test_a_legacy_registry_is_upgraded_with_every_entry_intact(legacy_url: str) -> None:
    engine = sa.create_engine(legacy_url)
    backend = engine.dialect.name
    ts = {"mysql": "DATETIME(6)", "mariadb": "DATETIME(6)", "postgresql": "TIMESTAMP WITHOUT TIME ZONE"}.get(
        backend, "DATETIME")
    rows = "`rows`" if backend in ("mysql", "mariadb") else '"rows"'
    with engine.begin() as connection:
        for statement in _LEGACY_DDL:
            connection.exec_driver_sql(statement.format(ts=ts, rows=rows))
    legacy = sa.Table("sna_exports", sa.MetaData(), autoload_with=engine)
    entries = [make_entry(n) for n in range(1, 6)]
    with engine.begin() as connection:
        for entry in entries:
            connection.execute(sa.insert(legacy).values(
                **{key: value for key, value in _to_row(entry).items() if key in legacy.c}))

    registry = Registry(legacy_url)
    registry.ensure_schema()
    try:
        with registry.engine.connect() as connection:
            assert current_revision(connection) == head_revision()
        assert [registry.get(entry.id) for entry in entries] == entries
        inspector = sa.inspect(registry.engine)
        for table in metadata.sorted_tables:
            assert {c["name"] for c in inspector.get_columns(table.name)} == set(table.columns.keys())
    finally:
        registry.dispose()
        engine.dispose()


def test_a_registry_newer_than_this_sna_is_a_clear_error(tmp_path: Path) -> None:
    from sna.errors import RegistryError

    registry = Registry(f"sqlite:///{tmp_path / 'registry.db'}")
    registry.ensure_schema()
    with registry.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE sna_registry_version SET version_num = '9999'")
    with pytest.raises(RegistryError, match="is at version 9999, newer than this SNA"):
        Registry(f"sqlite:///{tmp_path / 'registry.db'}").ensure_schema()
