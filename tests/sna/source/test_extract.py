"""Extraction against real databases: MariaDB (production) and SQLite (demo), same rows from both."""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa

from sna.audience import SourceSpec
from sna.errors import ConfigError, SourceError, SourceSchemaError
from sna.runtime import create_source_engine
from sna.source.extract import RAW_COLUMNS, ShopReader
from sna_demo.schema import create_schema
from tests.sna.source.shopdata import Shop


@pytest.fixture(params=["sqlite", "mariadb"])
def shop(request, tmp_path) -> Shop:
    """An empty PrestaShop schema (custom prefix `sna_`) with reference data, on each database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'shop.db'}"
    else:
        url = request.getfixturevalue("mariadb_url")
    engine = sa.create_engine(url)
    create_schema(engine, "sna_")
    shop = Shop(engine, "sna_")
    shop.reference_data()
    yield shop
    engine.dispose()


def extract(shop: Shop, chunk_size: int = 1000, **source) -> pd.DataFrame:
    reader = ShopReader(shop.engine, SourceSpec(table_prefix="sna_", **source))
    chunks = list(reader.iter_chunks(chunk_size))
    return pd.concat(chunks, ignore_index=True) if chunks else pd.DataFrame(columns=RAW_COLUMNS)


def by_id(frame: pd.DataFrame) -> dict[int, dict]:
    return {int(row["id_customer"]): row for row in frame.to_dict("records")}


def test_address_choice(shop):
    # 1: two live addresses; the newest by date_upd wins although its id is lower.
    shop.add("customer", id_customer=1)
    shop.add("address", id_address=10, id_customer=1, postcode="75001", date_upd="2025-06-01 00:00:00")
    shop.add("address", id_address=11, id_customer=1, postcode="75002", date_upd="2024-06-01 00:00:00")
    shop.add(
        "address", id_address=12, id_customer=1, postcode="75003", date_upd="2026-06-01 00:00:00", deleted=1
    )
    shop.add(
        "address", id_address=13, id_customer=1, postcode="75004", date_upd="2026-07-01 00:00:00", active=0
    )
    # 2: only a soft-deleted address, used by orders: the invoice address of the latest valid order.
    shop.add("customer", id_customer=2)
    shop.add("address", id_address=20, id_customer=2, postcode="1000", id_country=3, deleted=1)
    shop.add("address", id_address=21, id_customer=2, postcode="1050", id_country=3, deleted=1)
    shop.add(
        "orders", id_order=1, id_customer=2, id_address_invoice=20, valid=1, date_add="2024-01-01 00:00:00"
    )
    shop.add(
        "orders", id_order=2, id_customer=2, id_address_invoice=21, valid=0, date_add="2025-01-01 00:00:00"
    )
    # 3: a deleted address and no order: no address at all. 4: a manufacturer address is nobody's.
    shop.add("customer", id_customer=3)
    shop.add("address", id_address=30, id_customer=3, deleted=1)
    shop.add("customer", id_customer=4)
    shop.add("address", id_address=40, id_customer=0, id_manufacturer=1)
    # 5: same timestamps: the highest id wins.
    shop.add("customer", id_customer=5)
    shop.add("address", id_address=50, id_customer=5, postcode="94043", id_country=21, id_state=5)
    shop.add("address", id_address=51, id_customer=5, postcode="94044", id_country=21, id_state=5)

    rows = by_id(extract(shop))
    assert (rows[1]["id_address"], rows[1]["postcode"], rows[1]["country"]) == (10, "75001", "FR")
    assert (rows[2]["id_address"], rows[2]["postcode"], rows[2]["country"]) == (20, "1000", "BE")
    assert pd.isna(rows[3]["id_address"]) and pd.isna(rows[3]["country"]) and pd.isna(rows[3]["postcode"])
    assert pd.isna(rows[4]["id_address"])
    assert (rows[5]["id_address"], rows[5]["state"], rows[5]["zip_code_format"]) == (51, "CA", "NNNNN")


def test_every_customer_is_scanned_once(shop):
    shop.add("customer", id_customer=1, deleted=1)
    shop.add("customer", id_customer=2, active=0)
    shop.add("customer", id_customer=3, is_guest=1, email="same@example.com")
    shop.add("customer", id_customer=4, email="same@example.com")
    for n in range(3):  # several addresses and orders never multiply a customer
        shop.add("address", id_customer=4, postcode=f"7500{n}")
        shop.add("orders", id_customer=4, valid=1)
    frame = extract(shop)
    assert frame["id_customer"].tolist() == [1, 2, 3, 4]
    rows = by_id(frame)
    assert (rows[1]["deleted"], rows[2]["active"], rows[3]["is_guest"]) == (1, 0, 1)
    assert list(frame.columns) == list(RAW_COLUMNS)


def test_order_facts_count_valid_orders_in_default_currency(shop):
    shop.add("customer", id_customer=1)
    shop.add(
        "orders",
        id_customer=1,
        valid=1,
        total_paid_real=100,
        conversion_rate=1,
        date_add="2024-03-01 10:00:00",
    )
    shop.add(
        "orders",
        id_customer=1,
        valid=1,
        total_paid_real=110,
        conversion_rate=1.1,
        date_add="2025-03-01 10:00:00",
    )
    shop.add("orders", id_customer=1, valid=0, total_paid_real=999, date_add="2026-03-01 10:00:00")
    shop.add("customer", id_customer=2)
    shop.add("orders", id_customer=2, valid=0, total_paid_real=50)
    shop.add("orders", id_customer=99, valid=1, total_paid_real=70)  # customer erased (GDPR): not scanned
    rows = by_id(extract(shop))
    assert set(rows) == {1, 2}
    assert rows[1]["valid_orders"] == 2
    assert rows[1]["total_spent"] == pytest.approx(200.0)
    assert rows[1]["first_order"] == "2024-03-01 10:00:00" and rows[1]["last_order"] == "2025-03-01 10:00:00"
    assert rows[2]["valid_orders"] == 0 and rows[2]["total_spent"] == 0 and pd.isna(rows[2]["last_order"])


def test_zero_and_odd_dates_are_read_as_text(shop):
    shop.add("customer", id_customer=1, birthday="0000-00-00")
    shop.add("customer", id_customer=2, birthday=None)
    shop.add("customer", id_customer=3, birthday="1850-02-03")
    shop.add(
        "orders", id_customer=1, valid=1, invoice_date="0000-00-00 00:00:00", date_add="2025-01-02 03:04:05"
    )
    rows = by_id(extract(shop))
    assert rows[1]["birthday"] == "0000-00-00"
    assert pd.isna(rows[2]["birthday"])
    assert rows[3]["birthday"] == "1850-02-03"
    assert rows[1]["last_order"] == "2025-01-02 03:04:05"


def test_gender_type_comes_from_the_gender_table(shop):
    shop.add("customer", id_customer=1, id_gender=2)
    shop.add("customer", id_customer=2, id_gender=0)
    shop.add("customer", id_customer=3, id_gender=1)
    rows = by_id(extract(shop))
    assert rows[1]["gender_type"] == 1 and pd.isna(rows[2]["gender_type"]) and rows[3]["gender_type"] == 0


def test_shops_groups_and_chunks(shop):
    for n in range(1, 8):
        shop.add("customer", id_customer=n, id_shop=1 if n <= 4 else 2, id_default_group=4 if n % 2 else 3)
    shop.add("customer_group", id_customer=2, id_group=5)
    shop.add("customer_group", id_customer=6, id_group=5)
    frame = extract(shop, chunk_size=2, shop_ids=[2])
    assert frame["id_customer"].tolist() == [5, 6, 7]
    reader = ShopReader(shop.engine, SourceSpec(table_prefix="sna_", id_lang=2))
    resolved = reader.resolve_filters(["vip", 3], ["Professionnel"])
    assert resolved.default_group_ids == (3, 4) and resolved.groups_any_ids == (5,)
    members = pd.concat(reader.iter_chunks(3, resolved.groups_any_ids))
    assert members.loc[members["in_groups_any"] == 1, "id_customer"].tolist() == [2, 6]
    assert [len(c) for c in reader.iter_chunks(3)] == [3, 3, 1]


def test_group_names_follow_the_shop_default_language(shop):
    reader = ShopReader(shop.engine, SourceSpec(table_prefix="sna_"))  # PS_LANG_DEFAULT = 2 (French)
    assert reader.resolve_filters(["Client"], None).default_group_ids == (3,)
    with pytest.raises(ConfigError, match=r"filters.default_groups: unknown group 'Customer' in language 2"):
        reader.resolve_filters(["Customer"], None)


def test_hostile_filter_values_are_bound_parameters(shop):
    shop.add("customer", id_customer=1)
    reader = ShopReader(shop.engine, SourceSpec(table_prefix="sna_", id_lang=1))
    with pytest.raises(ConfigError, match="unknown group"):
        reader.resolve_filters(["x' OR '1'='1"], None)
    assert len(extract(shop)) == 1  # nothing was dropped


def test_unreachable_and_missing_databases(tmp_path):
    with pytest.raises(
        SourceError, match=r"shop database mysql\+mysqldb://root:\*\*\*@127.0.0.1:1/shop: .*failed"
    ):
        list(ShopReader(create_source_engine("mysql+mysqldb://root:secret@127.0.0.1:1/shop")).iter_chunks())
    with pytest.raises(SourceError, match="file does not exist"):
        create_source_engine(f"sqlite:///{tmp_path / 'none.db'}")
    empty = tmp_path / "empty.db"
    sa.create_engine(f"sqlite:///{empty}").connect().close()
    with pytest.raises(SourceSchemaError, match=r"table ps_\w+ does not exist \(check source.table_prefix\)"):
        list(ShopReader(create_source_engine(f"sqlite:///{empty}")).iter_chunks())


def test_mariadb_and_sqlite_give_the_same_rows(demo_shop_sqlite, demo_shop_mariadb):
    frames = []
    for url in (demo_shop_sqlite, demo_shop_mariadb):
        engine = sa.create_engine(url)
        frames.append(pd.concat(ShopReader(engine).iter_chunks(700), ignore_index=True))
        engine.dispose()
    sqlite, mariadb = frames
    assert len(sqlite) > 1000
    sqlite["total_spent"] = sqlite["total_spent"].round(4)
    mariadb["total_spent"] = mariadb["total_spent"].round(4)
    pd.testing.assert_frame_equal(sqlite, mariadb)


@pytest.mark.parametrize("shop_url", ["demo_shop_sqlite", "demo_shop_mariadb"])
def test_merged_scans_equal_the_joined_sql_oracle(request, shop_url):
    """The fast merge of three scans gives exactly what one joined SQL query gives."""
    from sna.source.tables import shop_tables
    from tests.sna.source.oracle import read_joined

    engine = sa.create_engine(request.getfixturevalue(shop_url))
    reader = ShopReader(engine, SourceSpec(shop_ids=[1, 3]))
    groups = reader.resolve_filters(None, ["Pro"]).groups_any_ids
    merged = pd.concat(reader.iter_chunks(400, groups), ignore_index=True)
    joined = read_joined(engine, shop_tables("ps_"), shop_ids=[1, 3], groups_any_ids=groups)
    engine.dispose()
    assert len(merged) > 500 and merged["in_groups_any"].between(0, 1).all() and merged["in_groups_any"].any()
    for frame in (merged, joined):
        frame["total_spent"] = frame["total_spent"].round(4)
    pd.testing.assert_frame_equal(merged, joined)
