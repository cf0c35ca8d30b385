"""Delivery end to end through the engine: three runs of a changing shop, both platforms, real clients.

Each run exports the audience and delivers it to a contract fake of the platform (the real client
library talks HTTP to it). After every run the platform's audience equals the export, computed here
independently from the clear CSV; only the difference was sent; a rerun sends nothing.
"""

from __future__ import annotations

import csv
import hashlib
import io
import shutil
import sqlite3
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from sna.audience import Audience
from sna.delivery.clients import Credentials, open_client
from sna.errors import SnaError
from sna.exports import ExportStore
from sna.pipeline import ExportJob, ExportPipeline
from sna.registry import Registry
from sna.settings import Settings
from sna.storage import open_storage
from tests.fakes import google_datamanager, meta_graph

ACCOUNT, USER_LIST = "1234567890", "4455667788"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest() if text else ""


def google_identities(csv_bytes: bytes) -> set[tuple[str, ...]]:
    identities = set()
    for row in csv.DictReader(io.StringIO(csv_bytes.decode())):
        address = (sha(row["First Name"]), sha(row["Last Name"]), row["Country"], row["Zip"])
        identities.add(google_datamanager.identity(sha(row["Email"]), sha(row["Phone"]),
                                                   address if all(address) else None))
    return identities


def meta_identities(csv_bytes: bytes) -> set[tuple[tuple[str, str], ...]]:
    identities = set()
    keys = ("EMAIL", "PHONE", "FN", "LN", "ZIP", "CT", "ST", "COUNTRY", "DOBY", "DOBM", "DOBD", "GEN")
    for row in csv.DictReader(io.StringIO(csv_bytes.decode())):
        dob = row["dob"]
        cells = [row["email"], row["phone"], row["fn"], row["ln"], row["zip"], row["ct"], row["st"],
                 row["country"], row["doby"], dob[4:6] if dob else "", dob[6:8] if dob else "", row["gen"]]
        identities.add(meta_graph.identity(keys, [sha(cell) for cell in cells]))
    return identities


@pytest.fixture
def shop(demo_shop_sqlite: str, tmp_path: Path) -> Path:
    path = tmp_path / "shop.db"
    shutil.copy(sa.make_url(demo_shop_sqlite).database, path)
    return path


def _pipeline(shop: Path, tmp_path: Path, settings: Settings, credentials: Credentials) -> ExportPipeline:
    registry = Registry(f"sqlite:///{tmp_path / 'registry.db'}")
    registry.ensure_schema()
    store = ExportStore(open_storage((tmp_path / "exports").as_uri()), registry)
    return ExportPipeline(sa.create_engine(f"sqlite:///{shop}"), store, project_root=tmp_path, chunk_size=600,
                          clients=lambda audience: open_client(audience, settings, credentials))


def _exported_ids(pipeline: ExportPipeline, shop: Path, export_id: str, tmp_path: Path) -> bytes:
    return pipeline.store.download(export_id, tmp_path / f"{export_id}.csv").read_bytes()


def _change_the_shop(shop: Path, suppression: Path, csv_bytes: bytes, email_column: str) -> None:
    """One unsubscribes, one is anonymized, one objects (suppression list), one comes back."""
    emails = [row[email_column] for row in csv.DictReader(io.StringIO(csv_bytes.decode()))]
    with sqlite3.connect(shop) as connection:
        found = [(e, connection.execute("SELECT id_customer FROM ps_customer WHERE lower(trim(email)) = ?",
                                        (e,)).fetchone()) for e in emails]
        found = [(e, i) for e, i in found if i is not None][:3]  # (gmail addresses are rewritten for Google)
        assert len(found) == 3, "exported e-mails are found again in the shop"
        emails, ids = [e for e, _ in found], [i for _, i in found]
        connection.execute("UPDATE ps_customer SET newsletter = 0 WHERE id_customer = ?", ids[0])
        connection.execute("UPDATE ps_customer SET email = 'anonymous@psgdpr.com', firstname = 'Anonymous', "
                           "lastname = 'Anonymous' WHERE id_customer = ?", ids[1])
    lines = suppression.read_text().splitlines()
    suppression.write_text("\n".join([emails[2], *lines[1:]]) + "\n")  # the first one objected no more


def _audience(platform: str, suppression: Path, delivery: dict) -> Audience:
    return Audience(name=f"sync_{platform}", platform=platform, require_complete=False,
                    filters={"consent": "newsletter"}, suppression_list=suppression, delivery=delivery)


