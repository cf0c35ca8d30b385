"""The Arrow-native source reader: the three scans read with connectorx straight into Arrow.

connectorx (Rust) decodes the MySQL/MariaDB binary protocol or SQLite rows into Arrow columns
without a Python object per cell, and streams each scan as record batches (`arrow_stream`), so
memory holds a few batches of each scan, never a table. The scans are the same SQLAlchemy
statements as the Python reader's (same columns, filters and order); they are rendered to SQL text
here because connectorx takes no bound parameters, which is why every value they carry must be an
integer (shop ids, customer and address ids): no text from an audience file can reach the SQL.

What this reader cannot do, it says, and the caller falls back to the Python reader (`extract.py`):
- URLs it cannot serve (`arrow_target`): a unix socket (no host, or `localhost`, which mysqlclient
  reads as the socket), URL options such as TLS (`ssl_*`), `unix_socket`, `init_command`, a charset
  other than utf8mb4 (connectorx always talks utf8mb4), SQLite URI or in-memory databases, other
  dialects. Connection arguments given to `create_engine` outside the URL are not seen.
- Data it cannot decode exactly (`ArrowReadError`): SQLite text that is not UTF-8 (the Python
  reader marks it U+FFFD), a value whose storage class does not match its column (SQLite's dynamic
  typing), an auth plugin connectorx lacks, a column of an unexpected type. connectorx raises on
  all of these rather than guessing, and so does this module (column types are checked).

SQLite gives connectorx no type for an expression (a CAST, the order amount): it infers one from
the first row and fails on a NULL there. Such columns are therefore read in a lossless encoding
that is never NULL (`'v' || text` or `'n'`; the amount with a separate IS NULL flag) and decoded
here. MySQL reports the type of every column, so its statements are read as written.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from sqlalchemy import String, func, literal_column
from sqlalchemy.engine import Engine

from sna.source.assemble import ADDRESS_COLUMNS, CUSTOMER_COLUMNS, ORDER_COLUMNS, SUBSCRIBER_COLUMNS

READERS = ("auto", "arrow", "python")
_CHARSETS = ("utf8mb4",)


class ArrowReadError(Exception):
    """connectorx could not read a scan exactly; `__cause__` holds its error (which may quote data:
    pass it through `source_error` before showing it)."""


@dataclass(frozen=True)
class Scan:
    """The kinds of the columns of one scan (positional, as `assemble` names them)."""

    name: str
    columns: tuple[str, ...]
    text: frozenset[str]  # plain text columns
    casts: frozenset[str]  # dates cast to text in SQL (encoded for SQLite)
    floats: frozenset[str] = frozenset()  # computed floats (encoded for SQLite)

    def kind(self, column: str) -> str:
        if column in self.text or column in self.casts:
            return "text"
        return "float" if column in self.floats else "int"


CUSTOMERS = Scan("customers", CUSTOMER_COLUMNS, frozenset({"email", "firstname", "lastname"}),
                 frozenset({"birthday", "date_add"}))
ADDRESSES = Scan("addresses", ADDRESS_COLUMNS, frozenset({"postcode", "city", "phone", "phone_mobile"}),
                 frozenset({"date_upd"}))
ORDERS = Scan("orders", ORDER_COLUMNS, frozenset(), frozenset({"date_add"}), frozenset({"amount"}))
SUBSCRIBERS = Scan("subscribers", SUBSCRIBER_COLUMNS, frozenset({"email"}), frozenset({"newsletter_date_add"}))

_NULL_FLAG = "__null"


READ_HERE: list[int] = []
"""Not empty once this process has read with connectorx: its Rust runtime's threads then live here,
and a plain fork of the process would crash in the child's next read (see `sna.partitions`)."""


@cache
def connectorx() -> Any | None:
    """The connectorx module, or None when it is not installed. Its Rust logger is switched off
    while it loads (it would print connection retries on standard error); SNA logs its own line."""
    unset = "RUST_LOG" not in os.environ
    if unset:
        os.environ["RUST_LOG"] = "off"
    try:
        import connectorx as cx
    except ImportError:
        return None
    finally:
        if unset:
            os.environ.pop("RUST_LOG", None)
    return cx


@dataclass(frozen=True)
class ArrowTarget:
    """Where connectorx reads the shop (`url` holds the password: never log it), or why it cannot."""

    url: str | None
    dialect: str
    reason: str | None = None


