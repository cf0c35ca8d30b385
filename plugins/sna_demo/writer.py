"""Bulk writers: DataFrames into PrestaShop tables, fast enough for a million customers.

MySQL/MariaDB: `LOAD DATA LOCAL INFILE` from a tab-separated temporary file (NULL as `\\N`),
with unique and foreign key checks off and PrestaShop's empty sql_mode (zero dates accepted).
SQLite: `executemany` in one transaction with the journal and syncs off (a demo file is rebuilt,
never repaired). Both commit once per chunk.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from abc import ABC, abstractmethod
from typing import Any, Self

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from sna_demo.schema import table_name


class BulkWriter(ABC):
    """Append DataFrames (columns = table columns) to prefixed PrestaShop tables."""

    def __init__(self, engine: sa.Engine, table_prefix: str) -> None:
        self.table_prefix = table_prefix
        self.connection: Any = engine.raw_connection()
        self._prepare()

    @abstractmethod
    def _prepare(self) -> None: ...

    @abstractmethod
    def write(self, table: str, frame: pd.DataFrame) -> None: ...

    def commit(self) -> None:
        self.connection.commit()

    def defer_indexes(self) -> None:  # noqa: B027 - optional hook, a no-op where indexes are cheap
        """Drop the indexes that make bulk inserts slow (rebuilt by `restore_indexes`)."""

    def restore_indexes(self) -> None:  # noqa: B027 - optional hook
        """Rebuild what `defer_indexes` dropped."""

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# Indexes on random-order values: maintaining them row by row costs more than the load itself
# once they outgrow the buffer pool, while a rebuild at the end sorts once.
DEFERRED_INDEXES: dict[str, tuple[str, ...]] = {
    "customer": ("customer_email", "customer_login"),
    "orders": ("reference",),
}


class MySqlWriter(BulkWriter):
    _rebuild: list[str]

    def defer_indexes(self) -> None:
        self._rebuild = []
        cursor = self.connection.cursor()
        try:
            for table, indexes in DEFERRED_INDEXES.items():
                name = table_name(table, self.table_prefix)
                cursor.execute(
                    "SELECT index_name, column_name, sub_part FROM information_schema.statistics"
                    " WHERE table_schema = DATABASE() AND table_name = %s ORDER BY index_name, seq_in_index",
                    (name,),
                )
                parts: dict[str, list[str]] = {}
                for index, column, sub_part in cursor.fetchall():
                    if index in indexes:
                        parts.setdefault(index, []).append(
                            f"`{column}`" + (f"({sub_part})" if sub_part else "")
                        )
                if not parts:
                    continue
                cursor.execute(
                    f"ALTER TABLE `{name}` " + ", ".join(f"DROP INDEX `{index}`" for index in parts)
                )
                self._rebuild.append(
                    f"ALTER TABLE `{name}` "
                    + ", ".join(
                        f"ADD INDEX `{index}` ({', '.join(columns)})" for index, columns in parts.items()
                    )
                )
        finally:
            cursor.close()

    def restore_indexes(self) -> None:
        cursor = self.connection.cursor()
        try:
            for statement in getattr(self, "_rebuild", []):
                cursor.execute(statement)
        finally:
            cursor.close()
        self._rebuild = []

    def _prepare(self) -> None:
        cursor = self.connection.cursor()
        for statement in (
            "SET SESSION sql_mode = ''",
            "SET SESSION unique_checks = 0",
            "SET SESSION foreign_key_checks = 0",
            "SET autocommit = 0",
        ):
            cursor.execute(statement)
        cursor.close()
        self._folder = tempfile.TemporaryDirectory(prefix="sna-demo-shop-")

    def write(self, table: str, frame: pd.DataFrame) -> None:
        if frame.empty:
            return
        path = os.path.join(self._folder.name, f"{table}.tsv")
        with open(path, "wb") as handle:
            handle.write(tsv_bytes(frame))
        columns = ", ".join(f"`{column}`" for column in frame.columns)
        cursor = self.connection.cursor()
        try:
            cursor.execute(
                f"LOAD DATA LOCAL INFILE %s INTO TABLE `{table_name(table, self.table_prefix)}` "
                f"CHARACTER SET utf8mb4 FIELDS TERMINATED BY '\\t' LINES TERMINATED BY '\\n' ({columns})",
                (path,),
            )
        finally:
            cursor.close()
            os.remove(path)

    def close(self) -> None:
        super().close()
        self._folder.cleanup()


class SqliteWriter(BulkWriter):
    def _prepare(self) -> None:
        driver: sqlite3.Connection = self.connection.driver_connection
        driver.execute("PRAGMA journal_mode = OFF")
        driver.execute("PRAGMA synchronous = OFF")

    def write(self, table: str, frame: pd.DataFrame) -> None:
        if frame.empty:
            return
        columns = ", ".join(f'"{column}"' for column in frame.columns)
        marks = ", ".join("?" for _ in frame.columns)
        cursor = self.connection.cursor()
        try:
            cursor.executemany(
                f'INSERT INTO "{table_name(table, self.table_prefix)}" ({columns}) VALUES ({marks})',
                _python_rows(frame),
            )
        finally:
            cursor.close()


def _python_rows(frame: pd.DataFrame) -> Any:
    """Rows of plain Python values (None for missing): what sqlite3 can bind."""
    columns = []
    for name in frame.columns:
        column = frame[name]
        if column.dtype.kind in "iuf" and isinstance(column.dtype, np.dtype):
            columns.append(column.tolist())
        else:
            columns.append(column.astype(object).where(column.notna(), None).tolist())
    return zip(*columns, strict=True)


def tsv_bytes(frame: pd.DataFrame) -> bytes:
    """The frame as LOAD DATA's default text format, built column-wise by Arrow.

    No value contains a tab, newline or backslash (see vocabulary), so nothing needs escaping;
    NULL is written `\\N`.
    """
    columns = []
    for name in frame.columns:
        array = pa.Array.from_pandas(frame[name])
        if pa.types.is_null(array.type):
            array = pa.nulls(len(array), pa.string())
        columns.append(pc.fill_null(pc.cast(array, pa.string()), "\\N"))
    lines = pc.binary_join_element_wise(*columns, "\t")
    return ("\n".join(lines.to_pylist()) + "\n").encode("utf-8")


def bulk_writer(engine: sa.Engine, table_prefix: str) -> BulkWriter:
    """The writer for the engine's dialect."""
    if engine.dialect.name == "sqlite":
        return SqliteWriter(engine, table_prefix)
    return MySqlWriter(engine, table_prefix)
