"""The Arrow reader (connectorx) against the Python reader, the oracle: the same raw frames chunk for
chunk and the same exported files byte for byte, on SQLite and MariaDB; and the clean fallback when
the Arrow reader cannot serve a URL or decode a value."""

from __future__ import annotations

import logging
import sqlite3
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from sna.audience import Audience, SourceSpec
from sna.errors import ConfigError, SourceError
from sna.exports import ExportStore
from sna.pipeline import ExportJob, ExportPipeline
from sna.registry import Registry
from sna.settings import Settings
from sna.source import arrow
from sna.source.extract import ShopReader
from sna_demo.schema import create_schema
from tests.sna.source.shopdata import Shop

REFERENCE = date(2026, 11, 1)
EVERYTHING = 1_000_000


def chunks(engine: sa.Engine, reader: str, chunk_size: int, groups_any: list | None = None,
           **source) -> tuple[list[pd.DataFrame], str | None]:
    shop = ShopReader(engine, SourceSpec(**source), reader=reader)
    groups = shop.resolve_filters(None, groups_any).groups_any_ids if groups_any else None
    frames = list(shop.iter_chunks(chunk_size, groups))
    return frames, shop.used_reader


def assert_same_chunks(engine: sa.Engine, chunk_size: int, groups_any: list | None = None, **source) -> int:
    """Both readers, chunk for chunk, value for value (dtypes included); returns the customers read."""
    python, used = chunks(engine, "python", chunk_size, groups_any, **source)
    arrow_frames, arrow_used = chunks(engine, "arrow", chunk_size, groups_any, **source)
    assert (used, arrow_used) == ("python", "arrow")
    assert [len(f) for f in arrow_frames] == [len(f) for f in python]
    for expected, got in zip(python, arrow_frames, strict=True):
        pd.testing.assert_frame_equal(got, expected, check_exact=True)
    return sum(len(f) for f in python)


def export_bytes(url: str, tmp_path: Path, reader: str, audience: Audience, chunk_size: int) -> tuple[bytes, dict]:
    folder = tmp_path / f"{reader}-{audience.name}-{chunk_size}"
    registry = Registry(f"sqlite:///{folder / 'registry.db'}")
    registry.ensure_schema()
    store = ExportStore(open_storage_for(folder), registry)
    engine = sa.create_engine(url)
    try:
        pipeline = ExportPipeline(engine, store, project_root=folder, chunk_size=chunk_size, source_reader=reader)
        report = pipeline.run(ExportJob(audience, REFERENCE))
        content = store.download(report.export_id, folder / "file.csv").read_bytes()
    finally:
        engine.dispose()
        registry.dispose()
    return content, {"rows": report.rows, "scanned": report.scanned, "excluded": report.excluded}


def open_storage_for(folder: Path):
    from sna.storage import open_storage

    (folder / "exports").mkdir(parents=True, exist_ok=True)
    return open_storage((folder / "exports").as_uri())


# -- the demo shops ----------------------------------------------------------------------------


@pytest.fixture(params=["demo_shop_sqlite", "demo_shop_mariadb"])
def demo_engine(request):
    engine = sa.create_engine(request.getfixturevalue(request.param))
    yield engine
    engine.dispose()


@pytest.mark.parametrize("chunk_size", [7, 1000, EVERYTHING])
def test_demo_shop_same_chunks(demo_engine, chunk_size):
    assert assert_same_chunks(demo_engine, chunk_size) > 2900


def test_demo_shop_same_chunks_of_one_customer(demo_engine):
    """Chunks of one customer, on one shop of the demo (a third of it, to keep the suite fast)."""
    assert assert_same_chunks(demo_engine, 1, shop_ids=[2]) > 500


def test_demo_shop_same_chunks_with_filters(demo_engine):
    assert assert_same_chunks(demo_engine, 400, groups_any=["Pro"], shop_ids=[1, 3]) > 500


