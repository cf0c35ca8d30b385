"""Extraction: one row per customer of the audience's shops, streamed in chunks.

Follows `prestashop-source.md`: every query is driven from the customer table; the address is the
newest active, non-deleted one, else the invoice address of the latest order (valid orders first);
order facts come from one grouped sub-query. Dates are read as text so that zero dates
(`0000-00-00`) never break a driver; they are judged later by the normalizers. Values from the
audience file reach SQL only as bound parameters; the table prefix is a validated identifier.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa
from sqlalchemy import String, and_, cast, func, literal, select
from sqlalchemy.engine import Connection, Engine

from sna.audience import GroupRef, SourceSpec
from sna.errors import ConfigError, SourceError
from sna.source.tables import ShopTables, shop_tables

RAW_COLUMNS = (
    "id_customer", "id_shop", "id_default_group", "is_guest", "deleted", "active", "newsletter", "optin",
    "email", "firstname", "lastname", "birthday", "gender_type", "date_add",
    "id_address", "postcode", "city", "phone", "phone_mobile", "country", "zip_code_format", "state",
    "valid_orders", "first_order", "last_order", "total_spent", "in_groups_any",
)
_INT_COLUMNS = ("id_customer", "id_shop", "id_default_group", "is_guest", "deleted", "active", "newsletter",
                "optin", "valid_orders", "in_groups_any")
_FLOAT_COLUMNS = ("gender_type", "id_address", "total_spent")
_STR_COLUMNS = tuple(name for name in RAW_COLUMNS if name not in _INT_COLUMNS + _FLOAT_COLUMNS)


def describe_url(engine: Engine) -> str:
    """The database URL for messages: password hidden."""
    return engine.url.render_as_string(hide_password=True)


def source_error(engine: Engine, exc: BaseException, doing: str) -> SourceError:
    """One line naming the database and the driver's reason (never the statement or its values)."""
    original = getattr(exc, "orig", None) or exc
    args = getattr(original, "args", ())
    reason = " ".join(str(a) for a in args[:2]) if args else type(original).__name__
    return SourceError(f"shop database {describe_url(engine)}: {doing} failed: {reason[:200]}")


@dataclass(frozen=True)
class ResolvedFilters:
    """Group references of the audience turned into ids of this shop."""

    default_group_ids: tuple[int, ...] | None
    groups_any_ids: tuple[int, ...] | None