def arrow_target(engine: Engine) -> ArrowTarget:
    """The connectorx connection string of the engine's database, or the reason it has none."""
    url = engine.url
    backend = url.get_backend_name()

    def refused(reason: str) -> ArrowTarget:
        return ArrowTarget(None, backend, reason)

    if connectorx() is None:
        return refused("connectorx is not installed")
    if backend == "sqlite":
        database = url.database or ""
        if not database or database == ":memory:" or database.startswith("file:"):
            return refused("an in-memory or URI-mode SQLite database")
        if url.query:
            return refused(f"SQLite URL options ({', '.join(sorted(url.query))})")
        return ArrowTarget("sqlite://" + quote(str(Path(database).expanduser().resolve())), "sqlite")
    if backend in ("mysql", "mariadb"):
        options = {key.lower(): value for key, value in url.query.items()}
        charset = options.pop("charset", None)
        if options:
            return refused(f"URL options {', '.join(sorted(options))}")
        if charset is not None and str(charset).lower() not in _CHARSETS:
            return refused("a charset other than utf8mb4")
        if not url.host or url.host == "localhost":
            return refused("a unix socket (no host, or localhost; give 127.0.0.1 for TCP)")
        if not url.database:
            return refused("no database name in the URL")
        credentials = quote(url.username or "", safe="")
        if url.password is not None:
            credentials += ":" + quote(str(url.password), safe="")
        host = f"[{url.host}]" if ":" in url.host else url.host
        return ArrowTarget(f"mysql://{credentials}@{host}:{url.port or 3306}/{quote(url.database, safe='')}",
                           "mysql")
    return refused(f"the {backend} dialect")


# -- statements --------------------------------------------------------------------------------


def portable(statement: sa.Select, scan: Scan, dialect: str) -> sa.Select:
    """The scan as connectorx can type it: unchanged for MySQL; for SQLite, the text casts and the
    computed floats in a never-NULL encoding (decoded by `to_frame`), the NULL flags last."""
    if dialect != "sqlite":
        return statement
    columns, flags = [], []
    for name, column in zip(scan.columns, statement.selected_columns, strict=True):
        if name in scan.casts:
            encoded = literal_column("'v'", String).concat(column)
            columns.append(func.coalesce(encoded, literal_column("'n'", String)).label(name))
        elif name in scan.floats:
            columns.append(func.coalesce(column, literal_column("0.0")).label(name))
            flags.append(column.is_(None).label(name + _NULL_FLAG))
        else:
            columns.append(column)
    return statement.with_only_columns(*columns, *flags)


def render_sql(engine: Engine, statement: sa.Executable) -> str:
    """SQL text with its values inlined, refused unless every value is an integer."""
    compiled = statement.compile(dialect=engine.dialect, compile_kwargs={"render_postcompile": True})
    for value in compiled.params.values():
        values = value if isinstance(value, list | tuple) else [value]
        if not all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in values):
            raise ValueError("the arrow reader inlines integers only into SQL")
    return str(statement.compile(dialect=engine.dialect,
                                 compile_kwargs={"literal_binds": True, "render_postcompile": True}))


# -- reading -----------------------------------------------------------------------------------


def _reraise(exc: BaseException) -> None:
    if isinstance(exc, GeneratorExit | KeyboardInterrupt | SystemExit):
        raise exc
    raise ArrowReadError(type(exc).__name__) from exc


class ArrowScan:
    """One scan streamed as record batches; the query runs when it is opened (so opening is the
    probe). `close()` drops the stream."""

    def __init__(self, url: str, sql: str, scan: Scan, batch_rows: int) -> None:
        self.scan = scan
        READ_HERE[:] = [os.getpid()]
        try:
            self._reader = connectorx().read_sql(url, sql, return_type="arrow_stream", batch_size=batch_rows)
            self.schema = self._reader.schema
        except BaseException as exc:  # noqa: BLE001 - Rust panics derive from BaseException
            _reraise(exc)

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        while True:
            try:
                batch = self._reader.read_next_batch()
            except StopIteration:
                return
            except BaseException as exc:  # noqa: BLE001
                _reraise(exc)
            if batch.num_rows:
                yield batch

    def close(self) -> None:
        close = getattr(self._reader, "close", None)
        if close is not None:
            close()


