"""Newsletter-only subscribers (`source.include_subscribers`) on real SQLite and MariaDB shops: who is
read (confirmed ones of the audience's shops), the account winning over its e-mail's subscription
(whatever the case), their exclusion reasons, the accounting, and a shop without the table."""

from __future__ import annotations

import csv
import io
import logging
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from sna.audience import Audience
from sna.cli import compact_filters
from sna.errors import DataContractError
from sna.exports import ExportStore
from sna.filters import FilterPlan
from sna.normalize import profile_for
from sna.pipeline import ExportJob, ExportPipeline, ExportReport
from sna.registry import Registry
from sna.selection import Selector
from sna.storage import open_storage
from sna_demo.schema import create_schema
from tests.sna.rawframes import raw_frame
from tests.sna.source.shopdata import Shop

REFERENCE = date(2026, 11, 1)
CUSTOMERS = 3
ACTIVE_SUBSCRIBERS = 7


@pytest.fixture(params=["sqlite", "mariadb"])
def shop(request, tmp_path) -> Shop:
    """Three customers and eight subscribers, one of them never confirmed."""
    url = f"sqlite:///{tmp_path / 'shop.db'}" if request.param == "sqlite" else request.getfixturevalue("mariadb_url")
    engine = sa.create_engine(url)
    create_schema(engine)
    shop = Shop(engine)
    shop.reference_data()
    shop.add("customer", id_customer=1, email="jane@example.com", firstname="Jane", lastname="Doe", newsletter=1)
    shop.add("address", id_address=1, id_customer=1, postcode="75001", phone_mobile="06 12 34 56 78")
    shop.add("customer", id_customer=2, email="Bob@Example.com", active=0)
    shop.add("customer", id_customer=3, id_shop=2, email="paul@example.com", is_guest=1)
    subscribers = [  # id, shop, e-mail, confirmed, subscribed on
        (1, 1, "jane@example.com", 1, "2024-01-01 00:00:00"),  # Jane's account wins
        (2, 1, "BOB@example.COM", 1, "2024-01-01 00:00:00"),  # an account in another case wins, though disabled
        (3, 1, "new@example.com", 1, "2025-01-01 00:00:00"),  # exported...
        (4, 1, "pending@example.com", 0, "2025-01-01 00:00:00"),  # double opt-in never confirmed: not read
        (5, 2, "new@example.com", 1, "2026-01-01 00:00:00"),  # ...once (the newer subscription)
        (6, 1, "not an e-mail", 1, None),
        (7, 2, "relay@marketplace.amazon.fr", 1, "2025-06-01 00:00:00"),
        (8, 2, "PAUL@example.com", 1, "2025-06-01 00:00:00"),  # a guest checkout is an account too
    ]
    for id_, id_shop, email, active, added in subscribers:
        shop.add("emailsubscription", id=id_, id_shop=id_shop, email=email, active=active,
                 newsletter_date_add=added)
    yield shop
    engine.dispose()


def run(shop: Shop, tmp_path: Path, reader: str = "auto", suppressed: str | None = None, **keys) -> tuple[
        ExportReport, list[dict[str, str]]]:
    """One export of the shop (`keys`: audience keys; `source` given as a mapping), its report and rows."""
    if suppressed is not None:
        (tmp_path / "objections.txt").write_text(suppressed + "\n", encoding="utf-8")
        keys["suppression_list"] = "objections.txt"
    audience = Audience.model_validate({"name": "subs", "platform": "google", "require_complete": False,
                                        **keys, "source": {"include_subscribers": True, **keys.get("source", {})}})
    folder = tmp_path / f"run-{reader}-{len(list(tmp_path.iterdir()))}"
    registry = Registry(f"sqlite:///{folder / 'registry.db'}")
    registry.ensure_schema()
    (folder / "exports").mkdir(parents=True, exist_ok=True)
    store = ExportStore(open_storage((folder / "exports").as_uri()), registry)
    try:
        pipeline = ExportPipeline(shop.engine, store, project_root=tmp_path, chunk_size=2, source_reader=reader)
        report = pipeline.run(ExportJob(audience, REFERENCE))
        content = store.download(report.export_id, folder / "file.csv").read_text(encoding="utf-8")
    finally:
        registry.dispose()
    assert report.scanned == report.rows + sum(report.excluded.values())
    return report, list(csv.DictReader(io.StringIO(content)))


