"""Extraction: one row per customer of the audience's shops, streamed in chunks.

Follows docs/prestashop-source.md: every query is driven from the customer table; the address is the
newest active, non-deleted one, else the invoice address of the latest order (valid orders first);
order facts are computed per customer. Dates are read as text so that zero dates
(`0000-00-00`) never break a driver; they are judged later by the normalizers. Values from the
audience file reach SQL only as bound parameters; the table prefix is a validated identifier.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from sqlalchemy import String, cast, func, literal_column, select
from sqlalchemy.engine import Connection, Engine

from sna.audience import GroupRef, SourceSpec
from sna.errors import ConfigError, SnaError, SourceError, SourceSchemaError
from sna.source import arrow
from sna.source.arrow_assemble import assemble_arrow
from sna.source.assemble import (
    RAW_COLUMNS,
    ShopReference,
    assemble,
    empty_raw_frame,
    subscriber_frame,
    subscriber_rows,
    typed,
)
from sna.source.streams import OrderedStream, fetch_blocks, prefetch
from sna.source.tables import ShopTables, shop_tables

log = logging.getLogger(__name__)

__all__ = ["RAW_COLUMNS", "ResolvedFilters", "ShopReader", "empty_raw_frame", "to_raw_frame"]


def describe_url(engine: Engine) -> str:
    """The database URL for messages: password hidden."""
    return engine.url.render_as_string(hide_password=True)


_MISSING_TABLE = re.compile(r"no such table: (\w+)|Table '(?:[\w$]+\.)?(\w+)' doesn't exist|"
                            r'relation "(\w+)" does not exist')
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


def source_error(engine: Engine, exc: BaseException, doing: str) -> SnaError:
    """One line naming the database and the driver's reason (never the statement or its values).

    Quoted parts of the driver's message are cut: drivers quote the offending cell there ("Could
    not decode ... with text '<a customer's name>'"). A missing table is permanent (a wrong
    `source.table_prefix`, a module not installed): retrying cannot help."""
    original = getattr(exc, "orig", None) or exc
    args = getattr(original, "args", ())
    reason = " ".join(str(a) for a in args[:2]) if args else type(original).__name__
    reason = (reason.strip().splitlines() or [""])[0]
    missing = _MISSING_TABLE.search(reason)
    if missing:
        table = next(name for name in missing.groups() if name)
        return SourceSchemaError(f"shop database {describe_url(engine)}: {doing} failed: table {table} does not "
                                 "exist (check source.table_prefix)")
    reason = _QUOTED.sub("'…'", reason)
    return SourceError(f"shop database {describe_url(engine)}: {doing} failed: {reason[:200]}")


IdSpan = tuple[int | None, int | None]
"""Customer ids from the first to the last, both included (None: open on that side)."""


def _within(query: sa.Select, column: sa.ColumnElement, span: IdSpan | None) -> sa.Select:
    if span is None:
        return query
    first, last = span
    if first is not None:
        query = query.where(column >= first)
    if last is not None:
        query = query.where(column <= last)
    return query


@dataclass(frozen=True)
class ResolvedFilters:
    """Group references of the audience turned into ids of this shop."""

    default_group_ids: tuple[int, ...] | None
    groups_any_ids: tuple[int, ...] | None


class ShopReader:
    """Reads one PrestaShop database; the same code for MySQL/MariaDB and the SQLite demo shop."""

    def __init__(self, engine: Engine, source: SourceSpec | None = None, reader: str = "auto") -> None:
        """`reader`: `arrow` (connectorx, `arrow.py`), `python` (streaming cursors) or `auto` (arrow
        when connectorx can serve the URL, else python; see `source_reader` in settings.py)."""
        if reader not in arrow.READERS:
            raise ConfigError(f"source_reader: {reader!r} is not one of {', '.join(arrow.READERS)}")
        self.engine = engine
        self.source = source or SourceSpec()
        self.reader = reader
        self.tables: ShopTables = shop_tables(self.source.table_prefix)
        self.used_reader: str | None = None
        """After `iter_chunks`: `arrow`, `python`, or `arrow+python` (the arrow reader gave up part way)."""
        self.warnings: list[str] = []
        """What the run must tell its user about the source (counts and table names only)."""

    @contextmanager
    def _connect(self, doing: str) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn:
                yield conn
        except sa.exc.SQLAlchemyError as exc:
            raise source_error(self.engine, exc, doing) from None

    # -- configuration ----------------------------------------------------------------------

    def default_lang(self, conn: Connection) -> int:
        cfg = self.tables.configuration
        value = conn.execute(
            select(cfg.c.value)
            .where(cfg.c.name == "PS_LANG_DEFAULT")
            .order_by(sa.case((cfg.c.id_shop.is_(None), 0), else_=1), cfg.c.id_shop)  # the global value first
        ).scalar()
        try:
            return int(value) if value is not None else 1
        except ValueError:
            return 1

    def _group_ids(self, conn: Connection, refs: Sequence[GroupRef], key: str) -> tuple[int, ...]:
        ids = {ref for ref in refs if isinstance(ref, int)}
        names = [ref for ref in refs if isinstance(ref, str)]
        if names:
            lang = self.source.id_lang or self.default_lang(conn)
            gl = self.tables.group_lang
            rows = conn.execute(
                select(gl.c.id_group, gl.c.name).where(gl.c.id_lang == lang)
            ).all()
            by_name = {str(name).strip().lower(): int(gid) for gid, name in rows}
            for name in names:
                if name.strip().lower() not in by_name:
                    known = ", ".join(sorted(by_name)) or "none"
                    raise ConfigError(f"filters.{key}: unknown group {name!r} in language {lang} (known: {known})")
                ids.add(by_name[name.strip().lower()])
        return tuple(sorted(ids))

    def resolve_filters(self, default_groups, groups_any) -> ResolvedFilters:
        """Group names become ids (through `group_lang` in the audience's language)."""
        with self._connect("reading groups") as conn:
            return ResolvedFilters(
                default_group_ids=self._group_ids(conn, default_groups, "default_groups")
                if default_groups else None,
                groups_any_ids=self._group_ids(conn, groups_any, "groups_any") if groups_any else None,
            )

    # -- the three scans ----------------------------------------------------------------------

    def _customer_scan(self, span: IdSpan | None = None) -> sa.Select:
        c = self.tables.customer.c
        query = select(
            c.id_customer, c.id_shop, c.id_gender, c.id_default_group, c.is_guest, c.deleted, c.active,
            c.newsletter, c.optin, c.email, c.firstname, c.lastname,
            cast(c.birthday, String), cast(c.date_add, String),
        ).order_by(c.id_customer)
        if self.source.shop_ids:
            query = query.where(c.id_shop.in_(list(self.source.shop_ids)))
        return _within(query, c.id_customer, span)

    def _address_scan(self, *, by_ids: Sequence[int] | None = None, span: IdSpan | None = None) -> sa.Select:
        a = self.tables.address.c
        query = select(
            a.id_customer, a.id_address, a.id_country, a.id_state, a.postcode, a.city, a.phone, a.phone_mobile,
            a.active, a.deleted, cast(a.date_upd, String),
        )
        if by_ids is not None:
            return query.where(a.id_address.in_(list(by_ids)))
        # Ranked by the database: the first live row of a customer is its newest live address.
        query = _within(query.where(a.id_customer > 0), a.id_customer, span)
        return query.order_by(a.id_customer, a.date_upd.desc(), a.id_address.desc())

    def _order_scan(self, span: IdSpan | None = None) -> sa.Select:
        o = self.tables.orders.c
        # `* 1e0` makes MySQL return a float rather than a Decimal per row (and is harmless in SQLite).
        amount = o.total_paid_real / func.nullif(o.conversion_rate, 0) * literal_column("1e0")
        return _within(select(
            o.id_customer, o.id_order, o.valid, cast(o.date_add, String), o.id_address_invoice, amount,
        ), o.id_customer, span).order_by(o.id_customer, o.valid.desc(), o.date_add.desc(), o.id_order.desc())  # latest first

    def reference(self, groups_any_ids: Sequence[int] | None) -> ShopReference:
        """The shop's small tables (countries, states, genders, members of the `groups_any` groups),
        read once per run: every partition shares them."""
        t = self.tables
        with self._connect("reading countries, states and genders") as conn:
            countries = conn.execute(select(t.country.c.id_country, t.country.c.iso_code,
                                            t.country.c.zip_code_format)).all()
            states = conn.execute(select(t.state.c.id_state, t.state.c.iso_code)).all()
            genders = conn.execute(select(t.gender.c.id_gender, t.gender.c.type)).all()
            members = None
            if groups_any_ids:
                cg = t.customer_group.c
                members = np.array(sorted(conn.execute(
                    select(cg.id_customer).where(cg.id_group.in_(list(groups_any_ids))).distinct()
                ).scalars()), dtype="int64")
        return ShopReference(
            country_codes={int(i): iso for i, iso, _ in countries},
            zip_formats={int(i): fmt for i, _, fmt in countries},
            states={int(i): iso for i, iso in states},
            genders={int(i): float(kind) for i, kind in genders},
            group_members=members,
        )

    def count_customers(self) -> int:
        """The rows `iter_chunks` will yield: the customers, and the subscribers when the audience reads them."""
        count = self.id_span()[2]
        if self.source.include_subscribers and self._has_subscriber_table():
            subscribers = self._subscriber_scan().subquery()
            with self._connect("counting subscribers") as conn:
                count += int(conn.execute(select(func.count()).select_from(subscribers)).scalar() or 0)
        return count

    def _in_shops(self, query: sa.Select) -> sa.Select:
        c = self.tables.customer.c
        return query.where(c.id_shop.in_(list(self.source.shop_ids))) if self.source.shop_ids else query

    def id_span(self) -> tuple[int | None, int | None, int]:
        """The lowest and highest customer id and the number of customers the audience reads (one
        query on the primary key), for planning partitions."""
        c = self.tables.customer.c
        query = self._in_shops(select(func.min(c.id_customer), func.max(c.id_customer), func.count()))
        with self._connect("counting customers") as conn:
            low, high, count = conn.execute(query).one()
        return (None if low is None else int(low), None if high is None else int(high), int(count or 0))

    def every_nth_id(self, step: int) -> list[int]:
        """Every `step`-th customer id in id order, from the first (an id scan on the primary key,
        for shops whose ids are too sparse to cut by arithmetic)."""
        c = self.tables.customer.c
        query = self._in_shops(select(c.id_customer)).order_by(c.id_customer)
        with self._connect("scanning customer ids") as conn:
            ids = np.fromiter(conn.execute(query).scalars(), dtype="int64")
        return ids[::step].tolist()

    def _lookup_addresses(self, ids: Sequence[int]) -> list[tuple]:
        return [row for block in fetch_blocks(self.engine, self._address_scan(by_ids=ids), len(ids))
                for row in block]

    def iter_chunks(self, chunk_size: int = 50_000, groups_any_ids: Sequence[int] | None = None,
                    span: IdSpan | None = None, reference: ShopReference | None = None
                    ) -> Iterator[pd.DataFrame]:
        """Raw customer frames of at most `chunk_size` rows, in customer id order (only the customers
        whose id is within `span`, when given: indexed range queries on customer id).

        Customers, addresses and orders are three scans ordered by customer id, merged chunk by
        chunk (`assemble.py`): no join in the database, and memory flat whatever the size of the
        shop. The scans are read by the Arrow reader (`arrow.py`) or the Python reader (server-side
        cursors, `streams.py`); both give the same frames, chunk for chunk. When the Arrow reader
        cannot go on (data it cannot decode exactly, a lost connection), `auto` reads the rest,
        after the last customer handed out, with the Python reader, with one log line.

        With `source.include_subscribers`, the newsletter-only subscribers follow the last customer
        (`_subscriber_chunks`): the selection needs every account's e-mail before the first of them,
        so they are read only with the whole shop (`span` None: such an audience is one partition).
        """
        target = self._arrow_target()
        reference = reference if reference is not None else self.reference(groups_any_ids)
        if target is None:
            self.used_reader = "python"
            yield from self._python_chunks(chunk_size, reference, span)
        else:
            self.used_reader = "arrow"
            last_done: int | None = None
            try:
                for chunk in self._arrow_chunks(target, chunk_size, reference, span):
                    yield chunk
                    last_done = int(chunk["id_customer"].iloc[-1])
            except arrow.ArrowReadError as exc:
                self._arrow_gave_up(exc, "everything" if last_done is None else "the customers not read yet")
                self.used_reader = "python" if last_done is None else "arrow+python"
                yield from self._python_chunks(chunk_size, reference, span, after=last_done)
        if span is None and self.source.include_subscribers and self._has_subscriber_table():
            yield from self._subscriber_chunks(chunk_size, reference, target if self.used_reader == "arrow" else None)

    def _arrow_gave_up(self, exc: arrow.ArrowReadError, rest: str) -> None:
        """`arrow`: the reader's error, one line; `auto`: one log line, and the Python reader reads the rest."""
        error = source_error(self.engine, exc.__cause__ or exc, "reading with the arrow reader")
        if self.reader == "arrow":
            raise error from None
        log.info("%s; the python reader reads %s", error, rest)

    def _arrow_target(self) -> arrow.ArrowTarget | None:
        """Where connectorx reads this shop, or None for the Python reader (with a log line saying why)."""
        if self.reader == "python":
            return None
        target = arrow.arrow_target(self.engine)
        if target.url is not None:
            return target
        if self.reader == "arrow":
            raise ConfigError(f"source_reader is arrow, but the arrow reader cannot read shop database "
                              f"{describe_url(self.engine)}: {target.reason}")
        log.info("shop database %s: read with the python reader (the arrow reader does not support %s)",
                 describe_url(self.engine), target.reason)
        return None

    def _arrow_chunks(self, target: arrow.ArrowTarget, chunk_size: int, reference: ShopReference,
                      span: IdSpan | None = None) -> Iterator[pd.DataFrame]:
        dialect = target.dialect

        def scan(statement: sa.Select, kind: arrow.Scan) -> arrow.ArrowScan:
            sql = arrow.render_sql(self.engine, arrow.portable(statement, kind, dialect))
            return arrow.ArrowScan(target.url, sql, kind, chunk_size)

        def lookup(ids: Sequence[int]) -> pa.Table:
            found = scan(self._address_scan(by_ids=ids), arrow.ADDRESSES)
            try:
                return arrow.normalize(list(found), found.schema, arrow.ADDRESSES, dialect)
            finally:
                found.close()

        customers = scan(self._customer_scan(span), arrow.CUSTOMERS)
        opened = [customers]
        try:
            addresses = scan(self._address_scan(span=span), arrow.ADDRESSES)
            opened.append(addresses)
            orders = scan(self._order_scan(span), arrow.ORDERS)
            opened.append(orders)
            address_rows, order_rows = arrow.OrderedBatches(addresses), arrow.OrderedBatches(orders)
            for table in arrow.rebatch(customers, chunk_size):
                last_id = int(pc.max(table.column(0)).as_py())
                yield assemble_arrow(
                    arrow.normalize(table, customers.schema, arrow.CUSTOMERS, dialect),
                    arrow.normalize(address_rows.take_until(last_id), addresses.schema, arrow.ADDRESSES, dialect),
                    arrow.normalize(order_rows.take_until(last_id), orders.schema, arrow.ORDERS, dialect),
                    reference, lookup,
                )
        finally:
            for stream in opened:
                stream.close()
            pa.default_memory_pool().release_unused()  # the batches' memory back to the system

    def _python_chunks(self, chunk_size: int, reference: ShopReference, span: IdSpan | None = None,
                       after: int | None = None) -> Iterator[pd.DataFrame]:
        """The Python reader: three server-side cursors (`streams.py`); `after`: only customers whose
        id is above it (the rest of an extraction the Arrow reader began)."""
        customer_scan, address_scan, order_scan = (self._customer_scan(span), self._address_scan(span=span),
                                                   self._order_scan(span))
        if after is not None:
            customer_scan = customer_scan.where(self.tables.customer.c.id_customer > after)
            address_scan = address_scan.where(self.tables.address.c.id_customer > after)
            order_scan = order_scan.where(self.tables.orders.c.id_customer > after)
        try:
            addresses = OrderedStream(prefetch(fetch_blocks(self.engine, address_scan, chunk_size)))
            orders = OrderedStream(prefetch(fetch_blocks(self.engine, order_scan, chunk_size)))
            try:
                for customers in prefetch(fetch_blocks(self.engine, customer_scan, chunk_size)):
                    last_id = customers[-1][0]
                    yield assemble(customers, addresses.take_until(last_id), orders.take_until(last_id),
                                   reference, self._lookup_addresses)
            finally:
                addresses.close()
                orders.close()
        except (sa.exc.SQLAlchemyError, self.engine.dialect.loaded_dbapi.Error) as exc:
            raise source_error(self.engine, exc, "reading customers") from None

    # -- newsletter-only subscribers ----------------------------------------------------------

    def _subscriber_scan(self, after: int | None = None) -> sa.Select:
        """Confirmed subscriptions (`active = 1`; 0 is a double opt-in never confirmed) of the audience's shops."""
        s = self.tables.emailsubscription.c
        query = select(s.id, s.id_shop, s.email, cast(s.newsletter_date_add, String)).where(s.active == 1)
        if self.source.shop_ids:
            query = query.where(s.id_shop.in_(list(self.source.shop_ids)))
        if after is not None:
            query = query.where(s.id > after)
        return query.order_by(s.id)

    def _has_subscriber_table(self) -> bool:
        """Whether the shop has the subscriber table; without it (the module is not installed) the run
        goes on with its customers, and says so once, in its warnings and in the log."""
        name = self.tables.emailsubscription.name
        with self._connect("looking for the subscriber table") as conn:
            found = sa.inspect(conn).has_table(name)
        warning = (f"source.include_subscribers: table {name} does not exist (is the ps_emailsubscription "
                   "module installed?): no subscriber was read")
        if not found and warning not in self.warnings:
            self.warnings.append(warning)
            log.warning("shop database %s: %s", describe_url(self.engine), warning)
        return found

    def _subscriber_chunks(self, chunk_size: int, reference: ShopReference, target: arrow.ArrowTarget | None
                           ) -> Iterator[pd.DataFrame]:
        """Raw rows of the subscribers (`assemble.subscriber_rows`), in id order, `chunk_size` at a time:
        read by the Arrow reader when it read every customer (`target`), else by the Python reader,
        which also reads what the Arrow reader could not."""
        last_done: int | None = None
        if target is not None:
            try:
                for table in self._arrow_subscribers(target, chunk_size):
                    chunk = subscriber_rows(table.to_pandas(), reference)
                    yield chunk
                    last_done = int(chunk["id_subscriber"].iloc[-1])
                return
            except arrow.ArrowReadError as exc:
                self._arrow_gave_up(exc, "the subscribers not read yet")
                self.used_reader = "arrow+python"
        try:
            for rows in fetch_blocks(self.engine, self._subscriber_scan(after=last_done), chunk_size):
                yield subscriber_rows(subscriber_frame(rows), reference)
        except (sa.exc.SQLAlchemyError, self.engine.dialect.loaded_dbapi.Error) as exc:
            raise source_error(self.engine, exc, "reading subscribers") from None

    def _arrow_subscribers(self, target: arrow.ArrowTarget, chunk_size: int) -> Iterator[pa.Table]:
        statement = arrow.portable(self._subscriber_scan(), arrow.SUBSCRIBERS, target.dialect)
        scan = arrow.ArrowScan(target.url, arrow.render_sql(self.engine, statement), arrow.SUBSCRIBERS, chunk_size)
        try:
            for table in arrow.rebatch(scan, chunk_size):
                yield arrow.normalize(table, scan.schema, arrow.SUBSCRIBERS, target.dialect)
        finally:
            scan.close()


def to_raw_frame(rows: Sequence[Sequence]) -> pd.DataFrame:
    """Rows already in `RAW_COLUMNS` order as a raw customer frame (tests, tools)."""
    return typed(pd.DataFrame.from_records(list(rows), columns=list(RAW_COLUMNS)))
