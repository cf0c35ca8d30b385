"""What the registry's components share: the engine, the timestamp type, one-line database errors.

Airflow 3 tasks cannot use Airflow's metadata database, so SNA keeps its own tables. SQLAlchemy Core
and portable types only (JSON as text, UTC timestamps stored naive) keep the same code working on
SQLite, MySQL/MariaDB and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from sna.errors import ConfigError, NotFoundError, RegistryError

CONNECT_TIMEOUT_SECONDS = 5
SQLITE_BUSY_SECONDS = 30


def timestamp_type() -> sa.types.TypeEngine:
    """Microsecond timestamps everywhere (MySQL's DATETIME drops fractions unless asked)."""
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def to_naive_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("registry timestamps must be timezone-aware (UTC)")
    return moment.astimezone(UTC).replace(tzinfo=None)


def from_naive_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC)


def parse_registry_url(url: str | URL) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError as error:
        raise ConfigError("invalid registry URL: not a SQLAlchemy database URL") from error
    if parsed.get_backend_name() == "sqlite" and (
        not parsed.database or parsed.database == ":memory:" or parsed.database.startswith("file:")
    ):
        raise ConfigError("invalid registry URL: SQLite needs a file, e.g. sqlite:////abs/registry.db")
    return parsed


def make_engine(url: str | URL, *, create: bool = True, creator: Callable[[], Any] | None = None) -> Engine:
    """An engine on the registry database; `create=False` (read-only commands) refuses a SQLite file
    that does not exist instead of creating it; `creator` opens the driver's connections instead of
    the URL (the Airflow layer's hooks)."""
    parsed = parse_registry_url(url)
    backend = parsed.get_backend_name()
    connect_args: dict[str, Any] = {}
    if backend == "sqlite":
        path = Path(parsed.database).expanduser()
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
        elif not path.is_file():
            raise NotFoundError(f"registry {path}: the file does not exist (no export was recorded there; "
                                "check the registry URL)")
        connect_args["timeout"] = SQLITE_BUSY_SECONDS
    elif backend in ("mysql", "mariadb", "postgresql"):
        connect_args["connect_timeout"] = CONNECT_TIMEOUT_SECONDS
    options: dict[str, Any] = {"creator": creator} if creator is not None else {"connect_args": connect_args}
    try:
        engine = sa.create_engine(parsed, pool_pre_ping=True, **options)
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
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_SECONDS * 1000}")
    cursor.close()


def shown_url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def reason_of(error: BaseException, engine: Engine) -> str:
    """The driver's first line (without the SQL statement or parameters), password scrubbed."""
    original = getattr(error, "orig", None)
    text = str(original if original is not None else error).strip().splitlines()
    reason = f"{type(original or error).__name__}: {text[0] if text else ''}"[:300]
    password = engine.url.password
    if password:
        reason = reason.replace(str(password), "***")
    return reason


@contextmanager
def registry_errors(engine: Engine, action: str) -> Iterator[None]:
    """Every database failure becomes a one-line RegistryError naming the database and the action."""
    try:
        yield
    except SQLAlchemyError as error:
        raise RegistryError(f"registry {shown_url(engine)}: cannot {action}: {reason_of(error, engine)}") from error