@pytest.mark.parametrize("chunk_size", [7, EVERYTHING])
def test_demo_shop_same_chunks_with_subscribers(demo_engine, chunk_size):
    """Newsletter-only subscribers follow the customers, in the same chunks from both readers."""
    without = assert_same_chunks(demo_engine, chunk_size)
    frames, _ = chunks(demo_engine, "arrow", chunk_size, include_subscribers=True)
    subscribers = sum(int((frame["id_subscriber"] > 0).sum()) for frame in frames)
    assert subscribers > 50
    assert assert_same_chunks(demo_engine, chunk_size, include_subscribers=True) == without + subscribers
    assert assert_same_chunks(demo_engine, chunk_size, groups_any=["Pro"], shop_ids=[2],
                              include_subscribers=True) > 0


@pytest.mark.parametrize("shop_url", ["demo_shop_sqlite", "demo_shop_mariadb"])
@pytest.mark.parametrize(("audience", "chunk_size"), [
    (Audience(name="all_google", platform="google", require_complete=False), 7),
    (Audience(name="all_google", platform="google", require_complete=False), EVERYTHING),
    (Audience(name="vip_google", platform="google", hashing="sha256"), 1000),
    (Audience(name="all_meta", platform="meta", require_complete=False, value="total_spent"), 1000),
    (Audience(name="meta_h", platform="meta", hashing="sha256", value="total_spent"), EVERYTHING),
    (Audience(name="subs_google", platform="google", require_complete=False,
              source={"include_subscribers": True}), 7),
    (Audience(name="subs_meta", platform="meta", require_complete=False, source={"include_subscribers": True},
              filters={"consent": "newsletter"}), EVERYTHING),
])
def test_demo_shop_same_files(request, shop_url, tmp_path, audience, chunk_size):
    url = request.getfixturevalue(shop_url)
    python, python_report = export_bytes(url, tmp_path, "python", audience, chunk_size)
    arrow_file, arrow_report = export_bytes(url, tmp_path, "arrow", audience, chunk_size)
    assert python_report["rows"] > 50
    assert arrow_report == python_report
    assert arrow_file == python


# -- hand-made shops: gaps in the ids, one customer, none ----------------------------------------


@pytest.fixture(params=["sqlite", "mariadb"])
def shop(request, tmp_path) -> Shop:
    url = f"sqlite:///{tmp_path / 'shop.db'}" if request.param == "sqlite" else request.getfixturevalue("mariadb_url")
    engine = sa.create_engine(url)
    create_schema(engine)
    shop = Shop(engine)
    shop.reference_data()
    yield shop
    engine.dispose()