def emails(rows: list[dict[str, str]]) -> list[str]:
    return sorted(row["Email"] for row in rows)


def test_subscribers_are_e_mail_only_rows_and_accounts_win(shop, tmp_path):
    report, rows = run(shop, tmp_path)
    assert report.scanned == CUSTOMERS + ACTIVE_SUBSCRIBERS
    assert report.excluded == {"inactive": 1, "subscriber_is_customer": 3, "duplicate_email": 1,
                               "invalid_email": 1}
    assert emails(rows) == ["jane@example.com", "new@example.com", "paul@example.com",
                            "relay@marketplace.amazon.fr"]
    [new] = [row for row in rows if row["Email"] == "new@example.com"]
    assert set(new.values()) == {"new@example.com", ""}  # nothing but the e-mail
    assert report.warnings == ["4 rows: " + profile_for("google").minimum_hint]


def test_without_the_key_subscribers_are_not_read(shop, tmp_path):
    report, rows = run(shop, tmp_path, source={"include_subscribers": False})
    assert report.scanned == CUSTOMERS
    assert "subscriber_is_customer" not in report.excluded
    assert emails(rows) == ["jane@example.com", "paul@example.com"]


def test_only_the_audience_shops_subscribers(shop, tmp_path):
    report, rows = run(shop, tmp_path, source={"shop_ids": [1]})
    assert report.scanned == 2 + 4
    assert report.excluded == {"inactive": 1, "subscriber_is_customer": 2, "invalid_email": 1}
    assert emails(rows) == ["jane@example.com", "new@example.com"]


def test_complete_records_leave_every_subscriber_out(shop, tmp_path):
    report, rows = run(shop, tmp_path, require_complete=True)
    assert report.scanned == CUSTOMERS + ACTIVE_SUBSCRIBERS
    assert report.excluded["subscriber_is_customer"] == 3
    assert report.excluded["subscriber_incomplete"] == 4  # the invalid e-mail too: incomplete comes first
    assert emails(rows) == ["jane@example.com"]


@pytest.mark.parametrize("filters", [
    {"groups_any": ["VIP"]}, {"default_groups": [3]}, {"min_valid_orders": 1}, {"min_total_spent": 0.01},
    {"ordered_within_days": 30}, {"include_guests": False},
])
def test_filters_that_need_a_customer_leave_subscribers_out(shop, tmp_path, filters):
    report, rows = run(shop, tmp_path, filters=filters)
    assert report.excluded["subscriber_filtered"] == 4
    assert "new@example.com" not in emails(rows)


def test_filters_that_a_customer_without_orders_passes_keep_subscribers(shop, tmp_path):
    report, rows = run(shop, tmp_path, filters={"min_valid_orders": 0, "min_total_spent": 0})
    assert "subscriber_filtered" not in report.excluded
    assert "new@example.com" in emails(rows)


def test_consent_domains_and_objections_apply_to_subscribers(shop, tmp_path):
    report, rows = run(shop, tmp_path, filters={"consent": "newsletter"})
    assert emails(rows) == ["jane@example.com", "new@example.com", "relay@marketplace.amazon.fr"]
    report, rows = run(shop, tmp_path, filters={"consent": "optin"})
    assert report.excluded["no_consent"] == 4 + 2  # the subscribers, Jane and Paul
    report, rows = run(shop, tmp_path, filters={"exclude_email_domains": ["marketplace.amazon.*"]})
    assert report.excluded["excluded_domain"] == 1
    report, rows = run(shop, tmp_path, suppressed="New@Example.com")
    assert report.excluded["suppressed"] == 2
    assert emails(rows) == ["jane@example.com", "paul@example.com", "relay@marketplace.amazon.fr"]


