"""End to end on real services: demo shop in MariaDB, files on SeaweedFS S3, SQLite registry."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import boto3
import pytest
import sqlalchemy as sa

from sna.audience import Audience
from sna.errors import NotFoundError
from sna.exports import ExportStore
from sna.pipeline import ADHOC_NAMESPACE, ExportJob, ExportPipeline
from sna.registry import Registry
from sna.storage import open_storage
from tests.sna.filecheck import GOOGLE_HASHED, META_HEADER, check_cells, read_rows

REFERENCE = date(2026, 11, 1)


@pytest.fixture
def pipeline(demo_shop_mariadb, s3_storage_url, tmp_path):
    engine = sa.create_engine(demo_shop_mariadb)
    registry = Registry(f"sqlite:///{tmp_path / 'registry.db'}")
    registry.ensure_schema()
    store = ExportStore(open_storage(s3_storage_url), registry)
    yield ExportPipeline(engine, store, project_root=tmp_path, chunk_size=500)
    engine.dispose()


def content_of(store: ExportStore, export_id: str, tmp_path: Path) -> bytes:
    return store.download(export_id, tmp_path / f"{export_id}.csv").read_bytes()


def s3_objects(s3_storage_url: str) -> list[str]:
    bucket = s3_storage_url.removeprefix("s3://").split("/")[0]
    listing = boto3.client("s3").list_objects_v2(Bucket=bucket)
    return [item["Key"] for item in listing.get("Contents", [])]


@pytest.mark.parametrize("platform", ["google", "meta"])
def test_plain_and_sha256_exports(pipeline, platform, tmp_path, s3_storage_url):
    store = pipeline.store
    plain = pipeline.run(ExportJob(Audience(name=f"all_{platform}", platform=platform), REFERENCE))
    hashed = pipeline.run(
        ExportJob(Audience(name=f"all_{platform}_h", platform=platform, hashing="sha256"), REFERENCE)
    )

    assert plain.rows > 100 and plain.scanned > plain.rows
    assert plain.scanned == plain.rows + sum(plain.excluded.values())
    assert (hashed.rows, hashed.excluded) == (plain.rows, plain.excluded)
    for reason in ("deleted", "inactive", "anonymized", "duplicate_email", "invalid_phone"):
        assert plain.excluded.get(reason, 0) > 0, reason

    header, rows = read_rows(content_of(store, plain.export_id, tmp_path))
    hashed_header, hashed_rows = read_rows(content_of(store, hashed.export_id, tmp_path))
    assert header == hashed_header
    assert header == (
        ["Email", "Phone", "First Name", "Last Name", "Country", "Zip"]
        if platform == "google"
        else META_HEADER
    )
    assert len(rows) == plain.rows
    check_cells(platform, "none", header, rows)
    check_cells(platform, "sha256", header, hashed_rows)
    hashed_columns = GOOGLE_HASHED if platform == "google" else set(header) - {"age"}
    for clear_row, hashed_row in zip(rows, hashed_rows, strict=True):
        for name, clear, cell in zip(header, clear_row, hashed_row, strict=True):
            if name in hashed_columns and clear:
                assert cell == hashlib.sha256(clear.encode("utf-8")).hexdigest()
            else:
                assert cell == clear
    emails = [row[0] for row in rows]
    assert len(set(emails)) == len(emails)
    assert not {"pub@prestashop.com", "anonymous@psgdpr.com"} & set(emails)

    entry = store.get(plain.export_id)
    assert (entry.rows, entry.scanned, entry.platform, entry.hashing) == (
        plain.rows,
        plain.scanned,
        platform,
        "none",
    )
    assert entry.reference_date == REFERENCE and entry.excluded == plain.excluded
    downloaded = content_of(store, plain.export_id, tmp_path)
    assert entry.sha256 == hashlib.sha256(downloaded).hexdigest() and entry.size == len(downloaded)
    assert entry.file_key == f"all_{platform}/{platform}/all_{platform}_{platform}_2026-11-01_{entry.id}.csv"
    assert not [key for key in s3_objects(s3_storage_url) if "_staging" in key]


def test_objects_are_encrypted_and_reruns_replace(pipeline, s3_storage_url):
    audience = Audience(name="vip", platform="google", filters={"default_groups": ["VIP"]})
    first = pipeline.run(ExportJob(audience, REFERENCE))
    second = pipeline.run(ExportJob(audience, REFERENCE))
    assert first.file != second.file, "each export has a key of its own"
    entries = pipeline.store.list(audience="vip")
    assert [e.id for e in entries] == [second.export_id]
    keys = s3_objects(s3_storage_url)
    assert keys == ["exports/vip/google/latest.csv",
                    f"exports/vip/google/vip_google_2026-11-01_{second.export_id}.csv"], "the replaced file is gone"
    bucket = s3_storage_url.removeprefix("s3://").split("/")[0]
    head = boto3.client("s3").head_object(Bucket=bucket, Key=keys[1])
    assert head["ServerSideEncryption"] == "AES256"
    assert first.excluded["filtered_group"] > 0


def test_stages_one_by_one_are_idempotent(pipeline, s3_storage_url):
    job = ExportJob(Audience(name="staged", platform="meta", value="total_spent"), REFERENCE)
    extracted = pipeline.extract(job)
    assert pipeline.extract(job) == extracted
    validated = pipeline.validate(job)
    assert pipeline.validate(job) == validated
    pipeline.render(job)
    published = pipeline.publish(job)
    assert pipeline.publish(job).sha256 == published.sha256
    report = pipeline.record(job)
    assert report.rows == validated.exported and report.scanned == extracted.scanned
    assert not [key for key in s3_objects(s3_storage_url) if "_staging" in key]
    # Staging is gone: rerunning any later task after success returns what was recorded.
    assert pipeline.record(job).export_id == report.export_id
    assert pipeline.publish(job).sha256 == published.sha256
    assert pipeline.render(job).rows == report.rows
    assert pipeline.validate(job) == validated
    assert len(pipeline.store.list(audience="staged")) == 1
    assert not [key for key in s3_objects(s3_storage_url) if "_staging" in key]


def test_a_stage_before_its_input_is_refused(pipeline):
    job = ExportJob(Audience(name="early", platform="google"), REFERENCE)
    with pytest.raises(NotFoundError, match=r"run early/2026-11-01: nothing staged by extract"):
        pipeline.validate(job)


def test_dry_run_and_preview_write_nothing(pipeline, s3_storage_url):
    job = ExportJob(Audience(name="dry", platform="google"), REFERENCE)
    preview = pipeline.preview(job)
    dry = pipeline.run(job, dry_run=True)
    assert preview.rows == dry.rows > 0 and preview.excluded == dry.excluded
    assert preview.file is None and dry.dry_run
    assert s3_objects(s3_storage_url) == []
    assert pipeline.store.list() == []


def test_a_dry_run_is_recorded_as_counts_without_a_file(pipeline, s3_storage_url):
    job = ExportJob(Audience(name="dry", platform="google", hashing="sha256"), REFERENCE, run_id="manual__1")
    report = pipeline.run(job, dry_run=True)
    (dry,) = pipeline.store.registry.dry_runs.list(audience="dry")
    assert (dry.rows, dry.scanned, dry.excluded) == (report.rows, report.scanned, report.excluded)
    assert (dry.hashing, dry.platform, dry.run_key, dry.dag_run_id) == ("sha256", "google", "dry/2026-11-01",
                                                                        "manual__1")
    assert dry.filters == job.audience.applied_filters() and dry.reference_date == REFERENCE
    assert pipeline.store.list() == [] and s3_objects(s3_storage_url) == []
    again = pipeline.run(job, dry_run=True)
    assert [d.rows for d in pipeline.store.registry.dry_runs.list(audience="dry")] == [again.rows]  # replaced


def test_require_complete_false_keeps_partial_rows(pipeline, tmp_path):
    complete = pipeline.preview(ExportJob(Audience(name="c", platform="google"), REFERENCE))
    partial = pipeline.run(
        ExportJob(Audience(name="p", platform="google", require_complete=False), REFERENCE)
    )
    assert partial.rows > complete.rows
    assert not [
        r
        for r in partial.excluded
        if r.startswith(("missing_", "invalid_")) and r not in ("missing_email", "invalid_email")
    ]
    header, rows = read_rows(content_of(pipeline.store, partial.export_id, tmp_path))
    check_cells("google", "none", header, rows, required=False)
    for row in rows:
        address = row[2:6]
        assert all(address) or not any(address)  # Google's address rule
        assert row[0] or row[1]


def test_an_adhoc_export_named_like_an_audience_never_touches_that_audience(pipeline, s3_storage_url):
    audience = Audience(name="vip_google", platform="google", require_complete=False)
    vip = pipeline.store.get(pipeline.run(ExportJob(audience, REFERENCE)).export_id)

    adhoc = ExportJob(audience, REFERENCE, namespace=ADHOC_NAMESPACE)
    report = pipeline.run(adhoc)

    assert pipeline.store.get(vip.id) == vip and pipeline.store.storage.exists(vip.file_key)
    entry = pipeline.store.get(report.export_id)
    assert entry.audience == "adhoc_export/vip_google" and entry.run_key == "adhoc_export/vip_google/2026-11-01"
    assert entry.file_key.startswith("adhoc_export/vip_google/google/vip_google_google_2026-11-01_")
    assert pipeline.store.registry.count() == 2


@pytest.mark.parametrize("platform", ["google", "meta"])
def test_each_export_records_the_fill_rate_of_every_column(pipeline, platform, tmp_path):
    report = pipeline.run(ExportJob(Audience(name=f"fill_{platform}", platform=platform, require_complete=False),
                                    REFERENCE))
    header, rows = read_rows(content_of(pipeline.store, report.export_id, tmp_path))
    expected = {name: round(sum(1 for row in rows if row[i]) / len(rows), 4) for i, name in enumerate(header)}

    entry = pipeline.store.get(report.export_id)
    assert entry.fill_rates == report.fill_rates == expected
    assert 0 < expected[header[1]] < 1, "phones are not all known: a rate that says something"


def test_small_audiences_warn_with_the_platform_minimum(pipeline):
    tiny = Audience(name="tiny", platform="google", filters={"countries": ["LU"]}, require_complete=False)
    report = pipeline.run(ExportJob(tiny, REFERENCE))
    assert report.rows < 100
    assert any("Google" in warning and "100" in warning for warning in report.warnings), report.warnings
