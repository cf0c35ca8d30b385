"""The demo shop: deterministic, identical in SQLite and MariaDB, and as messy as real shops."""

from __future__ import annotations

import datetime as dt
import decimal
import secrets

import phonenumbers
import pytest
import sqlalchemy as sa

from sna.errors import ConfigError, SourceError
from sna_demo import shop as demo_shop_module
from sna_demo import write_demo_shop
from tests.fixtures.mariadb import DEMO_CUSTOMERS, MARIADB_BASE_URL

AS_OF = dt.date(2026, 11, 1)
COMPARED_TABLES = (
    "customer",
    "customer_group",
    "address",
    "orders",
    "emailsubscription",
    "country",
    "state",
    "configuration",
    "shop",
    "group_lang",
)


def _rows(url: str, table: str, prefix: str = "ps_") -> list[tuple]:
    """All rows as comparable values: dates as stored text (zero dates kept), numbers rounded."""
    engine = sa.create_engine(url)
    try:
        columns = sa.inspect(engine).get_columns(prefix + table)
        mysql = engine.dialect.name == "mysql"
        select = []
        for column in columns:
            name = f"`{column['name']}`" if mysql else f'"{column["name"]}"'
            is_date = isinstance(column["type"], (sa.types.DATE, sa.types.DATETIME, sa.types.TIMESTAMP))
            select.append(f"CAST({name} AS CHAR)" if mysql and is_date else name)
        quoted = f"`{prefix}{table}`" if mysql else f'"{prefix}{table}"'
        order = f"`{columns[0]['name']}`" if mysql else f'"{columns[0]["name"]}"'
        with engine.connect() as connection:
            fetched = connection.exec_driver_sql(
                f"SELECT {', '.join(select)} FROM {quoted} ORDER BY {order}, 2"
            ).all()
    finally:
        engine.dispose()
    return [tuple(_comparable(value) for value in row) for row in fetched]


def _comparable(value: object) -> object:
    if isinstance(value, (float, decimal.Decimal)):
        return round(float(value), 4)
    return value


def _scalar(url: str, sql: str) -> object:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.exec_driver_sql(sql).scalar()
    finally:
        engine.dispose()


def _sqlite_url(tmp_path, name: str) -> str:
    return f"sqlite:///{tmp_path / name}"


def test_same_seed_gives_the_same_shop_and_another_seed_does_not(tmp_path):
    first = write_demo_shop(_sqlite_url(tmp_path, "a.db"), customers=400, seed=1, as_of=AS_OF)
    second = write_demo_shop(_sqlite_url(tmp_path, "b.db"), customers=400, seed=1, as_of=AS_OF)
    write_demo_shop(_sqlite_url(tmp_path, "c.db"), customers=400, seed=2, as_of=AS_OF)
    assert first == second
    for table in COMPARED_TABLES:
        assert _rows(_sqlite_url(tmp_path, "a.db"), table) == _rows(_sqlite_url(tmp_path, "b.db"), table)
    for table in ("customer", "address", "orders"):
        assert _rows(_sqlite_url(tmp_path, "a.db"), table) != _rows(_sqlite_url(tmp_path, "c.db"), table)


@pytest.mark.parametrize("table", COMPARED_TABLES)
def test_sqlite_and_mariadb_hold_the_same_rows(demo_shop_sqlite, demo_shop_mariadb, table):
    sqlite_rows = _rows(demo_shop_sqlite, table)
    assert sqlite_rows
    assert _rows(demo_shop_mariadb, table) == sqlite_rows


def test_mariadb_keeps_zero_dates_and_rebuilds_deferred_indexes(demo_shop_mariadb):
    assert _scalar(demo_shop_mariadb, "SELECT COUNT(*) FROM ps_customer WHERE birthday = '0000-00-00'") > 0
    assert (
        _scalar(
            demo_shop_mariadb, "SELECT COUNT(*) FROM ps_orders WHERE invoice_date = '0000-00-00 00:00:00'"
        )
        > 0
    )
    indexes = _scalar(
        demo_shop_mariadb,
        "SELECT GROUP_CONCAT(DISTINCT index_name ORDER BY index_name) FROM information_schema.statistics"
        " WHERE table_schema = DATABASE() AND table_name IN ('ps_customer', 'ps_orders')"
        " AND index_name IN ('customer_email', 'customer_login', 'reference')",
    )
    assert indexes == "customer_email,customer_login,reference"


