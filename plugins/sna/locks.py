"""Run leases: one run of an audience and reference date at a time, whoever starts it.

Two runs of the same audience and date share a staging area and a file key: interleaved, one
could publish the other's half-written file, delete it while the other records it, or sweep the
other's staging. Airflow's `max_active_runs=1` only serializes runs of one DAG; `sna run`, a
script or an ad-hoc DAG run can still collide with it. A lease row in the registry database (the
one store every runner already shares) admits one runner per run key: acquiring is an insert the
unique key refuses while a live lease exists.

A lease is abandoned, and taken over, when it has expired; when the same owner comes back (a
retried Airflow task); when it belongs to the same series (another run of the same DAG, which
Airflow cannot be running at the same time); or when it was held by a process of this host that
is gone (a worker killed by SIGKILL). SQLAlchemy Core and portable types only, as the registry.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from sna.errors import PermanentError, RegistryError

LEASE_TTL = timedelta(hours=2)
"""Long enough for a large export with its retries; a crashed holder on another host blocks no longer."""

_ACTIVE_OWNERS: set[str] = set()
_ACTIVE_LOCK = threading.Lock()
"""Owners holding a lease in this process: a lease of this pid whose owner is not here is abandoned."""


class RunInProgressError(PermanentError):
    """Another runner holds the run: this one is refused rather than interleaved with it."""


@dataclass(frozen=True)
class Holder:
    """Who asks for a run's lease."""

    owner: str
    """Unique per run: `airflow:<dag_id>:<run_id>`, or `sna-run-<uuid>` for one `ExportPipeline.run`."""
    series: str | None = None
    """Owners that never run at once (the runs of one DAG): one takes over the other's lease."""
    pid: int | None = None
    """Set when the lease lives only as long as this process; None when it spans processes (DAG tasks)."""
    host: str = field(default_factory=socket.gethostname)


@dataclass(frozen=True)
class Lease:
    run_key: str
    owner: str
    series: str | None
    host: str
    pid: int | None
    token: str
    acquired_at: datetime
    expires_at: datetime


def _timestamp_type() -> sa.types.TypeEngine:
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def _define_table(name: str) -> sa.Table:
    return sa.Table(
        name,
        sa.MetaData(),
        sa.Column("run_key", sa.String(255), primary_key=True),
        sa.Column("owner", sa.String(512), nullable=False),
        sa.Column("series", sa.String(512), nullable=True),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=True),
        sa.Column("token", sa.String(32), nullable=False),
        sa.Column("acquired_at", _timestamp_type(), nullable=False),
        sa.Column("expires_at", _timestamp_type(), nullable=False),
    )


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


class RunLocks:
    """The leases of one registry database (table `<registry table>_leases`)."""

    def __init__(self, engine: Engine, table_name: str = "sna_exports_leases") -> None:
        self.engine = engine
        self.table = _define_table(table_name)
        self.database = engine.url.render_as_string(hide_password=True)
        self._schema_ready = False

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except SQLAlchemyError as error:
            original = getattr(error, "orig", None) or error
            first = (str(original).strip().splitlines() or [""])[0]
            reason = f"{type(original).__name__}: {first}"[:300]
            if self.engine.url.password:
                reason = reason.replace(str(self.engine.url.password), "***")
            raise RegistryError(f"registry {self.database}: cannot {action}: {reason}") from error

    def ensure_schema(self) -> None:
        if not self._schema_ready:
            with self._errors("create the lease table"):
                self.table.metadata.create_all(self.engine, checkfirst=True)
            self._schema_ready = True

    def current(self, run_key: str) -> Lease | None:
        self.ensure_schema()
        with self._errors("read a run lease"), self.engine.connect() as connection:
            row = connection.execute(sa.select(self.table).where(self.table.c.run_key == run_key)).first()
        if row is None:
            return None
        values = dict(row._mapping)
        values["acquired_at"] = values["acquired_at"].replace(tzinfo=UTC)
        values["expires_at"] = values["expires_at"].replace(tzinfo=UTC)
        return Lease(**values)

    def acquire(self, run_key: str, holder: Holder, *, ttl: timedelta = LEASE_TTL,
                now: datetime | None = None) -> Lease:
        """The run's lease for `holder` (new, renewed or taken over), or RunInProgressError."""
        self.ensure_schema()
        for _attempt in range(3):
            moment = now or datetime.now(UTC)
            existing = self.current(run_key)
            if existing is not None and not self.abandoned(existing, holder, moment):
                raise RunInProgressError(
                    f"run {run_key} is already in progress (held by {existing.owner} on {existing.host} "
                    f"until {existing.expires_at:%Y-%m-%d %H:%M:%S} UTC); this run was refused"
                )
            lease = Lease(
                run_key=run_key, owner=holder.owner, series=holder.series, host=holder.host, pid=holder.pid,
                token=secrets.token_hex(16),
                acquired_at=existing.acquired_at if existing and existing.owner == holder.owner else moment,
                expires_at=moment + ttl,
            )
            if self._store(lease, replacing=existing):
                with _ACTIVE_LOCK:
                    _ACTIVE_OWNERS.add(holder.owner)
                return lease
        raise RunInProgressError(f"run {run_key} is already in progress (another runner won the lease)")

    @staticmethod
    def abandoned(lease: Lease, holder: Holder, now: datetime) -> bool:
        if lease.expires_at <= now or lease.owner == holder.owner:
            return True
        if holder.series is not None and lease.series == holder.series:
            return True
        if lease.pid is not None and lease.host == socket.gethostname():
            if lease.pid == os.getpid():
                with _ACTIVE_LOCK:
                    return lease.owner not in _ACTIVE_OWNERS
            return not _pid_alive(lease.pid)
        return False

    def _store(self, lease: Lease, *, replacing: Lease | None) -> bool:
        """Insert, or compare-and-swap on the token of the lease read: a concurrent taker loses."""
        values: dict[str, Any] = {
            **lease.__dict__, "acquired_at": _naive(lease.acquired_at), "expires_at": _naive(lease.expires_at)
        }
        try:
            with self._errors(f"take the lease of run {lease.run_key}"), self.engine.begin() as connection:
                if replacing is None:
                    connection.execute(sa.insert(self.table).values(**values))
                    return True
                result = connection.execute(
                    sa.update(self.table)
                    .where(self.table.c.run_key == lease.run_key, self.table.c.token == replacing.token)
                    .values(**values)
                )
                return result.rowcount == 1
        except RegistryError as error:
            if isinstance(error.__cause__, IntegrityError):
                return False  # inserted by a concurrent runner: read it again
            raise

    def release(self, run_key: str, owner: str) -> bool:
        """Deletes the lease if `owner` still holds it."""
        with _ACTIVE_LOCK:
            _ACTIVE_OWNERS.discard(owner)
        self.ensure_schema()
        with self._errors(f"release the lease of run {run_key}"), self.engine.begin() as connection:
            result = connection.execute(
                sa.delete(self.table).where(self.table.c.run_key == run_key, self.table.c.owner == owner)
            )
        return result.rowcount > 0

    @contextmanager
    def held(self, run_key: str, holder: Holder, *, ttl: timedelta = LEASE_TTL) -> Iterator[Lease]:
        """The lease for the duration of a block; released whatever happens (a release that fails
        leaves a lease this process no longer claims, which the next runner takes over)."""
        lease = self.acquire(run_key, holder, ttl=ttl)
        try:
            yield lease
        finally:
            try:
                self.release(run_key, holder.owner)
            except RegistryError:
                pass  # the error that matters is already propagating, or the run succeeded
