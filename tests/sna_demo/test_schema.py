"""The PrestaShop DDL loads into real MariaDB and SQLite databases, with any valid prefix."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from sna.errors import ConfigError
from sna_demo.schema import TABLES, create_schema, ddl_statements, drop_schema


def _columns(engine: sa.Engine, prefix: str) -> dict[str, list[str]]:
    inspector = sa.inspect(engine)
    return {table: [column["name"] for column in inspector.get_columns(prefix + table)] for table in TABLES}


def _table_names(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


@pytest.mark.parametrize("prefix", ["ps_", "shop2_", ""])
def test_schema_loads_on_sqlite(tmp_path, prefix):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'shop.db'}")
    create_schema(engine, prefix)
    assert _table_names(engine) == {prefix + table for table in TABLES}
    drop_schema(engine, prefix)
    assert _table_names(engine) == set()


@pytest.mark.parametrize("prefix", ["ps_", "Shop_2_"])
def test_schema_loads_on_mariadb_with_the_same_columns_as_sqlite(mariadb_url, tmp_path, prefix):
    mariadb = sa.create_engine(mariadb_url)
    sqlite = sa.create_engine(f"sqlite:///{tmp_path / 'shop.db'}")
    create_schema(mariadb, prefix)
    create_schema(sqlite, prefix)
    assert _table_names(mariadb) == {prefix + table for table in TABLES}
    assert _columns(mariadb, prefix) == _columns(sqlite, prefix)
    assert "passwd" in _columns(mariadb, prefix)["customer"]
    mariadb.dispose()


def test_mariadb_tables_accept_zero_dates(mariadb_shop_url):
    engine = sa.create_engine(mariadb_shop_url)
    with engine.begin() as connection:
        connection.exec_driver_sql("SET SESSION sql_mode = ''")
        connection.exec_driver_sql(
            "INSERT INTO ps_customer (id_gender, firstname, lastname, email, passwd, birthday, date_add, date_upd)"
            " VALUES (0, 'a', 'b', 'c@d.fr', 'x', '0000-00-00', '2020-01-01', '2020-01-01')"
        )
        stored = connection.exec_driver_sql("SELECT CAST(birthday AS CHAR) FROM ps_customer").scalar_one()
    assert stored == "0000-00-00"
    engine.dispose()


def test_drop_schema_leaves_other_prefixes_alone(sqlite_shop_url):
    engine = sa.create_engine(sqlite_shop_url)
    create_schema(engine, "other_")
    drop_schema(engine, "ps_")
    assert _table_names(engine) == {"other_" + table for table in TABLES}


@pytest.mark.parametrize("prefix", ["ps-", "ps_; DROP TABLE x; --", "a" * 33, "é_", "ps_ "])
def test_bad_prefix_is_refused_before_any_sql(tmp_path, prefix):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'shop.db'}")
    with pytest.raises(ConfigError, match="prefix"):
        create_schema(engine, prefix)
    with pytest.raises(ConfigError, match="prefix"):
        drop_schema(engine, prefix)
    assert _table_names(engine) == set()


def test_comments_with_semicolons_do_not_split_statements():
    statements = ddl_statements("mysql")
    creates = [s for s in statements if s.upper().startswith("CREATE TABLE")]
    assert len(creates) == len(TABLES)
    assert not any("--" in statement for statement in statements)


def test_unsupported_dialect_is_a_config_error():
    with pytest.raises(ConfigError, match="postgresql"):
        ddl_statements("postgresql")