def test_both_readers_export_the_same_subscribers(shop, tmp_path):
    outcomes = []
    for reader in ("python", "arrow"):
        report, rows = run(shop, tmp_path, reader=reader, require_complete=False)
        outcomes.append((report.scanned, report.rows, report.excluded, report.warnings, report.sha256, rows))
    assert outcomes[0] == outcomes[1]


def test_a_shop_without_the_table_warns_and_exports_its_customers(shop, tmp_path, caplog):
    with shop.engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE ps_emailsubscription")
    with caplog.at_level(logging.WARNING):
        report, rows = run(shop, tmp_path, reader="arrow")
    assert report.scanned == CUSTOMERS
    assert emails(rows) == ["jane@example.com", "paul@example.com"]
    [warning] = [w for w in report.warnings if "ps_emailsubscription" in w]
    assert warning.startswith("source.include_subscribers: table ps_emailsubscription does not exist")
    assert "\n" not in warning
    [record] = [r for r in caplog.records if "ps_emailsubscription" in r.getMessage()]
    assert record.levelno == logging.WARNING and "@" not in record.getMessage().replace("root@", "")
    report, _ = run(shop, tmp_path, source={"include_subscribers": False})
    assert not any("ps_emailsubscription" in w for w in report.warnings)


def test_the_preview_counts_and_warns_the_same(shop, tmp_path):
    exported, _ = run(shop, tmp_path)
    audience = Audience(name="subs", platform="google", require_complete=False,
                        source={"include_subscribers": True})
    preview = ExportPipeline(shop.engine, None, project_root=tmp_path, chunk_size=3).preview(
        ExportJob(audience, REFERENCE))
    assert (preview.scanned, preview.rows, preview.excluded) == (exported.scanned, exported.rows, exported.excluded)


def test_a_customer_after_a_subscriber_is_refused():
    """The account-wins rule needs every customer before the first subscriber: a reader that broke
    that order would export people it should not; the selection refuses instead."""
    audience = Audience(name="subs", platform="google", require_complete=False, source={"include_subscribers": True})
    selector = Selector(audience, profile_for("google"), FilterPlan(audience.filters, REFERENCE))
    selector.select(raw_frame({}, {"id_customer": 0, "id_subscriber": 1, "email": "a@example.com"}))
    with pytest.raises(DataContractError, match="subscribers must follow every customer"):
        selector.select(raw_frame({"email": "b@example.com"}))
    with pytest.raises(DataContractError, match="subscribers must follow every customer"):
        Selector(audience, profile_for("google"), FilterPlan(audience.filters, REFERENCE)).select(
            raw_frame({"id_customer": 0, "id_subscriber": 1}, {}))


def test_the_key():
    assert Audience(name="a", platform="meta").source.include_subscribers is False
    with_key = Audience(name="a", platform="meta", require_complete=False, source={"include_subscribers": True})
    assert with_key.applied_filters()["include_subscribers"] is True
    assert "include_subscribers" not in Audience(name="a", platform="meta").applied_filters()
    assert "include_subscribers=yes" in compact_filters(with_key.applied_filters())
    with pytest.raises(ValueError, match="include_subscribers"):
        Audience(name="a", platform="meta", source={"include_subscribers": "sometimes"})


def test_the_shop_prefix_names_the_subscriber_table(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'shop.db'}")
    create_schema(engine, table_prefix="shop_")
    shop = Shop(engine, prefix="shop_")
    shop.reference_data()
    shop.add("customer", id_customer=1, email="jane@example.com")
    shop.add("emailsubscription", id=1, email="new@example.com")
    report, rows = run(shop, tmp_path, source={"table_prefix": "shop_"})
    assert (report.scanned, emails(rows)) == (2, ["jane@example.com", "new@example.com"])
    engine.dispose()


def test_the_exports_page_words_the_subscriber_reasons():
    from sna_ui.present import reason_label

    for code in ("subscriber_is_customer", "subscriber_filtered", "subscriber_incomplete"):
        assert reason_label(code).startswith("subscriber") and "_" not in reason_label(code).split(" (")[0]
