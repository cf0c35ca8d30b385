"""A synthetic, deliberately messy PrestaShop shop for demos, tests and benchmarks.

`write_demo_shop` creates the PrestaShop tables in SQLite or MySQL/MariaDB and fills them with
customers, addresses, orders and newsletter subscribers that look like a real shop's data,
including the cases the exporter must handle (guests, duplicates, relays, placeholders, zero
dates, erased customers). The data is synthetic and deterministic for a given seed and date.
"""

from sna_demo.shop import DemoShopSummary, write_demo_shop

__all__ = ["DemoShopSummary", "write_demo_shop"]