# Each messy case real shops hold, with the SQL that finds it (counted on the shared demo shop).
MESSY_CASES = {
    "guest sharing an e-mail with an account": """
        SELECT COUNT(*) FROM ps_customer g JOIN ps_customer r ON r.email = g.email AND r.is_guest = 0
        WHERE g.is_guest = 1""",
    "same e-mail in two shops": """
        SELECT COUNT(*) FROM ps_customer a JOIN ps_customer b ON a.email = b.email AND a.id_shop < b.id_shop""",
    "gmail +suffix": "SELECT COUNT(*) FROM ps_customer WHERE LOWER(email) LIKE '%+%@gmail.com'",
    "amazon relay": "SELECT COUNT(*) FROM ps_customer WHERE email LIKE '%@marketplace.amazon.%'",
    "cdiscount relay": "SELECT COUNT(*) FROM ps_customer WHERE email LIKE '%noreply@clemarche.com'",
    "relay with '-' names": "SELECT COUNT(*) FROM ps_customer WHERE email LIKE '%@%' AND firstname IN ('-', '.')",
    "gdpr placeholder": """
        SELECT COUNT(*) FROM ps_customer c JOIN ps_address a ON a.id_customer = c.id_customer
        WHERE c.email = 'anonymous@psgdpr.com' AND c.firstname = 'Anonymous' AND a.postcode = '00000'""",
    "zero birthday": "SELECT COUNT(*) FROM ps_customer WHERE birthday = '0000-00-00'",
    "null birthday": "SELECT COUNT(*) FROM ps_customer WHERE birthday IS NULL",
    "birthday before 1900": "SELECT COUNT(*) FROM ps_customer WHERE birthday BETWEEN '1000-01-01' AND '1899-12-31'",
    "birthday in the future": "SELECT COUNT(*) FROM ps_customer WHERE birthday > '2026-11-01'",
    "child": "SELECT COUNT(*) FROM ps_customer WHERE birthday BETWEEN '2014-11-02' AND '2026-11-01'",
    "deleted customer": "SELECT COUNT(*) FROM ps_customer WHERE deleted = 1",
    "disabled customer": "SELECT COUNT(*) FROM ps_customer WHERE active = 0",
    "uppercase e-mail": "SELECT COUNT(*) FROM ps_customer WHERE email LIKE '% %' OR email GLOB '*[A-Z]*'",
    "default group not in memberships": """
        SELECT COUNT(*) FROM ps_customer c WHERE NOT EXISTS (SELECT 1 FROM ps_customer_group g
        WHERE g.id_customer = c.id_customer AND g.id_group = c.id_default_group)""",
    "customer without address": """
        SELECT COUNT(*) FROM ps_customer c WHERE NOT EXISTS (SELECT 1 FROM ps_address a
        WHERE a.id_customer = c.id_customer)""",
    "deleted address used by an order": """
        SELECT COUNT(*) FROM ps_address a WHERE a.deleted = 1
        AND EXISTS (SELECT 1 FROM ps_orders o WHERE o.id_address_invoice = a.id_address)""",
    "manufacturer address": "SELECT COUNT(*) FROM ps_address WHERE id_customer = 0",
    "newest address is not the highest id": """
        SELECT COUNT(*) FROM ps_address a JOIN ps_address b ON a.id_customer = b.id_customer
        WHERE a.id_customer > 0 AND a.id_address < b.id_address AND a.date_upd > b.date_upd""",
    "orders of an erased customer": """
        SELECT COUNT(*) FROM ps_orders o WHERE NOT EXISTS (SELECT 1 FROM ps_customer c
        WHERE c.id_customer = o.id_customer)""",
    "uninvoiced order": "SELECT COUNT(*) FROM ps_orders WHERE invoice_date = '0000-00-00 00:00:00'",
    "invalid order": "SELECT COUNT(*) FROM ps_orders WHERE valid = 0",
    "foreign currency order": "SELECT COUNT(*) FROM ps_orders WHERE conversion_rate <> 1",
    "order in the last year": "SELECT COUNT(*) FROM ps_orders WHERE valid = 1 AND date_add >= '2025-11-01'",
    "glued postcode prefix": "SELECT COUNT(*) FROM ps_address WHERE postcode LIKE 'F-%' OR postcode LIKE 'B-%'",
    "US ZIP+4": "SELECT COUNT(*) FROM ps_address WHERE id_country = 21 AND postcode LIKE '_____-____'",
    "US zip without its leading zero": "SELECT COUNT(*) FROM ps_address WHERE id_country = 21 AND LENGTH(postcode) = 4",
    "lowercase UK postcode": "SELECT COUNT(*) FROM ps_address WHERE id_country = 17 AND postcode GLOB '*[a-z]*'",
    "city with trailing spaces": "SELECT COUNT(*) FROM ps_address WHERE city LIKE '% '",
    "dummy phone": "SELECT COUNT(*) FROM ps_address WHERE phone IN ('0102030405', '0611111111', '0000000000')",
    "phone equal to mobile": "SELECT COUNT(*) FROM ps_address WHERE phone = phone_mobile",
    "newsletter subscriber without account": """
        SELECT COUNT(*) FROM ps_emailsubscription s WHERE NOT EXISTS (SELECT 1 FROM ps_customer c
        WHERE c.email = s.email)""",
    "newsletter subscriber with an account's e-mail": """
        SELECT COUNT(*) FROM ps_emailsubscription s JOIN ps_customer c ON c.email = s.email""",
    "newsletter subscriber with an account's e-mail in other case": """
        SELECT COUNT(*) FROM ps_emailsubscription s JOIN ps_customer c
        ON lower(c.email) = lower(s.email) AND c.email <> s.email""",
    "unconfirmed newsletter subscriber": "SELECT COUNT(*) FROM ps_emailsubscription WHERE active = 0",
}


