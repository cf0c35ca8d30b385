"""Write a whole demo shop into an empty (or replaced) PrestaShop database, chunk by chunk.

Each chunk of customers is generated from its own random stream (`seed`, chunk number) and
written before the next one is built, so memory stays bounded and the same (seed, as_of,
customers) gives the same rows in SQLite and in MySQL.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
import sqlalchemy as sa

from sna.errors import ConfigError, SourceError
from sna_demo.addresses import (
    MANUFACTURER_ADDRESSES,
    generate_addresses,
    manufacturer_addresses,
    mark_used_deleted,
)
from sna_demo.customers import DEMO, generate_customers
from sna_demo.orders import generate_orders
from sna_demo.reference import SHOPS, reference_tables
from sna_demo.schema import create_schema, drop_schema, table_name, validate_prefix
from sna_demo.subscribers import generate_subscribers
from sna_demo.textgen import mask
from sna_demo.writer import bulk_writer

CHUNK_SIZE = 50_000  # part of the data's identity: changing it changes the generated shop
ERASED_SHARE = 0.01  # customers with orders whose row was hard-deleted (GDPR erasure)


@dataclass
class DemoShopSummary:
    """Row counts written (customers excludes the erased ones, whose orders remain)."""

    customers: int = 0
    erased_customers: int = 0
    customer_groups: int = 0
    addresses: int = 0
    orders: int = 0
    subscribers: int = 0
    shops: int = len(SHOPS)

    def describe(self) -> str:
        """`4978 customers (5000 generated, 22 hard-deleted ...), 6123 addresses, 8000 orders`: why a shop
        of N customers scans fewer than N."""
        erased = (f" ({self.customers + self.erased_customers} generated, {self.erased_customers} hard-deleted "
                  "as in a real shop: GDPR erasure leaves their orders and addresses behind)"
                  if self.erased_customers else "")
        return (f"{self.customers} customers{erased}, {self.addresses} addresses, {self.orders} orders, "
                f"{self.subscribers} newsletter subscriptions")


def write_demo_shop(
    url: str,
    customers: int = 2000,
    seed: int = 42,
    as_of: dt.date | None = None,
    table_prefix: str = "ps_",
    progress: Callable[[int], None] | None = None,
    replace: bool = False,
) -> DemoShopSummary:
    """Create the PrestaShop tables at `url` and fill them with `customers` synthetic customers.

    Refuses a database whose customer table already holds rows unless `replace` is set.
    """
    validate_prefix(table_prefix)
    if customers < 1:
        raise ConfigError("demo shop: the number of customers must be at least 1")
    as_of = as_of or dt.datetime.now(dt.UTC).date()
    engine = _engine(url)
    try:
        _prepare_tables(engine, table_prefix, replace)
        return _fill(engine, table_prefix, customers, seed, as_of, progress)
    except (sa.exc.SQLAlchemyError, engine.dialect.loaded_dbapi.Error) as error:
        # Raw driver errors come from the bulk loaders; only the error class is shown (no data).
        cause = getattr(error, "orig", None) or error
        shown = engine.url.render_as_string(hide_password=True)
        raise SourceError(f"demo shop: database {shown} failed ({type(cause).__name__})") from error
    finally:
        engine.dispose()


def _engine(url: str) -> sa.Engine:
    """An engine on the target database, creating the SQLite file or MySQL database if missing."""
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError as error:
        raise ConfigError("demo shop: the database URL cannot be parsed") from error
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(parsed.database)), exist_ok=True)
        return sa.create_engine(parsed)
    if backend not in ("mysql", "mariadb"):
        raise ConfigError(f"demo shop: database type {backend!r} is not supported (sqlite, mysql)")
    if not parsed.database:
        raise ConfigError(
            f"demo shop: the URL {parsed.render_as_string(hide_password=True)} names no database"
        )
    server_url = sa.URL.create(
        parsed.drivername, parsed.username, parsed.password, parsed.host, parsed.port, query=parsed.query
    )
    server = sa.create_engine(server_url)
    try:
        with server.begin() as connection:
            connection.exec_driver_sql(
                f"CREATE DATABASE IF NOT EXISTS `{parsed.database.replace('`', '``')}` "
                "CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"
            )
    except sa.exc.SQLAlchemyError as error:
        shown = parsed.render_as_string(hide_password=True)
        raise SourceError(f"demo shop: cannot create the database of {shown}") from error
    finally:
        server.dispose()
    return sa.create_engine(parsed, connect_args={"local_infile": 1})


def _prepare_tables(engine: sa.Engine, table_prefix: str, replace: bool) -> None:
    customer_table = table_name("customer", table_prefix)
    if sa.inspect(engine).has_table(customer_table):
        with engine.connect() as connection:
            quoted = engine.dialect.identifier_preparer.quote_identifier(customer_table)
            has_rows = connection.exec_driver_sql(f"SELECT 1 FROM {quoted} LIMIT 1").first() is not None
        if has_rows and not replace:
            shown = engine.url.render_as_string(hide_password=True)
            raise ConfigError(
                f"demo shop: {shown} already has customers in {customer_table}; "
                "use --replace (replace=True) to drop and rewrite its tables"
            )
        drop_schema(engine, table_prefix)
    create_schema(engine, table_prefix)


@dataclass
class _ChunkTables:
    """The rows of one chunk, by table, in writing order."""

    last_customer_id: int
    tables: dict[str, pd.DataFrame]
    erased: int


def _generate(total: int, seed: int, as_of: dt.date) -> Iterator[_ChunkTables]:
    """Chunks of the shop, each from its own random stream; ids continue across chunks."""
    next_address = MANUFACTURER_ADDRESSES + 1
    next_order = 1
    next_subscriber = 1
    for number, first_id in enumerate(range(1, total + 1, CHUNK_SIZE)):
        count = min(CHUNK_SIZE, total - first_id + 1)
        rng = np.random.default_rng([seed, number])
        chunk = generate_customers(rng, first_id, count, total, as_of)
        addresses = generate_addresses(rng, chunk, next_address, as_of)
        orders = generate_orders(rng, chunk, addresses, next_order, as_of)
        used = np.concatenate(
            [orders["id_address_invoice"].to_numpy(), orders["id_address_delivery"].to_numpy()]
        )
        mark_used_deleted(rng, addresses.rows, used)
        subscribers = generate_subscribers(rng, chunk, next_subscriber, as_of)
        kept, groups, erased = _erase_some(rng, chunk.customers, chunk.customer_groups, orders, chunk.kind)
        next_address += len(addresses.rows)
        next_order += len(orders)
        next_subscriber += len(subscribers)
        yield _ChunkTables(
            last_customer_id=first_id + count - 1,
            tables={
                "customer": kept,
                "customer_group": groups,
                "address": addresses.rows,
                "orders": orders,
                "emailsubscription": subscribers,
            },
            erased=erased,
        )


def _prefetched(chunks: Iterator[_ChunkTables]) -> Iterator[_ChunkTables]:
    """Build the next chunk in a thread while the database loads the current one."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="demo-shop") as executor:
        pending = executor.submit(next, chunks, None)
        while (chunk := pending.result()) is not None:
            pending = executor.submit(next, chunks, None)
            yield chunk


