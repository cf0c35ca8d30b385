"""Dry runs: what a run would have exported (counts only; no file, no export entry), so that the
"Audience exports" page can show them. One per audience and reference date, like exports: a later
dry run of the same day replaces the earlier one; recording one prunes its audience's dry runs older
than the audience's retention.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from sna.registry.database import registry_errors, to_naive_utc
from sna.registry.entries import MAX_PAGE
from sna.registry.rows import run_columns, run_fields
from sna.registry.tables import dry_runs


@dataclass
class DryRun:
    """One dry run's counts (never customer data)."""

    id: str
    run_key: str
    audience: str
    platform: str
    hashing: str
    filters: dict
    reference_date: date
    created_at: datetime
    scanned: int
    rows: int
    """Customers the run would have exported."""
    excluded: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    dag_run_id: str | None = None


class DryRuns:
    """The dry runs table of a registry (on the registry's engine)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.table = dry_runs

    def record(self, dry_run: DryRun, *, keep_after: datetime | None = None) -> None:
        """Insert `dry_run` in place of the dry run of the same run key; with `keep_after`, delete the
        audience's dry runs created before it (in the same transaction)."""
        with registry_errors(self.engine, f"record dry run {dry_run.run_key}"), self.engine.begin() as connection:
            connection.execute(sa.delete(self.table).where(self.table.c.run_key == dry_run.run_key))
            if keep_after is not None:
                connection.execute(sa.delete(self.table).where(
                    self.table.c.audience == dry_run.audience, self.table.c.created_at < to_naive_utc(keep_after)))
            connection.execute(sa.insert(self.table).values(**_to_row(dry_run)))

    def list(
        self,
        *,
        audience: str | None = None,
        audiences: Collection[str] | None = None,
        platform: str | None = None,
        limit: int = 20,
    ) -> list[DryRun]:
        """Dry runs newest first; `audiences` restricts to several audiences (those a user may read)."""
        if not 1 <= limit <= MAX_PAGE:
            raise ValueError(f"limit must be 1..{MAX_PAGE} (got {limit})")
        if audiences is not None and not audiences:
            return []
        conditions = []
        if audience is not None:
            conditions.append(self.table.c.audience == audience)
        if audiences is not None:
            conditions.append(self.table.c.audience.in_(sorted(audiences)))
        if platform is not None:
            conditions.append(self.table.c.platform == platform)
        query = (sa.select(self.table).where(*conditions)
                 .order_by(self.table.c.created_at.desc(), self.table.c.id).limit(limit))
        with registry_errors(self.engine, "list dry runs"), self.engine.connect() as connection:
            return [_from_row(row) for row in connection.execute(query)]

    def audiences(self) -> list[str]:
        query = sa.select(self.table.c.audience).distinct().order_by(self.table.c.audience)
        with registry_errors(self.engine, "list the audiences of dry runs"), self.engine.connect() as connection:
            return list(connection.execute(query).scalars())


def _to_row(dry_run: DryRun) -> dict[str, Any]:
    return run_columns(dry_run)


def _from_row(row: sa.Row) -> DryRun:
    return DryRun(**run_fields(row._mapping))
