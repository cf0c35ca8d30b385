"""An independent oracle for the extraction: the same rules written as one joined SQL query.

The product reads three plain scans and merges them in pandas (fast); this query states the
rules of docs/prestashop-source.md directly in SQL (window functions rank the addresses and orders), so
the two can be compared row by row on the same database.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import sqlalchemy as sa
from sqlalchemy import String, and_, cast, func, literal, select

from sna.source.assemble import typed
from sna.source.tables import ShopTables


def joined_query(t: ShopTables, shop_ids: Sequence[int] | None = None,
                 groups_any_ids: Sequence[int] | None = None) -> sa.Select:
    """The whole extraction as one SQL query (window functions, joins): slow, but easy to check."""
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
            literal(0).label("id_subscriber"),
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
    if shop_ids:
        query = query.where(c.c.id_shop.in_(list(shop_ids)))
    return query


def read_joined(engine: sa.Engine, tables: ShopTables, **kwargs) -> pd.DataFrame:
    with engine.connect() as conn:
        rows = conn.execute(joined_query(tables, **kwargs)).all()
    frame = pd.DataFrame.from_records(rows, columns=[c.name for c in joined_query(tables, **kwargs).selected_columns])
    frame["total_spent"] = frame["total_spent"].astype("float64")
    return typed(frame)
