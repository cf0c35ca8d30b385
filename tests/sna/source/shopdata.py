"""Inserts hand-made PrestaShop rows (only the columns a test cares about) into a real database."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

NOW = "2026-01-01 00:00:00"

# NOT NULL columns without a default, filled when a test does not care.
REQUIRED: dict[str, dict[str, Any]] = {
    "customer": {
        "id_gender": 0,
        "firstname": "Jane",
        "lastname": "Doe",
        "email": "jane@example.com",
        "passwd": "x",
        "date_add": NOW,
        "date_upd": NOW,
        "active": 1,
    },
    "address": {
        "id_country": 8,
        "alias": "home",
        "lastname": "Doe",
        "firstname": "Jane",
        "address1": "1 rue",
        "city": "Paris",
        "date_add": NOW,
        "date_upd": NOW,
    },
    "orders": {
        "id_carrier": 1,
        "id_lang": 1,
        "id_cart": 1,
        "id_currency": 1,
        "id_address_delivery": 0,
        "id_address_invoice": 0,
        "current_state": 2,
        "payment": "card",
        "invoice_date": NOW,
        "delivery_date": NOW,
        "date_add": NOW,
        "date_upd": NOW,
        "valid": 1,
    },
    "country": {"id_zone": 1, "display_tax_label": 1},
    "state": {"id_country": 21, "id_zone": 2, "name": "state"},
    "gender": {},
    "group_lang": {},
    "customer_group": {},
    "configuration": {"date_add": NOW, "date_upd": NOW},
    "emailsubscription": {"ip_registration_newsletter": "192.0.2.1", "newsletter_date_add": NOW, "active": 1},
}


class Shop:
    """A connection-bound writer: `shop.add("customer", id_customer=1, email=...)`."""

    def __init__(self, engine: sa.Engine, prefix: str = "ps_") -> None:
        self.engine = engine
        self.prefix = prefix

    def add(self, table: str, **values: Any) -> None:
        row = {**REQUIRED.get(table, {}), **values}
        columns = ", ".join(f"`{c}`" if self.engine.dialect.name == "mysql" else f'"{c}"' for c in row)
        params = ", ".join(f":{c}" for c in row)
        with self.engine.begin() as conn:
            if self.engine.dialect.name == "mysql":
                conn.exec_driver_sql("SET SESSION sql_mode=''")
            conn.execute(sa.text(f"INSERT INTO {self.prefix}{table} ({columns}) VALUES ({params})"), row)

    def reference_data(self) -> None:
        """Countries (ids not in alphabetical order, as on real shops), genders, groups, languages."""
        for id_country, iso, fmt in (
            (8, "FR", "NNNNN"),
            (3, "BE", "NNNN"),
            (21, "US", "NNNNN"),
            (17, "GB", ""),
        ):
            self.add("country", id_country=id_country, iso_code=iso, zip_code_format=fmt)
        self.add("state", id_state=5, id_country=21, iso_code="CA", name="California")
        self.add("gender", id_gender=1, type=0)
        self.add("gender", id_gender=2, type=1)
        for id_group, en, fr in (
            (1, "Visitor", "Visiteur"),
            (2, "Guest", "Invité"),
            (3, "Customer", "Client"),
            (4, "VIP", "VIP"),
            (5, "Pro", "Professionnel"),
        ):
            self.add("group_lang", id_group=id_group, id_lang=1, name=en)
            self.add("group_lang", id_group=id_group, id_lang=2, name=fr)
        self.add("configuration", name="PS_LANG_DEFAULT", value="2")