@pytest.mark.parametrize("case", MESSY_CASES)
def test_messy_cases_are_present(demo_shop_sqlite, case):
    assert _scalar(demo_shop_sqlite, MESSY_CASES[case]) > 0


def test_shares_of_guests_and_erased_customers_are_realistic(demo_shop_sqlite):
    customers = _scalar(demo_shop_sqlite, "SELECT COUNT(*) FROM ps_customer")
    guests = _scalar(demo_shop_sqlite, "SELECT COUNT(*) FROM ps_customer WHERE is_guest = 1")
    erased = DEMO_CUSTOMERS - customers
    assert 0.10 < guests / customers < 0.20
    assert 0 < erased < 0.02 * DEMO_CUSTOMERS
    assert _scalar(demo_shop_sqlite, "SELECT MAX(id_customer) FROM ps_customer") <= DEMO_CUSTOMERS


def test_demo_account_is_customer_one(demo_shop_sqlite):
    engine = sa.create_engine(demo_shop_sqlite)
    with engine.connect() as connection:
        customer = connection.exec_driver_sql(
            "SELECT email, firstname, lastname FROM ps_customer WHERE id_customer = 1"
        ).one()
        phones = (
            connection.exec_driver_sql("SELECT phone FROM ps_address WHERE id_customer = 1").scalars().all()
        )
    engine.dispose()
    assert tuple(customer) == ("pub@prestashop.com", "John", "DOE")
    assert phones == ["0102030405"]


def test_country_ids_follow_install_order_not_the_alphabet(demo_shop_sqlite):
    engine = sa.create_engine(demo_shop_sqlite)
    with engine.connect() as connection:
        rows = dict(connection.exec_driver_sql("SELECT iso_code, id_country FROM ps_country").all())
        formats = dict(connection.exec_driver_sql("SELECT iso_code, zip_code_format FROM ps_country").all())
    engine.dispose()
    assert rows["FR"] == 8 and rows["DE"] == 1 and rows["AT"] == 2
    assert formats["FR"] == "NNNNN" and formats["NL"] == "NNNN LL" and formats["GB"] == ""