def add_gapped_customers(shop: Shop) -> list[int]:
    """Customers whose ids leave large gaps, with every case of the address and order rules."""
    ids = [3, 4, 90, 1_000, 1_001, 250_000, 4_000_000, 4_000_007]
    for n, id_customer in enumerate(ids):
        shop.add("customer", id_customer=id_customer, id_shop=1 + n % 2, id_gender=n % 3,
                 email=f"c{id_customer}@example.com", birthday=None if n % 3 == 0 else "0000-00-00"
                 if n % 3 == 1 else "1980-02-03", firstname=f"Jean{n}", lastname="Dupont")
    # 3: no address, no order (NULL birthday first in the shop). 4: two live addresses, newest wins.
    shop.add("address", id_address=40, id_customer=4, postcode="75001", date_upd="2025-06-01 00:00:00",
             phone="01 42 68 53 00")
    shop.add("address", id_address=41, id_customer=4, postcode="75002", date_upd="2026-06-01 00:00:00",
             phone_mobile="06 12 34 56 78")
    # 90: only a deleted address; its latest order points at another customer's address (1000's).
    shop.add("address", id_address=900, id_customer=90, deleted=1, postcode="1000", id_country=3)
    shop.add("orders", id_order=1, id_customer=90, id_address_invoice=10_000, valid=1,
             total_paid_real=100, conversion_rate=0, date_add="2024-01-01 00:00:00")
    shop.add("orders", id_order=2, id_customer=90, id_address_invoice=900, valid=0,
             total_paid_real=5, conversion_rate=1, date_add="2025-01-01 00:00:00")
    shop.add("address", id_address=10_000, id_customer=1_000, postcode="94043", id_country=21, id_state=5)
    # 1001: its invoice address belongs to nobody (id_customer 0) and to an erased customer's range.
    shop.add("address", id_address=20_000, id_customer=0, id_manufacturer=1, postcode="10115")
    shop.add("orders", id_order=3, id_customer=1_001, id_address_invoice=20_000, valid=1, total_paid_real=10.1,
             conversion_rate=1.1, date_add="2023-03-01 10:00:00")
    shop.add("orders", id_order=4, id_customer=1_001, id_address_invoice=0, valid=1, total_paid_real=7,
             conversion_rate=2, date_add="2023-03-01 10:00:00")
    # Rows of erased customers inside the gaps (GDPR hard deletes): read, never scanned.
    shop.add("address", id_address=30_000, id_customer=100_000, postcode="1050")
    shop.add("orders", id_order=5, id_customer=100_000, id_address_invoice=30_000, valid=1, total_paid_real=70)
    shop.add("orders", id_order=6, id_customer=9_000_000, id_address_invoice=0, valid=1, total_paid_real=70)
    # 250000: an invalid address and an invoice address of a zero id. 4000000: many orders.
    shop.add("address", id_address=250, id_customer=250_000, active=0, postcode="12345")
    shop.add("orders", id_order=7, id_customer=250_000, id_address_invoice=0, valid=0)
    for n in range(5):
        shop.add("orders", id_order=100 + n, id_customer=4_000_000, id_address_invoice=10_000, valid=n % 2,
                 total_paid_real=0.1 * (n + 1), conversion_rate=0.3, date_add=f"202{n}-05-06 07:08:09")
    shop.add("customer_group", id_customer=1_000, id_group=5)
    shop.add("customer_group", id_customer=4_000_007, id_group=5)
    return ids


def add_subscribers(shop: Shop) -> int:
    """Subscribers with gaps in their ids, NULL and zero dates, an unconfirmed one; returns the confirmed."""
    for id_, id_shop, email, active, added in (
        (2, 1, "c3@example.com", 1, None), (5, 2, "News@Example.com", 1, "0000-00-00 00:00:00"),
        (6, 1, "pending@example.com", 0, "2025-01-01 00:00:00"), (900, 2, "x@example.org", 1, "2025-01-01 10:11:12"),
        (70_000, 1, "y@example.org", 1, "2026-02-03 04:05:06"),
    ):
        shop.add("emailsubscription", id=id_, id_shop=id_shop, email=email, active=active, newsletter_date_add=added)
    return 4


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 7, 1000])
def test_ids_with_large_gaps(shop, chunk_size):
    ids = add_gapped_customers(shop)
    assert assert_same_chunks(shop.engine, chunk_size) == len(ids)
    assert assert_same_chunks(shop.engine, chunk_size, groups_any=[5], shop_ids=[2]) == len(ids) // 2
    confirmed = add_subscribers(shop)
    assert assert_same_chunks(shop.engine, chunk_size, include_subscribers=True) == len(ids) + confirmed
    assert assert_same_chunks(shop.engine, chunk_size, groups_any=[5], shop_ids=[2],
                              include_subscribers=True) == len(ids) // 2 + 2


def test_no_subscriber_table_same_chunks(shop):
    ids = add_gapped_customers(shop)
    with shop.engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE ps_emailsubscription")
    assert assert_same_chunks(shop.engine, 3, include_subscribers=True) == len(ids)


