"""Server-side cursors read in blocks, and a merge of streams ordered by customer id.

Extraction reads the customer, address and order tables as three plain scans ordered by customer
id, each on its own connection, and merges them chunk by chunk in Python: the database does no
join and no ranking (which cost MariaDB minutes at a million customers), and memory holds one
chunk of each stream at a time.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from sna.errors import ConfigError


def compile_statement(engine: Engine, statement: sa.Executable) -> tuple[str, tuple[Any, ...] | dict[str, Any]]:
    """SQL text and parameters in the engine's driver's paramstyle (values stay bound parameters):
    positional for `format`/`qmark` drivers (MySQLdb, sqlite3), named for `pyformat` ones (PyMySQL)."""
    compiled = statement.compile(dialect=engine.dialect, compile_kwargs={"render_postcompile": True})
    if not compiled.positional:
        return compiled.string, dict(compiled.params)
    return compiled.string, tuple(compiled.params[name] for name in compiled.positiontup or ())


def _lenient_text(value: bytes) -> str:
    return value.decode("utf-8", "replace")


def _mysqldb_cursor(connection: Any) -> Any:
    import MySQLdb.cursors

    return connection.cursor(MySQLdb.cursors.SSCursor)


def _pymysql_cursor(connection: Any) -> Any:
    import pymysql.cursors

    return connection.cursor(pymysql.cursors.SSCursor)


def _psycopg2_cursor(connection: Any) -> Any:
    return connection.cursor(name=f"sna_stream_{threading.get_ident()}")  # a named cursor is server-side


def _sqlite_cursor(connection: Any) -> Any:
    # SQLite stores whatever bytes it was given: one latin-1 name must not stop the run (nor reach an
    # error message); the normalizers mark such a value invalid. sqlite3 cursors are lazy already.
    connection.driver_connection.text_factory = _lenient_text
    return connection.cursor()


_STREAMING_CURSORS = {
    ("mysql", "mysqldb"): _mysqldb_cursor,
    ("mysql", "pymysql"): _pymysql_cursor,
    ("postgresql", "psycopg2"): _psycopg2_cursor,
    ("sqlite", "pysqlite"): _sqlite_cursor,
}


def streaming_cursor_of(dialect: str, driver: str) -> Any:
    """How to open a cursor that streams rows with this driver; a driver SNA cannot stream with is
    refused (reading a million customers into memory at once is not an option)."""
    try:
        return _STREAMING_CURSORS[(dialect, driver)]
    except KeyError:
        supported = ", ".join(f"{d}+{v}" for d, v in _STREAMING_CURSORS)
        raise ConfigError(f"shop database driver {dialect}+{driver} cannot stream rows: use one of {supported}"
                          ) from None


@contextmanager
def raw_cursor(engine: Engine) -> Iterator[Any]:
    """A DBAPI cursor that streams, opened the way the engine's driver does it (`streaming_cursor_of`)."""
    open_cursor = streaming_cursor_of(engine.dialect.name, engine.dialect.driver)
    connection = engine.raw_connection()
    try:
        cursor = open_cursor(connection)
        try:
            yield cursor
        finally:
            cursor.close()
    finally:
        connection.close()


def fetch_blocks(engine: Engine, statement: sa.Executable, block_rows: int) -> Iterator[Sequence[tuple]]:
    """The rows of `statement` as tuples, `block_rows` at a time, read from a server-side cursor."""
    sql, params = compile_statement(engine, statement)
    with raw_cursor(engine) as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(block_rows):
            yield rows


_DONE = object()


def prefetch(blocks: Iterator[Sequence[tuple]], depth: int = 1) -> Iterator[Sequence[tuple]]:
    """The same blocks, read ahead by a thread, so the database works while the caller computes.

    The driver releases the GIL while it waits for the server, so reading overlaps with pandas
    work. At most `depth` blocks wait in memory; errors are re-raised in the caller's thread.
    """
    handoff: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def pump() -> None:
        try:
            for block in blocks:
                while not stop.is_set():
                    try:
                        handoff.put(block, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    break
            item: object = _DONE
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            item = exc
        finally:
            close = getattr(blocks, "close", None)
            if close is not None and stop.is_set():
                close()
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    worker = threading.Thread(target=pump, name="sna-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item = handoff.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join(timeout=30)


class OrderedStream:
    """Rows ordered by their first column (a customer id), handed out up to a given id.

    `take_until(last_id)` returns every row whose id is <= last_id that was not returned yet;
    rows of ids that no customer chunk asks for (other shops, erased customers) are skipped.
    """

    def __init__(self, blocks: Iterator[Sequence[tuple]]) -> None:
        self._blocks = blocks
        self._pending: list[tuple] = []
        self._exhausted = False

    def take_until(self, last_id: int) -> list[tuple]:
        taken: list[tuple] = []
        while True:
            pending = self._pending
            if pending and pending[-1][0] <= last_id:
                taken.extend(pending)
                self._pending = []
            elif pending:
                cut = _first_index_above(pending, last_id)
                taken.extend(pending[:cut])
                self._pending = pending[cut:]
                return taken
            if self._exhausted:
                return taken
            block = next(self._blocks, None)
            if block is None:
                self._exhausted = True
            else:
                self._pending = list(block)

    def close(self) -> None:
        close = getattr(self._blocks, "close", None)
        if close is not None:
            close()


def _first_index_above(rows: list[tuple], last_id: int) -> int:
    """Binary search on the (sorted) first column."""
    low, high = 0, len(rows)
    while low < high:
        middle = (low + high) // 2
        if rows[middle][0] <= last_id:
            low = middle + 1
        else:
            high = middle
    return low