def test_most_phones_are_valid_for_their_country(demo_shop_sqlite):
    engine = sa.create_engine(demo_shop_sqlite)
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT a.phone_mobile, c.iso_code FROM ps_address a JOIN ps_country c ON c.id_country = a.id_country"
            " WHERE a.id_customer > 1 AND a.phone_mobile IS NOT NULL AND a.phone_mobile <> ''"
        ).all()
    engine.dispose()
    valid = sum(phonenumbers.is_valid_number(phonenumbers.parse(phone, iso)) for phone, iso in rows)
    assert len(rows) > 1000
    assert valid / len(rows) > 0.97


def test_a_shop_with_customers_is_refused_unless_replaced(tmp_path):
    url = _sqlite_url(tmp_path, "shop.db")
    write_demo_shop(url, customers=30, seed=1, as_of=AS_OF)
    with pytest.raises(ConfigError, match="already has customers"):
        write_demo_shop(url, customers=60, seed=1, as_of=AS_OF)
    assert _scalar(url, "SELECT MAX(id_customer) FROM ps_customer") <= 30
    summary = write_demo_shop(url, customers=60, seed=1, as_of=AS_OF, replace=True)
    assert _scalar(url, "SELECT COUNT(*) FROM ps_customer") == summary.customers
    assert _scalar(url, "SELECT MAX(id_customer) FROM ps_customer") > 30


def test_mariadb_database_is_created_and_refused_when_filled(mariadb_server):
    name = f"sna_t_{secrets.token_hex(6)}"
    url = f"{MARIADB_BASE_URL}/{name}?charset=utf8mb4"
    try:
        summary = write_demo_shop(url, customers=40, seed=3, as_of=AS_OF, table_prefix="shop_")
        assert _scalar(url, "SELECT COUNT(*) FROM shop_customer") == summary.customers
        with pytest.raises(ConfigError, match="shop_customer"):
            write_demo_shop(url, customers=40, seed=3, as_of=AS_OF, table_prefix="shop_")
    finally:
        engine = sa.create_engine(MARIADB_BASE_URL)
        with engine.begin() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
        engine.dispose()


def test_chunks_continue_ids_and_report_progress(tmp_path, monkeypatch):
    monkeypatch.setattr(demo_shop_module, "CHUNK_SIZE", 100)
    url = _sqlite_url(tmp_path, "shop.db")
    done: list[int] = []
    summary = write_demo_shop(url, customers=250, seed=5, as_of=AS_OF, progress=done.append)
    assert done == [100, 200, 250]
    for table, key in (("address", "id_address"), ("orders", "id_order"), ("emailsubscription", "id")):
        count, distinct, highest = (
            _scalar(url, f"SELECT COUNT(*) FROM ps_{table}"),
            _scalar(url, f"SELECT COUNT(DISTINCT {key}) FROM ps_{table}"),
            _scalar(url, f"SELECT MAX({key}) FROM ps_{table}"),
        )
        assert count == distinct == highest
    assert summary.addresses == _scalar(url, "SELECT COUNT(*) FROM ps_address")
    assert summary.orders == _scalar(url, "SELECT COUNT(*) FROM ps_orders")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"table_prefix": "ps-"}, "prefix"),
        ({"customers": 0}, "customers"),
    ],
)
def test_bad_arguments_are_config_errors(tmp_path, kwargs, message):
    with pytest.raises(ConfigError, match=message):
        write_demo_shop(_sqlite_url(tmp_path, "shop.db"), **{"as_of": AS_OF, **kwargs})


def test_unsupported_database_is_a_config_error():
    with pytest.raises(ConfigError, match="postgresql"):
        write_demo_shop("postgresql://postgres@127.0.0.1:5432/x", customers=10, as_of=AS_OF)


def test_unreachable_mariadb_is_a_source_error_without_password():
    with pytest.raises(SourceError) as raised:
        write_demo_shop("mysql+mysqldb://root:s3cret@127.0.0.1:1/shop", customers=10, as_of=AS_OF)
    assert "s3cret" not in str(raised.value)