_ARROW_TYPES = {"int": pa.int64(), "text": pa.string(), "float": pa.float64()}
_KIND_CHECKS: dict[str, Callable[[pa.DataType], bool]] = {
    "int": pa.types.is_integer,
    "text": lambda t: pa.types.is_string(t) or pa.types.is_large_string(t),
    "float": lambda t: pa.types.is_floating(t) or pa.types.is_integer(t),
}


def check_schema(schema: pa.Schema, scan: Scan) -> None:
    """Every column of the scan has the Arrow type its kind needs (NULL-only columns pass): a value
    connectorx typed otherwise is refused here, never converted."""
    if len(schema) < len(scan.columns):
        raise ArrowReadError(f"{scan.name}: {len(schema)} columns, {len(scan.columns)} expected")
    for name, field in zip(scan.columns, schema, strict=False):
        kind = scan.kind(name)
        if not (pa.types.is_null(field.type) or _KIND_CHECKS[kind](field.type)):
            raise ArrowReadError(f"{scan.name}.{name}: Arrow type {field.type} where {kind} was expected")


def _decode_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """`'n'` -> NULL, `'v' + text` -> text (the SQLite encoding of `portable`)."""
    column = column.cast(pa.string())
    if len(column) and not pc.all(pc.or_(pc.starts_with(column, "v"), pc.equal(column, "n"))).as_py():
        raise ArrowReadError("an encoded text column holds an unexpected value")
    return pc.if_else(pc.equal(column, "n"), pa.scalar(None, pa.string()), pc.utf8_slice_codeunits(column, 1))


def normalize(batches: Sequence[pa.RecordBatch] | pa.Table, schema: pa.Schema, scan: Scan,
              dialect: str) -> pa.Table:
    """The scan's rows with stable Arrow types, named like `assemble`'s columns: integers int64,
    text string (SQLite's encoding decoded), the amount float64; NULL stays NULL."""
    table = batches if isinstance(batches, pa.Table) else pa.Table.from_batches(list(batches), schema=schema)
    if table.num_rows == 0:  # SQLite types the expressions of an empty result as text
        return pa.table({name: pa.array([], _ARROW_TYPES[scan.kind(name)]) for name in scan.columns})
    check_schema(table.schema, scan)
    columns = []
    for index, name in enumerate(scan.columns):
        column = table.column(index)
        kind = scan.kind(name)
        if kind == "text":
            column = _decode_text(column) if dialect == "sqlite" and name in scan.casts else column.cast(pa.string())
        elif kind == "int":
            column = column.cast(pa.int64())
        else:
            column = column.cast(pa.float64())
            if dialect == "sqlite":
                null = table.column(table.schema.get_field_index(name + _NULL_FLAG)).cast(pa.bool_())
                column = pc.if_else(null, pa.scalar(None, pa.float64()), column)
        columns.append(column)
    return pa.table(columns, names=list(scan.columns))


class OrderedBatches:
    """`streams.OrderedStream` over Arrow batches: the rows of ids up to `last_id` not yet taken."""

    def __init__(self, scan: ArrowScan) -> None:
        self._batches = iter(scan)
        self.schema = scan.schema
        self._pending: pa.RecordBatch | None = None
        self._exhausted = False

    def take_until(self, last_id: int) -> list[pa.RecordBatch]:
        taken: list[pa.RecordBatch] = []
        while True:
            pending = self._pending
            if pending is not None:
                keys = pending.column(0).to_numpy(zero_copy_only=False)
                cut = int(np.searchsorted(keys, last_id, side="right"))
                if cut < pending.num_rows:
                    if cut:
                        taken.append(pending.slice(0, cut))
                    self._pending = pending.slice(cut)
                    return taken
                taken.append(pending)
                self._pending = None
            if self._exhausted:
                return taken
            batch = next(self._batches, None)
            if batch is None:
                self._exhausted = True
            else:
                self._pending = batch


def rebatch(scan: ArrowScan, rows: int) -> Iterator[pa.Table]:
    """The scan's rows in tables of exactly `rows` rows (the last one shorter)."""
    pending: list[pa.RecordBatch] = []
    count = 0
    for batch in scan:
        while batch.num_rows:
            part = batch.slice(0, rows - count)
            pending.append(part)
            count += part.num_rows
            batch = batch.slice(part.num_rows)
            if count == rows:
                yield pa.Table.from_batches(pending, schema=scan.schema)
                pending, count = [], 0
    if count:
        yield pa.Table.from_batches(pending, schema=scan.schema)
