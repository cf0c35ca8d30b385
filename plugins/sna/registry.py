"""The export registry: one row per export file, in SQLite, MySQL/MariaDB or PostgreSQL.

Airflow 3 tasks cannot use Airflow's metadata database, so export entries live in their own table.
SQLAlchemy Core and portable types only (JSON as text, UTC timestamps stored naive) keep the same
code working on all three databases.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from sna.errors import ConfigError, NotFoundError, RegistryError

MAX_PAGE = 1000


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


def new_export_id(now: datetime | None = None) -> str:
    """A readable, time-ordered, unique id such as `20240131T120000Z-3f9a1c2b7d`."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{moment:%Y%m%dT%H%M%SZ}-{secrets.token_hex(5)}"


def _timestamp_type() -> sa.types.TypeEngine:
    """Microsecond timestamps everywhere (MySQL's DATETIME drops fractions unless asked)."""
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def _define_table(name: str) -> sa.Table:
    metadata = sa.MetaData()
    table = sa.Table(
        name,
        metadata,
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("run_key", sa.String(255), nullable=False),
        sa.Column("audience", sa.String(64), nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("hashing", sa.String(16), nullable=False),
        sa.Column("filters", sa.Text, nullable=False),
        sa.Column("reference_date", sa.Date, nullable=False),
        sa.Column("created_at", _timestamp_type(), nullable=False),
        sa.Column("file_uri", sa.String(1024), nullable=False),
        sa.Column("file_key", sa.String(1024), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("rows", sa.BigInteger, nullable=False),
        sa.Column("scanned", sa.BigInteger, nullable=False),
        sa.Column("excluded", sa.Text, nullable=False),
        sa.Column("warnings", sa.Text, nullable=False),
        sa.Column("dag_run_id", sa.String(250), nullable=True),
        sa.UniqueConstraint("run_key", name=f"uq_{name}_run_key"),
    )
    sa.Index(f"ix_{name}_audience_created", table.c.audience, table.c.created_at)
    sa.Index(f"ix_{name}_created", table.c.created_at)
    return table


def _make_engine(url: str, *, create: bool = True) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError as error:
        raise ConfigError("invalid registry URL: not a SQLAlchemy database URL") from error
    backend = parsed.get_backend_name()
    connect_args: dict[str, Any] = {}
    if backend == "sqlite":
        if not parsed.database or parsed.database == ":memory:" or parsed.database.startswith("file:"):
            raise ConfigError("invalid registry URL: SQLite needs a file, e.g. sqlite:////abs/registry.db")
        path = Path(parsed.database).expanduser()
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
        elif not path.is_file():
            raise NotFoundError(f"registry {path}: the file does not exist (no export was recorded there; "
                                "check the registry URL)")
        connect_args["timeout"] = 30
    elif backend in ("mysql", "mariadb", "postgresql"):
        connect_args["connect_timeout"] = 5
    try:
        engine = sa.create_engine(parsed, pool_pre_ping=True, connect_args=connect_args)
    except (ArgumentError, NoSuchModuleError, ImportError) as error:
        shown = parsed.render_as_string(hide_password=True)
        raise ConfigError(f"invalid registry URL {shown}: {type(error).__name__}: {error}") from error
    if backend == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets the UI read while a DAG writes; busy_timeout waits for the writer instead of failing."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class Registry:
    """Export entries in one table; every database failure becomes a one-line RegistryError."""

    def __init__(self, url_or_engine: str | Engine, table_name: str = "sna_exports", *, create: bool = True) -> None:
        """`create=False` (read-only callers) never makes a SQLite file or its folder: a missing file is
        a NotFoundError naming it."""
        if not table_name.replace("_", "").isalnum() or not table_name[:1].isalpha() or len(table_name) > 48:
            raise ConfigError(f"invalid registry table name {table_name!r}")
        self.engine = (url_or_engine if isinstance(url_or_engine, Engine)
                       else _make_engine(url_or_engine, create=create))
        self.table = _define_table(table_name)
        self.database = self.engine.url.render_as_string(hide_password=True)

    def __repr__(self) -> str:
        return f"Registry({self.database!r}, table={self.table.name!r})"

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except SQLAlchemyError as error:
            raise RegistryError(
                f"registry {self.database}: cannot {action}: {self._reason(error)}"
            ) from error

    def _reason(self, error: SQLAlchemyError) -> str:
        """The driver's first line (without the SQL statement or parameters), password scrubbed."""
        original = getattr(error, "orig", None)
        text = str(original if original is not None else error).strip().splitlines()
        reason = f"{type(original or error).__name__}: {text[0] if text else ''}"[:300]
        password = self.engine.url.password
        if password:
            reason = reason.replace(str(password), "***")
        return reason

    def ensure_schema(self) -> None:
        with self._errors("create the table"):
            self.table.metadata.create_all(self.engine, checkfirst=True)

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
            conditions.append(self.table.c.created_at < _to_naive_utc(created_before))
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


def _to_naive_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("registry timestamps must be timezone-aware (UTC)")
    return moment.astimezone(UTC).replace(tzinfo=None)


def _to_row(entry: ExportEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "run_key": entry.run_key,
        "audience": entry.audience,
        "platform": entry.platform,
        "hashing": entry.hashing,
        "filters": json.dumps(entry.filters, sort_keys=True, default=str),
        "reference_date": entry.reference_date,
        "created_at": _to_naive_utc(entry.created_at),
        "file_uri": entry.file_uri,
        "file_key": entry.file_key,
        "size": int(entry.size),
        "sha256": entry.sha256,
        "rows": int(entry.rows),
        "scanned": int(entry.scanned),
        "excluded": json.dumps({str(k): int(v) for k, v in entry.excluded.items()}, sort_keys=True),
        "warnings": json.dumps([str(w) for w in entry.warnings]),
        "dag_run_id": entry.dag_run_id,
    }


def _from_row(row: sa.Row) -> ExportEntry:
    values = row._mapping
    reference_date = values["reference_date"]
    if isinstance(reference_date, datetime):
        reference_date = reference_date.date()
    return ExportEntry(
        id=values["id"],
        run_key=values["run_key"],
        audience=values["audience"],
        platform=values["platform"],
        hashing=values["hashing"],
        filters=json.loads(values["filters"]),
        reference_date=reference_date,
        created_at=values["created_at"].replace(tzinfo=UTC),
        file_uri=values["file_uri"],
        file_key=values["file_key"],
        size=int(values["size"]),
        sha256=values["sha256"],
        rows=int(values["rows"]),
        scanned=int(values["scanned"]),
        excluded=json.loads(values["excluded"]),
        warnings=json.loads(values["warnings"]),
        dag_run_id=values["dag_run_id"],
    )
