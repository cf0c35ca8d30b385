"""Export entries: one row per export file, in the registry database."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine

from sna.registry import schema
from sna.registry.database import from_naive_utc, make_engine, registry_errors, shown_url, to_naive_utc
from sna.registry.rows import run_columns, run_fields
from sna.registry.tables import exports

if TYPE_CHECKING:
    from sna.registry.dry_runs import DryRuns

MAX_PAGE = 1000


@dataclass
class Delivery:
    """An export's delivery to its platform (counts only)."""

    status: str = "none"
    """none (not delivered), pending (being sent), delivered (the platform equals the export), failed."""
    mode: str | None = None
    destination: str | None = None
    delivered_at: datetime | None = None
    added: int = 0
    removed: int = 0
    invalid: int = 0
    requests: int = 0


@dataclass
class ExportEntry:
    """One export file and what produced it (counts only: never customer data)."""

    id: str
    run_key: str
    audience: str
    platform: str
    hashing: str
    filters: dict
    reference_date: date
    created_at: datetime
    file_uri: str
    file_key: str
    size: int
    sha256: str
    rows: int
    scanned: int
    excluded: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    dag_run_id: str | None = None
    delivery: Delivery = field(default_factory=Delivery)
    fill_rates: dict[str, float] = field(default_factory=dict)
    """Per file column, the share of exported rows with a value (e-mail 1.0, phone 0.93, ...)."""


