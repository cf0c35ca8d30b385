"""The Python reader streams with the engine's own driver: MySQLdb and PyMySQL give the same
customers (a `mysql+pymysql` URL used to break on MySQLdb's cursor class), and a driver it cannot
stream with is refused in one line, naming it."""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from sna.audience import SourceSpec
from sna.errors import ConfigError
from sna.source.extract import ShopReader


def python_chunks(url: str | sa.URL, chunk_size: int = 500) -> list[pd.DataFrame]:
    engine = sa.create_engine(url)
    try:
        reader = ShopReader(engine, SourceSpec(), reader="python")
        return list(reader.iter_chunks(chunk_size, None))
    finally:
        engine.dispose()


def test_pymysql_reads_the_same_customers_as_mysqldb(demo_shop_mariadb: str) -> None:
    expected = python_chunks(demo_shop_mariadb)
    got = python_chunks(make_url(demo_shop_mariadb).set(drivername="mysql+pymysql"))

    assert [len(f) for f in got] == [len(f) for f in expected] and sum(map(len, got)) > 0
    for want, frame in zip(expected, got, strict=True):
        pd.testing.assert_frame_equal(frame, want, check_exact=True)


@pytest.mark.parametrize("dialect, driver", [("mysql", "mysqlconnector"), ("mysql", "asyncmy"),
                                             ("mssql", "pyodbc")])
def test_a_driver_that_cannot_stream_is_refused_by_name(dialect: str, driver: str) -> None:
    from sna.source.streams import streaming_cursor_of

    with pytest.raises(ConfigError, match=f"driver {dialect}\\+{driver} cannot stream") as refused:
        streaming_cursor_of(dialect, driver)
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize("dialect, driver", [("mysql", "mysqldb"), ("mysql", "pymysql"), ("sqlite", "pysqlite"),
                                             ("postgresql", "psycopg2")])
def test_the_drivers_sna_installs_can_stream(dialect: str, driver: str) -> None:
    from sna.source.streams import streaming_cursor_of

    assert callable(streaming_cursor_of(dialect, driver))
