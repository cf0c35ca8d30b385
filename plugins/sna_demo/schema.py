"""Create (and drop) the PrestaShop tables SNA reads, for the demo shop and the tests.

The DDL lives in `sna_demo/resources`: `prestashop_schema.sql` is PrestaShop's own MariaDB/MySQL
DDL, `prestashop_schema.sqlite.sql` its SQLite translation. Both name tables with the default `ps_`
prefix, replaced here by the shop's prefix, which is validated first because it ends up in SQL (by
the engine's own check, `sna.source.tables.validate_prefix`). The engine never creates tables.
"""

from __future__ import annotations

import re
from importlib import resources

import sqlalchemy as sa

from sna.errors import ConfigError
from sna.source.tables import DEFAULT_PREFIX, validate_prefix

__all__ = ["DEFAULT_PREFIX", "TABLES", "create_schema", "ddl_statements", "drop_schema", "table_name",
           "validate_prefix"]

# Every table of the DDL, in creation order (dropped in reverse).
TABLES: tuple[str, ...] = (
    "customer",
    "customer_group",
    "address",
    "country",
    "country_lang",
    "state",
    "group",
    "group_lang",
    "group_shop",
    "gender",
    "gender_lang",
    "lang",
    "shop_group",
    "shop",
    "orders",
    "configuration",
    "emailsubscription",
)

_MYSQL_DDL = "prestashop_schema.sql"
_SQLITE_DDL = "prestashop_schema.sqlite.sql"
_COMMENT = re.compile(r"--[^\n]*")
# `ps_` at the start of an identifier (never inside one such as `tps_x`).
_PREFIX_TOKEN = re.compile(r"(?<![A-Za-z0-9_])ps_")


def table_name(table: str, table_prefix: str = DEFAULT_PREFIX) -> str:
    """The real name of a PrestaShop table (`customer` -> `ps_customer`)."""
    return validate_prefix(table_prefix) + table


def ddl_statements(dialect_name: str, table_prefix: str = DEFAULT_PREFIX) -> list[str]:
    """The DDL statements for a SQLAlchemy dialect name, with the prefix applied.

    Comments are removed before splitting on `;` because PrestaShop's comments contain `;`.
    """
    validate_prefix(table_prefix)
    if dialect_name in ("mysql", "mariadb"):
        resource = _MYSQL_DDL
    elif dialect_name == "sqlite":
        resource = _SQLITE_DDL
    else:
        raise ConfigError(f"database dialect {dialect_name!r} is not supported for the PrestaShop schema")
    text = resources.files("sna_demo").joinpath("resources", resource).read_text(encoding="utf-8")
    text = _PREFIX_TOKEN.sub(lambda _match: table_prefix, _COMMENT.sub("", text))
    return [statement.strip() for statement in text.split(";") if statement.strip()]


def create_schema(engine: sa.Engine, table_prefix: str = DEFAULT_PREFIX) -> None:
    """Create the PrestaShop tables in the engine's database (MySQL/MariaDB or SQLite)."""
    statements = ddl_statements(engine.dialect.name, table_prefix)
    with engine.begin() as connection:
        if engine.dialect.name != "sqlite":
            # PrestaShop runs with an empty sql_mode (zero dates allowed); the DDL needs it too.
            connection.exec_driver_sql("SET SESSION sql_mode = ''")
        for statement in statements:
            connection.exec_driver_sql(statement)


def drop_schema(engine: sa.Engine, table_prefix: str = DEFAULT_PREFIX) -> None:
    """Drop the PrestaShop tables that exist (used by `replace` and by tests)."""
    quote = engine.dialect.identifier_preparer.quote_identifier
    with engine.begin() as connection:
        for table in reversed(TABLES):
            connection.exec_driver_sql(f"DROP TABLE IF EXISTS {quote(table_name(table, table_prefix))}")
