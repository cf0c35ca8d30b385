"""The benchmark shops: the demo shop's generator, bulk-loaded once into `sna_bench_<size>` and reused.

A marker table records what was written (customers asked, seed, date); a database whose marker
matches is reused as is, so the ~150 s load of a million customers is paid once.
"""

from __future__ import annotations

import datetime as dt
import time

import sqlalchemy as sa

from sna_demo import write_demo_shop

SERVER_URL = "mysql+mysqldb://root@127.0.0.1:3306"
SEED = 20260
AS_OF = dt.date(2026, 11, 1)
MARKER = "bench_marker"


def database_name(customers: int) -> str:
    if customers % 1_000_000 == 0:
        return f"sna_bench_{customers // 1_000_000}m"
    if customers % 1000 == 0:
        return f"sna_bench_{customers // 1000}k"
    return f"sna_bench_{customers}"


def shop_url(customers: int, server_url: str = SERVER_URL) -> str:
    return f"{server_url}/{database_name(customers)}"


def _marker_matches(url: str, customers: int) -> bool:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table(MARKER):
                return False
            row = conn.exec_driver_sql(f"SELECT customers, seed, as_of FROM {MARKER}").first()
            return row is not None and (int(row[0]), int(row[1]), str(row[2])) == (customers, SEED, AS_OF.isoformat())
    except sa.exc.OperationalError:
        return False  # no such database yet
    finally:
        engine.dispose()


def ensure_shop(customers: int, *, rebuild: bool = False, server_url: str = SERVER_URL,
                log=print) -> tuple[str, float | None]:
    """The URL of a bench shop of `customers` customers, and the load time when it was (re)written."""
    url = shop_url(customers, server_url)
    if not rebuild and _marker_matches(url, customers):
        log(f"reusing {database_name(customers)}")
        return url, None
    log(f"writing {customers:,} customers into {database_name(customers)} (bulk load) ...")
    started = time.perf_counter()
    summary = write_demo_shop(url, customers=customers, seed=SEED, as_of=AS_OF, replace=True)
    elapsed = time.perf_counter() - started
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {MARKER}")
            conn.exec_driver_sql(f"CREATE TABLE {MARKER} (customers INT, seed INT, as_of VARCHAR(10), rows_written INT)")
            conn.exec_driver_sql(f"INSERT INTO {MARKER} VALUES (%s, %s, %s, %s)",
                                 (customers, SEED, AS_OF.isoformat(), summary.customers))
    finally:
        engine.dispose()
    log(f"  {summary.customers:,} customers, {summary.addresses:,} addresses, {summary.orders:,} orders "
        f"in {elapsed:.1f} s")
    return url, elapsed
