"""The one path that creates and upgrades the registry's tables: versioned migrations, run under a lock.

The first night of a deployment, every audience starts at the same second against a registry that
does not exist yet. A plain check-then-create lets two runners both see no table and one fail with
"already exists". Here the runner that finds the registry behind the newest version takes a lock
of the database itself (PostgreSQL advisory lock, MySQL/MariaDB named lock, SQLite write
transaction), reads the version again under it and applies only the missing migrations (Alembic,
with its version in `sna_registry_version`); the others wait for the lock and find nothing to do.
A registry at the newest version costs one small read and no lock.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError

from sna.errors import RegistryError
from sna.registry.database import registry_errors, shown_url
from sna.registry.tables import VERSION_TABLE

MIGRATIONS = Path(__file__).with_name("migrations")
LOCK_NAME = "sna_registry_schema"
LOCK_WAIT_SECONDS = 120
SQLITE_ATTEMPTS = 8
_PG_LOCK_KEY = 0x534E4153434845  # "SNASCHE": one advisory lock id for the registry schema


@cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory(str(MIGRATIONS))


def _known(revision: str) -> bool:
    try:
        return _scripts().get_revision(revision) is not None
    except Exception:  # noqa: BLE001 - Alembic raises several kinds for an unknown revision
        return False


def head_revision() -> str:
    head = _scripts().get_current_head()
    assert head is not None, "the registry has no migration"
    return head


logging.getLogger("alembic.runtime.migration").setLevel(logging.WARNING)  # "Context impl ..." on every check


def current_revision(connection: Connection) -> str | None:
    """The registry's version, or None when it has none yet (a new database, or a pre-migration one)."""
    return MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE}).get_current_revision()


def ensure_schema(engine: Engine) -> None:
    """Creates or upgrades the registry's tables to the newest version; safe under any concurrency."""
    with registry_errors(engine, "create or upgrade the registry tables"):
        for attempt in range(SQLITE_ATTEMPTS):
            try:
                with engine.connect() as connection:
                    current = current_revision(connection)
                if current == head_revision():
                    return
                if current is not None and not _known(current):
                    raise RegistryError(f"registry {shown_url(engine)} is at version {current}, newer than "
                                        f"this SNA (which knows up to {head_revision()}): upgrade SNA")
                with _schema_lock(engine) as connection:
                    _upgrade(connection)
                return
            except OperationalError as error:
                # SQLite answers "database is locked" at once, without waiting, while another
                # connection switches a new file to WAL: wait a little and look again.
                if engine.dialect.name != "sqlite" or "locked" not in str(error) or attempt == SQLITE_ATTEMPTS - 1:
                    raise
                time.sleep(0.05 * 2**attempt)


def _upgrade(connection: Connection) -> None:
    """Applies the missing migrations inside the caller's transaction (and lock)."""
    scripts = _scripts()

    def steps(heads: tuple[str, ...], _context: MigrationContext):  # noqa: ANN202 - Alembic's callback
        return scripts._upgrade_revs("head", heads)

    context = MigrationContext.configure(
        connection, opts={"version_table": VERSION_TABLE, "fn": steps, "script": scripts}
    )
    with Operations.context(context):
        context.run_migrations()


@contextmanager
def _schema_lock(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction that holds the registry's schema lock; committed on success."""
    backend = engine.dialect.name
    with engine.connect() as connection:
        if backend == "sqlite":
            connection.exec_driver_sql("BEGIN IMMEDIATE")  # one writer; others wait (busy_timeout)
        elif backend == "postgresql":
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        elif backend in ("mysql", "mariadb"):
            got = connection.execute(
                sa.text("SELECT GET_LOCK(:name, :wait)"), {"name": LOCK_NAME, "wait": LOCK_WAIT_SECONDS}
            ).scalar()
            if got != 1:
                raise RegistryError(f"registry {shown_url(engine)}: the schema lock was not granted in "
                                    f"{LOCK_WAIT_SECONDS} s (another runner is upgrading it)")
        try:
            yield connection
            connection.commit()
        finally:
            if backend in ("mysql", "mariadb"):
                connection.execute(sa.text("SELECT RELEASE_LOCK(:name)"), {"name": LOCK_NAME})
                connection.commit()