def test_ids_with_large_gaps_give_the_oracle_rows(shop):
    """The Arrow reader equals the joined SQL oracle too (not only the Python reader)."""
    from sna.source.tables import shop_tables
    from tests.sna.source.oracle import read_joined

    add_gapped_customers(shop)
    merged = pd.concat(chunks(shop.engine, "arrow", 3)[0], ignore_index=True)
    joined = read_joined(shop.engine, shop_tables("ps_"))
    for frame in (merged, joined):
        frame["total_spent"] = frame["total_spent"].round(4)
    pd.testing.assert_frame_equal(merged, joined)


@pytest.mark.parametrize("chunk_size", [1, 1000])
def test_one_customer(shop, chunk_size):
    shop.add("customer", id_customer=77, birthday=None)
    assert assert_same_chunks(shop.engine, chunk_size) == 1


def test_no_customer(shop):
    shop.add("address", id_address=1, id_customer=5)
    shop.add("orders", id_order=1, id_customer=5, valid=1)
    assert assert_same_chunks(shop.engine, 1000) == 0


def test_empty_shop_files_are_the_same(shop, tmp_path):
    url = shop.engine.url.render_as_string(hide_password=False)
    audience = Audience(name="nobody", platform="meta", require_complete=False)
    assert export_bytes(url, tmp_path, "arrow", audience, 1000) == export_bytes(url, tmp_path, "python", audience,
                                                                                1000)


# -- choosing the reader, falling back ----------------------------------------------------------


@pytest.mark.parametrize(("url", "reason"), [
    ("mysql+mysqldb://sna:secret@localhost/shop", "unix socket"),
    ("mysql+mysqldb://sna:secret@/shop?unix_socket=/run/mysqld.sock", "URL options unix_socket"),
    ("mysql+mysqldb://sna:secret@db.example/shop?ssl_ca=/ca.pem&charset=utf8mb4", "URL options ssl_ca"),
    ("mysql+mysqldb://sna:secret@db.example/shop?charset=latin1", "charset other than utf8mb4"),
    ("mysql+pymysql://sna:secret@db.example", "no database name"),
    ("sqlite://", "in-memory"),
    ("sqlite:///shop.db?timeout=5", "SQLite URL options"),
    ("postgresql+psycopg2://sna:secret@db.example/shop", "postgresql dialect"),
])
def test_urls_the_arrow_reader_cannot_serve(url, reason):
    target = arrow.arrow_target(sa.create_engine(url))
    assert target.url is None and reason in target.reason
    assert "secret" not in target.reason


def test_connection_strings():
    mysql = sa.engine.URL.create("mysql+mysqldb", username="s n@", password="p@ss:/w?%", host="10.0.0.5",
                                 port=3307, database="shop", query={"charset": "UTF8MB4"})
    assert arrow.arrow_target(sa.create_engine(mysql)).url == "mysql://s%20n%40:p%40ss%3A%2Fw%3F%25@10.0.0.5:3307/shop"
    assert arrow.arrow_target(sa.create_engine("sqlite:////tmp/a b#/shop.db")).url == "sqlite:///tmp/a%20b%23/shop.db"


def test_auto_falls_back_to_python_with_one_log_line(demo_shop_mariadb, caplog):
    url = sa.make_url(demo_shop_mariadb).set(host="localhost")  # a socket for mysqlclient
    engine = sa.create_engine(url)
    reader = ShopReader(engine, SourceSpec(), reader="auto")
    with caplog.at_level(logging.INFO, logger="sna.source.extract"):
        assert reader._arrow_target() is None
    [record] = caplog.records
    assert "python reader" in record.getMessage() and "unix socket" in record.getMessage()
    with pytest.raises(ConfigError, match="source_reader is arrow, but the arrow reader cannot read"):
        list(ShopReader(engine, SourceSpec(), reader="arrow").iter_chunks())
    engine.dispose()


