"""The PrestaShop tables the exporter reads, named with the shop's table prefix.

Lightweight SQLAlchemy Core `table()` objects: the exporter never creates these tables, it only
needs their names and the columns it selects. The prefix is validated by the audience model (it is
an identifier and cannot be a bound parameter) and checked again here.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import TableClause, column, table

from sna.source.schema import validate_prefix

_COLUMNS: dict[str, tuple[str, ...]] = {
    "customer": (
        "id_customer", "id_shop", "id_gender", "id_default_group", "firstname", "lastname", "email",
        "birthday", "newsletter", "optin", "active", "is_guest", "deleted", "date_add",
    ),
    "customer_group": ("id_customer", "id_group"),
    "address": (
        "id_address", "id_country", "id_state", "id_customer", "postcode", "city", "phone", "phone_mobile",
        "active", "deleted", "date_upd",
    ),
    "country": ("id_country", "iso_code", "zip_code_format"),
    "state": ("id_state", "iso_code"),
    "gender": ("id_gender", "type"),
    "group_lang": ("id_group", "id_lang", "name"),
    "orders": (
        "id_order", "id_customer", "id_address_invoice", "valid", "total_paid_real", "conversion_rate", "date_add",
    ),
    "configuration": ("name", "value", "id_shop", "id_shop_group"),
}


@dataclass(frozen=True)
class ShopTables:
    """One attribute per table, e.g. `tables.customer.c.email`."""

    customer: TableClause
    customer_group: TableClause
    address: TableClause
    country: TableClause
    state: TableClause
    gender: TableClause
    group_lang: TableClause
    orders: TableClause
    configuration: TableClause


def shop_tables(prefix: str = "ps_") -> ShopTables:
    validate_prefix(prefix)
    return ShopTables(**{
        name: table(prefix + name, *(column(col) for col in columns)) for name, columns in _COLUMNS.items()
    })
