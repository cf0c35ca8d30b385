"""The PrestaShop tables the exporter reads, named with the shop's table prefix.

Lightweight SQLAlchemy Core `table()` objects: the exporter never creates these tables, it only
needs their names and the columns it selects (listed in docs/prestashop-source.md). The prefix is
validated by the audience model (it is an identifier and cannot be a bound parameter) and checked
again here. The DDL that creates the tables belongs to the demo shop (`sna_demo.schema`), never to
the engine.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import TableClause, column, table

from sna.errors import ConfigError

DEFAULT_PREFIX = "ps_"
PREFIX_PATTERN = re.compile(r"^[A-Za-z0-9_]{0,32}$")


def validate_prefix(table_prefix: str) -> str:
    """Return the prefix, or raise ConfigError: it is pasted into SQL, so only [A-Za-z0-9_]."""
    if not isinstance(table_prefix, str) or not PREFIX_PATTERN.match(table_prefix):
        raise ConfigError(
            "table prefix is invalid: it must be 0 to 32 characters among letters, digits and '_'"
        )
    return table_prefix


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
    "emailsubscription": ("id", "id_shop", "email", "newsletter_date_add", "active"),
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
    emailsubscription: TableClause
    """Newsletter subscribers without an account (module ps_emailsubscription, may be absent)."""


def shop_tables(prefix: str = DEFAULT_PREFIX) -> ShopTables:
    validate_prefix(prefix)
    return ShopTables(**{
        name: table(prefix + name, *(column(col) for col in columns)) for name, columns in _COLUMNS.items()
    })