def _fill(
    engine: sa.Engine,
    table_prefix: str,
    total: int,
    seed: int,
    as_of: dt.date,
    progress: Callable[[int], None] | None,
) -> DemoShopSummary:
    summary = DemoShopSummary(addresses=MANUFACTURER_ADDRESSES)
    with bulk_writer(engine, table_prefix) as writer:
        for table, frame in reference_tables(as_of).items():
            writer.write(table, frame)
        writer.write("address", manufacturer_addresses(as_of))
        writer.commit()
        writer.defer_indexes()
        for chunk in _prefetched(_generate(total, seed, as_of)):
            for table, frame in chunk.tables.items():
                writer.write(table, frame)
            writer.commit()
            summary.customers += len(chunk.tables["customer"])
            summary.erased_customers += chunk.erased
            summary.customer_groups += len(chunk.tables["customer_group"])
            summary.addresses += len(chunk.tables["address"])
            summary.orders += len(chunk.tables["orders"])
            summary.subscribers += len(chunk.tables["emailsubscription"])
            if progress is not None:
                progress(chunk.last_customer_id)
        writer.restore_indexes()
    return summary


def _erase_some(
    rng: np.random.Generator,
    customers: pd.DataFrame,
    groups: pd.DataFrame,
    orders: pd.DataFrame,
    kind: np.ndarray,
) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """Hard-delete a few customers who ordered: their orders and addresses stay behind."""
    ordered = np.unique(orders["id_customer"].to_numpy())
    ordered = ordered[~np.isin(ordered, customers["id_customer"].to_numpy()[kind == DEMO])]
    erased = ordered[mask(rng, len(ordered), ERASED_SHARE)]
    kept = customers[~customers["id_customer"].isin(erased)]
    return kept, groups[~groups["id_customer"].isin(erased)], len(erased)