class ShopReader:
    """Reads one PrestaShop database; the same code for MySQL/MariaDB and the SQLite demo shop."""

    def __init__(self, engine: Engine, source: SourceSpec = SourceSpec()) -> None:
        self.engine = engine
        self.source = source
        self.tables: ShopTables = shop_tables(source.table_prefix)

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

    # -- the customer query -----------------------------------------------------------------

    def customer_query(self, groups_any_ids: Sequence[int] | None = None) -> sa.Select:
        t = self.tables
        c, a, o = t.customer, t.address, t.orders

        live_address = (
            select(
                a.c.id_customer,
                a.c.id_address,
                func.row_number().over(
                    partition_by=a.c.id_customer, order_by=(a.c.date_upd.desc(), a.c.id_address.desc())
                ).label("rank"),
            )
            .where(a.c.deleted == 0, a.c.active == 1, a.c.id_customer > 0)
            .subquery("live_address")
        )
        last_invoice = (
            select(
                o.c.id_customer,
                o.c.id_address_invoice,
                func.row_number().over(
                    partition_by=o.c.id_customer,
                    order_by=(o.c.valid.desc(), o.c.date_add.desc(), o.c.id_order.desc()),
                ).label("rank"),
            )
            .subquery("last_invoice")
        )
        order_facts = (
            select(
                o.c.id_customer,
                func.count().label("valid_orders"),
                func.min(o.c.date_add).label("first_order"),
                func.max(o.c.date_add).label("last_order"),
                func.sum(o.c.total_paid_real / func.nullif(o.c.conversion_rate, 0)).label("total_spent"),
            )
            .where(o.c.valid == 1)
            .group_by(o.c.id_customer)
            .subquery("order_facts")
        )
        chosen = a.alias("chosen")
        country, state, gender = t.country, t.state, t.gender
        if groups_any_ids:
            cg = t.customer_group
            in_groups = sa.exists(
                select(literal(1)).where(cg.c.id_customer == c.c.id_customer, cg.c.id_group.in_(list(groups_any_ids)))
            )
            in_groups_any = sa.case((in_groups, 1), else_=0)
        else:
            in_groups_any = literal(1)

        query = (
            select(
                c.c.id_customer, c.c.id_shop, c.c.id_default_group, c.c.is_guest, c.c.deleted, c.c.active,
                c.c.newsletter, c.c.optin, c.c.email, c.c.firstname, c.c.lastname,
                cast(c.c.birthday, String).label("birthday"),
                gender.c.type.label("gender_type"),
                cast(c.c.date_add, String).label("date_add"),
                chosen.c.id_address, chosen.c.postcode, chosen.c.city, chosen.c.phone, chosen.c.phone_mobile,
                country.c.iso_code.label("country"), country.c.zip_code_format,
                state.c.iso_code.label("state"),
                func.coalesce(order_facts.c.valid_orders, 0).label("valid_orders"),
                cast(order_facts.c.first_order, String).label("first_order"),
                cast(order_facts.c.last_order, String).label("last_order"),
                func.coalesce(order_facts.c.total_spent, 0).label("total_spent"),
                in_groups_any.label("in_groups_any"),
            )
            .select_from(c)
            .outerjoin(live_address, and_(live_address.c.id_customer == c.c.id_customer, live_address.c.rank == 1))
            .outerjoin(last_invoice, and_(last_invoice.c.id_customer == c.c.id_customer, last_invoice.c.rank == 1))
            .outerjoin(
                chosen,
                chosen.c.id_address == func.coalesce(live_address.c.id_address, last_invoice.c.id_address_invoice),
            )
            .outerjoin(country, country.c.id_country == chosen.c.id_country)
            .outerjoin(state, and_(state.c.id_state == chosen.c.id_state, chosen.c.id_state > 0))
            .outerjoin(gender, and_(gender.c.id_gender == c.c.id_gender, c.c.id_gender > 0))
            .outerjoin(order_facts, order_facts.c.id_customer == c.c.id_customer)
            .order_by(c.c.id_customer)
        )
        if self.source.shop_ids:
            query = query.where(c.c.id_shop.in_(list(self.source.shop_ids)))
        return query

    def count_customers(self) -> int:
        c = self.tables.customer
        query = select(func.count()).select_from(c)
        if self.source.shop_ids:
            query = query.where(c.c.id_shop.in_(list(self.source.shop_ids)))
        with self._connect("counting customers") as conn:
            return int(conn.execute(query).scalar() or 0)

    def iter_chunks(self, chunk_size: int = 50_000, groups_any_ids: Sequence[int] | None = None
                    ) -> Iterator[pd.DataFrame]:
        """Raw customer frames of at most `chunk_size` rows, in customer id order.

        A server-side cursor (`stream_results`) keeps memory flat whatever the size of the shop.
        """
        query = self.customer_query(groups_any_ids)
        with self._connect("reading customers") as conn:
            try:
                result = conn.execution_options(stream_results=True, max_row_buffer=chunk_size).execute(query)
                for rows in result.partitions(chunk_size):
                    yield to_raw_frame(rows)
            except sa.exc.SQLAlchemyError as exc:
                raise source_error(self.engine, exc, "reading customers") from None


def to_raw_frame(rows: Sequence[Sequence]) -> pd.DataFrame:
    """Rows of the customer query as a raw customer frame with stable dtypes."""
    frame = pd.DataFrame.from_records(rows, columns=list(RAW_COLUMNS))
    for name in _INT_COLUMNS:
        frame[name] = pd.to_numeric(frame[name], errors="coerce").fillna(0).astype("int64")
    for name in _FLOAT_COLUMNS:
        frame[name] = frame[name].astype("float64")
    for name in _STR_COLUMNS:
        frame[name] = frame[name].astype("str")
    return frame


def empty_raw_frame() -> pd.DataFrame:
    return to_raw_frame([])
