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
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from sna.errors import PermanentError, RegistryError
from sna.registry import schema
from sna.registry.database import from_naive_utc, registry_errors, shown_url, to_naive_utc
from sna.registry.tables import leases

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


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


class RunLocks:
    """The leases of one registry database (table `sna_exports_leases`)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.table = leases
        self.database = shown_url(engine)
        self._schema_ready = False

    def _errors(self, action: str):  # noqa: ANN202 - a context manager
        return registry_errors(self.engine, action)

    def ensure_schema(self) -> None:
        """The registry's one schema path (the lease table is one of its tables)."""
        if not self._schema_ready:
            schema.ensure_schema(self.engine)
            self._schema_ready = True

    def current(self, run_key: str) -> Lease | None:
        self.ensure_schema()
        with self._errors("read a run lease"), self.engine.connect() as connection:
            row = connection.execute(sa.select(self.table).where(self.table.c.run_key == run_key)).first()
        if row is None:
            return None
        values = dict(row._mapping)
        values["acquired_at"] = from_naive_utc(values["acquired_at"])
        values["expires_at"] = from_naive_utc(values["expires_at"])
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
            winner = self.current(run_key)
            if winner is not None and winner.owner == holder.owner:  # a task of the same run renewed it at
                with _ACTIVE_LOCK:                                   # the same moment (mapped partitions)
                    _ACTIVE_OWNERS.add(holder.owner)
                return winner
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
            **lease.__dict__, "acquired_at": to_naive_utc(lease.acquired_at), "expires_at": to_naive_utc(lease.expires_at)
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