def _first_suppressed(shop: Path, suppression: Path) -> None:
    """Someone who will come back in run 2: suppressed in run 1."""
    with sqlite3.connect(shop) as connection:
        email = connection.execute(
            "SELECT email FROM ps_customer WHERE newsletter = 1 AND deleted = 0 AND active = 1 AND email LIKE '%@%' "
            "ORDER BY id_customer DESC LIMIT 1").fetchone()[0]
    suppression.write_text(f"{email}\n", encoding="utf-8")


@pytest.mark.parametrize("platform", ["google", "meta"])
def test_three_runs_keep_the_platform_equal_to_the_export_sending_only_the_difference(
        platform: str, shop: Path, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    suppression = tmp_path / "suppressed.txt"
    _first_suppressed(shop, suppression)
    if platform == "google":
        fake = request.getfixturevalue("google_fake")
        settings = Settings(google_datamanager_url=fake.endpoint, google_poll_seconds=0.01)
        credentials = Credentials(google="anonymous")
        delivery = {"google": {"operating_account_id": ACCOUNT, "user_list_id": USER_LIST,
                               "consent": {"ad_user_data": "granted", "ad_personalization": "granted"}}}

        def platform_members():
            return fake.members(ACCOUNT, USER_LIST)

        expected, email_column = google_identities, "Email"
    else:
        fake = request.getfixturevalue("meta_fake")
        settings = Settings(meta_graph_url=fake.url)
        credentials = Credentials(meta_access_token=meta_graph.DEFAULT_TOKEN)
        delivery = {"meta": {"custom_audience_id": meta_graph.DEFAULT_AUDIENCE_ID}}

        def platform_members():
            return fake.members()

        expected, email_column = meta_identities, "email"
    pipeline = _pipeline(shop, tmp_path, settings, credentials)
    audience = _audience(platform, suppression, delivery)

    first = pipeline.run(ExportJob(audience, date(2026, 11, 1)))
    first_csv = _exported_ids(pipeline, shop, first.export_id, tmp_path)
    assert first.delivery["status"] == "delivered" and first.delivery["mode"] == "replace"
    assert first.delivery["added"] == first.rows > 0 and first.delivery["requests"] >= 1
    assert platform_members() == expected(first_csv)

    _change_the_shop(shop, suppression, first_csv, email_column)
    before = len(fake.requests)
    second = pipeline.run(ExportJob(audience, date(2026, 11, 2)))
    second_csv = _exported_ids(pipeline, shop, second.export_id, tmp_path)
    assert second.delivery["mode"] == "mirror"
    assert (second.delivery["added"], second.delivery["removed"]) == (1, 3)
    assert platform_members() == expected(second_csv)
    entry = pipeline.store.get(second.export_id)
    assert entry.delivery.status == "delivered" and (entry.delivery.added, entry.delivery.removed) == (1, 3)
    assert len(fake.requests) > before

    before = len(fake.requests)
    rerun = pipeline.run(ExportJob(audience, date(2026, 11, 2)))
    assert rerun.delivery["status"] == "delivered"
    assert (rerun.delivery["added"], rerun.delivery["removed"], rerun.delivery["requests"]) == (0, 0, 0)
    assert len(fake.requests) == before, "a rerun of a delivered run sends nothing"
    assert platform_members() == expected(second_csv)
    delivered = [e for e in pipeline.store.access.list() if e.action == "deliver"]
    assert [e.export_id for e in delivered] == [rerun.export_id, second.export_id, first.export_id]
    assert delivered[1].detail.endswith("+1/-3"), "the access log keeps counts, never a customer"


def test_a_failed_delivery_keeps_the_export_marks_it_failed_and_the_next_run_converges(
        shop: Path, tmp_path: Path, meta_fake) -> None:
    suppression = tmp_path / "suppressed.txt"
    _first_suppressed(shop, suppression)
    settings = Settings(meta_graph_url=meta_fake.url)
    pipeline = _pipeline(shop, tmp_path, settings, Credentials(meta_access_token=meta_graph.DEFAULT_TOKEN))
    audience = _audience("meta", suppression, {"meta": {"custom_audience_id": meta_graph.DEFAULT_AUDIENCE_ID}})
    meta_fake.fail_next(190, type="OAuthException")

    with pytest.raises(SnaError) as raised:
        pipeline.run(ExportJob(audience, date(2026, 11, 1)))

    assert "meta" in str(raised.value) and "190" in str(raised.value)
    assert meta_graph.DEFAULT_TOKEN not in str(raised.value)
    (entry,) = pipeline.store.list()
    assert entry.delivery.status == "failed"
    assert meta_fake.members() == set()

    report = pipeline.run(ExportJob(audience, date(2026, 11, 1)))
    csv_bytes = _exported_ids(pipeline, shop, report.export_id, tmp_path)
    assert report.delivery["status"] == "delivered" and meta_fake.members() == meta_identities(csv_bytes)