def test_python_reads_the_rest_when_arrow_cannot_decode_a_value(demo_shop_sqlite, tmp_path, caplog):
    """SQLite holds bytes that are not UTF-8 in one row: connectorx refuses them, the Python reader
    reads from the chunk they are in (marking the value U+FFFD); the frames are the Python reader's."""
    path = tmp_path / "shop.db"
    path.write_bytes(Path(sa.make_url(demo_shop_sqlite).database).read_bytes())
    with sqlite3.connect(path) as connection:
        victim = connection.execute("SELECT id_customer FROM ps_customer ORDER BY id_customer LIMIT 1 OFFSET 1500"
                                    ).fetchone()[0]
        connection.execute("UPDATE ps_customer SET lastname = CAST(? AS TEXT) WHERE id_customer = ?",
                           ("Müllerß".encode("latin-1"), victim))
    engine = sa.create_engine(f"sqlite:///{path}")
    python, _ = chunks(engine, "python", 500)
    with caplog.at_level(logging.INFO, logger="sna.source.extract"):
        auto, used = chunks(engine, "auto", 500)
    assert used == "arrow+python"
    assert [len(f) for f in auto] == [len(f) for f in python]
    for expected, got in zip(python, auto, strict=True):
        pd.testing.assert_frame_equal(got, expected, check_exact=True)
    assert len(caplog.records) == 1 and "Müller" not in caplog.text and "python reader" in caplog.text
    with pytest.raises(SourceError, match="reading with the arrow reader failed"):
        chunks(engine, "arrow", 500)
    engine.dispose()


def test_python_reads_the_subscribers_arrow_cannot_decode(demo_shop_sqlite, tmp_path, caplog):
    """A subscriber's e-mail that is not UTF-8: connectorx refuses it, the Python reader reads the
    subscribers not read yet; the frames are the Python reader's, and the e-mail reaches no log."""
    path = tmp_path / "shop.db"
    path.write_bytes(Path(sa.make_url(demo_shop_sqlite).database).read_bytes())
    with sqlite3.connect(path) as connection:
        victim = connection.execute("SELECT id FROM ps_emailsubscription WHERE active = 1 ORDER BY id LIMIT 1 "
                                    "OFFSET 30").fetchone()[0]
        connection.execute("UPDATE ps_emailsubscription SET email = CAST(? AS TEXT) WHERE id = ?",
                           ("müller@exämple.de".encode("latin-1"), victim))
    engine = sa.create_engine(f"sqlite:///{path}")
    python, _ = chunks(engine, "python", 500, include_subscribers=True)
    with caplog.at_level(logging.INFO, logger="sna.source.extract"):
        auto, used = chunks(engine, "auto", 500, include_subscribers=True)
    assert used == "arrow+python"
    assert [len(f) for f in auto] == [len(f) for f in python]
    for expected, got in zip(python, auto, strict=True):
        pd.testing.assert_frame_equal(got, expected, check_exact=True)
    assert len(caplog.records) == 1 and "subscribers not read yet" in caplog.text and "ller" not in caplog.text
    with pytest.raises(SourceError, match="reading with the arrow reader failed"):
        chunks(engine, "arrow", 500, include_subscribers=True)
    engine.dispose()


def test_only_integers_reach_the_sql_text():
    engine = sa.create_engine("sqlite://")
    statement = sa.select(sa.literal_column("1")).where(sa.column("x") == "O'Brien")
    with pytest.raises(ValueError, match="integers only"):
        arrow.render_sql(engine, statement)
    assert "IN (1, 2)" in arrow.render_sql(engine, sa.select(sa.column("x")).where(sa.column("x").in_([1, 2])))


def test_the_setting():
    assert Settings().source_reader == "auto"
    assert Settings(source_reader="python").source_reader == "python"
    with pytest.raises(ValueError):
        Settings(source_reader="fast")
    with pytest.raises(ConfigError, match="source_reader"):
        ShopReader(sa.create_engine("sqlite://"), reader="fast")