def new_export_id(now: datetime | None = None) -> str:
    """A readable, time-ordered, unique id such as `20240131T120000Z-3f9a1c2b7d`."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{moment:%Y%m%dT%H%M%SZ}-{secrets.token_hex(5)}"


class Registry:
    """Export entries in one table; every database failure becomes a one-line RegistryError."""

    def __init__(self, url_or_engine: str | URL | Engine, *, create: bool = True,
                 creator: Callable[[], Any] | None = None) -> None:
        """`create=False` (read-only commands) refuses a SQLite registry file that does not exist;
        `creator` opens the driver's connections (an Airflow hook's), see `make_engine`."""
        self.engine = url_or_engine if isinstance(url_or_engine, Engine) else make_engine(
            url_or_engine, create=create, creator=creator)
        self.table = exports
        self.database = shown_url(self.engine)

    def __repr__(self) -> str:
        return f"Registry({self.database!r})"

    def _errors(self, action: str):  # noqa: ANN202 - a context manager
        return registry_errors(self.engine, action)

    @property
    def dry_runs(self) -> DryRuns:
        """The dry runs recorded beside the entries (counts only, no file)."""
        from sna.registry.dry_runs import DryRuns

        return DryRuns(self.engine)

    def ensure_schema(self) -> None:
        """Creates or upgrades every registry table (entries and leases) to the newest version."""
        schema.ensure_schema(self.engine)

    def has_tables(self) -> bool:
        """Whether the database holds the export table at all (read-only callers create nothing)."""
        with self._errors("read its tables"):
            return sa.inspect(self.engine).has_table(self.table.name)

    def record(self, entry: ExportEntry) -> ExportEntry | None:
        """Insert `entry`, replacing (in the same transaction) the entry of the same run, which is returned
        so the caller can delete its file when it lives under another key."""
        row = _to_row(entry)
        with self._errors(f"record export {entry.id}"), self.engine.begin() as connection:
            previous = connection.execute(
                sa.select(self.table).where(self.table.c.run_key == entry.run_key).with_for_update()
            ).first()
            if previous is not None:
                connection.execute(sa.delete(self.table).where(self.table.c.id == previous.id))
            connection.execute(sa.insert(self.table).values(**row))
        return _from_row(previous) if previous is not None else None

    def set_delivery(self, export_id: str, delivery: Delivery) -> bool:
        """Records the delivery of an export; False when the entry is gone (deleted meanwhile)."""
        with self._errors(f"record the delivery of export {export_id}"), self.engine.begin() as connection:
            result = connection.execute(
                sa.update(self.table).where(self.table.c.id == export_id).values(**_delivery_row(delivery))
            )
        return result.rowcount > 0

    def get(self, export_id: str) -> ExportEntry | None:
        return self._one(self.table.c.id == export_id, f"read export {export_id}")

    def find_by_run_key(self, run_key: str) -> ExportEntry | None:
        return self._one(self.table.c.run_key == run_key, "read an export by run")

    def has_file_key(self, file_key: str, *, except_id: str | None = None) -> bool:
        """Whether any entry (other than `except_id`) points to `file_key`: a file in use must stay."""
        query = sa.select(sa.literal(1)).where(self.table.c.file_key == file_key)
        if except_id is not None:
            query = query.where(self.table.c.id != except_id)
        query = query.limit(1)
        with self._errors("look up a file key"), self.engine.connect() as connection:
            return connection.execute(query).first() is not None

    def _one(self, condition: Any, action: str) -> ExportEntry | None:
        with self._errors(action), self.engine.connect() as connection:
            row = connection.execute(sa.select(self.table).where(condition)).first()
        return _from_row(row) if row is not None else None

    def _conditions(
        self,
        audience: str | None,
        platform: str | None,
        created_before: datetime | None,
        audiences: Collection[str] | None = None,
    ) -> list:
        conditions = []
        if audience is not None:
            conditions.append(self.table.c.audience == audience)
        if audiences is not None:
            conditions.append(self.table.c.audience.in_(sorted(audiences)))
        if platform is not None:
            conditions.append(self.table.c.platform == platform)
        if created_before is not None:
            conditions.append(self.table.c.created_at < to_naive_utc(created_before))
        return conditions

    def list(
        self,
        *,
        audience: str | None = None,
        platform: str | None = None,
        created_before: datetime | None = None,
        audiences: Collection[str] | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[ExportEntry]:
        """Entries newest first (created_at descending, then id), one page at a time.

        `audiences` restricts to several audiences at once (those a user may read).
        """
        if not 1 <= limit <= MAX_PAGE or offset < 0:
            raise ValueError(f"limit must be 1..{MAX_PAGE} and offset >= 0 (got {limit}, {offset})")
        query = (
            sa.select(self.table)
            .where(*self._conditions(audience, platform, created_before, audiences))
            .order_by(self.table.c.created_at.desc(), self.table.c.id)
            .limit(limit)
            .offset(offset)
        )
        with self._errors("list exports"), self.engine.connect() as connection:
            return [_from_row(row) for row in connection.execute(query)]

    def iter_all(self, *, batch: int = 500) -> Iterator[ExportEntry]:
        """Every entry, oldest key first, read in pages by id (stable while entries are deleted)."""
        last_id = ""
        while True:
            query = (
                sa.select(self.table).where(self.table.c.id > last_id).order_by(self.table.c.id).limit(batch)
            )
            with self._errors("list exports"), self.engine.connect() as connection:
                rows = connection.execute(query).all()
            for row in rows:
                yield _from_row(row)
            if len(rows) < batch:
                return
            last_id = rows[-1].id

    def count(
        self,
        *,
        audience: str | None = None,
        platform: str | None = None,
        created_before: datetime | None = None,
        audiences: Collection[str] | None = None,
    ) -> int:
        query = (
            sa.select(sa.func.count())
            .select_from(self.table)
            .where(*self._conditions(audience, platform, created_before, audiences))
        )
        with self._errors("count exports"), self.engine.connect() as connection:
            return int(connection.execute(query).scalar_one())

    def audiences(self) -> list[str]:
        query = sa.select(self.table.c.audience).distinct().order_by(self.table.c.audience)
        with self._errors("list audiences"), self.engine.connect() as connection:
            return list(connection.execute(query).scalars())

    def delete(self, export_id: str) -> bool:
        with self._errors(f"delete export {export_id}"), self.engine.begin() as connection:
            result = connection.execute(sa.delete(self.table).where(self.table.c.id == export_id))
        return result.rowcount > 0

    def file_keys(self) -> set[str]:
        with self._errors("list file keys"), self.engine.connect() as connection:
            return set(connection.execute(sa.select(self.table.c.file_key)).scalars())

    def dispose(self) -> None:
        """Close pooled connections (tests drop their databases afterwards)."""
        self.engine.dispose()


def _to_row(entry: ExportEntry) -> dict[str, Any]:
    return {
        **run_columns(entry),
        "file_uri": entry.file_uri,
        "file_key": entry.file_key,
        "size": int(entry.size),
        "sha256": entry.sha256,
        **_delivery_row(entry.delivery),
        "fill_rates": json.dumps({str(k): float(v) for k, v in entry.fill_rates.items()}),
    }


def _delivery_row(delivery: Delivery) -> dict[str, Any]:
    return {
        "delivery_status": delivery.status,
        "delivery_mode": delivery.mode,
        "delivery_destination": delivery.destination,
        "delivered_at": to_naive_utc(delivery.delivered_at) if delivery.delivered_at else None,
        "delivery_added": delivery.added,
        "delivery_removed": delivery.removed,
        "delivery_invalid": delivery.invalid,
        "delivery_requests": delivery.requests,
    }


def _from_row(row: sa.Row) -> ExportEntry:
    values = row._mapping
    return ExportEntry(
        **run_fields(values),
        file_uri=values["file_uri"],
        file_key=values["file_key"],
        size=int(values["size"]),
        sha256=values["sha256"],
        fill_rates=json.loads(values["fill_rates"]) if values["fill_rates"] else {},
        delivery=Delivery(
            status=values["delivery_status"] or "none",
            mode=values["delivery_mode"],
            destination=values["delivery_destination"],
            delivered_at=from_naive_utc(values["delivered_at"]) if values["delivered_at"] else None,
            added=int(values["delivery_added"] or 0),
            removed=int(values["delivery_removed"] or 0),
            invalid=int(values["delivery_invalid"] or 0),
            requests=int(values["delivery_requests"] or 0),
        ),
    )
