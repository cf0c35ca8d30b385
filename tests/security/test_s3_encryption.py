"""Every S3 object SNA writes is encrypted server-side (AES256); presigned links expire, within 300 s.

Checked on a real SeaweedFS: a boto3 hook sees the parameters of every write request (PutObject,
CreateMultipartUpload, CopyObject) of a full run, staging included, with multipart thresholds low
enough that uploads and the publishing copy go multipart; `head_object` then reads the encryption
of every object that exists after each stage and of every object the observed DAG runs left.
"""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from sna.errors import ConfigError
from sna.storage import MAX_PRESIGNED_SECONDS, open_storage

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

PROJECT = Path(__file__).resolve().parents[2]
WRITES = ("PutObject", "CreateMultipartUpload", "CopyObject")


class WriteLog:
    """The parameters of every write request a client makes, and its multipart part copies."""

    def __init__(self, client: Any) -> None:
        self.writes: list[tuple[str, dict[str, Any]]] = []
        self.part_copies = 0
        for operation in WRITES:
            client.meta.events.register(f"before-call.s3.{operation}", self._record)
        client.meta.events.register("before-call.s3.UploadPartCopy", self._count_part_copy)

    def _record(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        self.writes.append((model.name, dict(params.get("headers", {}))))

    def _count_part_copy(self, **_: Any) -> None:
        self.part_copies += 1


def _encryption_of_every_object(client: Any, bucket: str) -> dict[str, str | None]:
    found = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            found[item["Key"]] = client.head_object(Bucket=bucket, Key=item["Key"]).get("ServerSideEncryption")
    return found


def test_every_write_of_a_full_run_asks_for_encryption_and_every_object_has_it(
        s3_server, s3_bucket, demo_shop_mariadb, tmp_path, figures) -> None:
    from sna.audience import load_audience
    from sna.pipeline import ExportJob
    from sna.runtime import Runtime
    from sna.settings import Locations, load_settings

    client = s3_server.client()
    log = WriteLog(client)
    locations = Locations(demo_shop_mariadb, f"s3://{s3_bucket}/exports", f"sqlite:///{tmp_path / 'r.db'}")
    runtime = Runtime(locations, load_settings(PROJECT), PROJECT)
    runtime.__dict__["storage"] = open_storage(locations.storage_url, s3_client=client,
                                               multipart_threshold=64 * 1024, multipart_chunksize=5 * 1024 * 1024)
    pipeline = runtime.pipeline()
    job = ExportJob(load_audience(PROJECT / "config" / "audiences" / "newsletter_meta.yaml"), date(2026, 11, 2))
    seen: dict[str, str | None] = {}
    try:
        for stage in (pipeline.extract, pipeline.validate, pipeline.render, pipeline.publish):
            stage(job)
            seen |= _encryption_of_every_object(s3_server.client(), s3_bucket)
        report = pipeline.record(job)
    finally:
        runtime.close()
    final = _encryption_of_every_object(s3_server.client(), s3_bucket)

    assert report.rows > 0 and sorted(final) == sorted([f"exports/{job.file_key(report.export_id)}",
                                                        f"exports/{job.audience_id}/{job.audience.platform}/latest.csv"])
    staged = [key for key in seen if "/_staging/" in key]
    assert len(staged) >= 6, "extract, validate and render staged their files"
    assert seen and set(seen.values()) == {"AES256"}, seen
    assert set(final.values()) == {"AES256"}
    operations = {name for name, _ in log.writes}
    assert {"PutObject", "CreateMultipartUpload"} <= operations, operations
    assert log.part_copies > 0 or "CopyObject" in operations
    unencrypted = [(name, h) for name, h in log.writes if h.get("x-amz-server-side-encryption") != "AES256"]
    assert unencrypted == []
    figures.add("s3_encryption", write_requests_checked=len(log.writes),
                multipart_uploads=sum(1 for n, _ in log.writes if n == "CreateMultipartUpload"),
                objects_checked_with_head=len(seen) + len(final), unencrypted_objects=0)


def test_objects_left_by_the_observed_dag_runs_are_encrypted(observed_runs, s3_server, figures) -> None:
    """The DAG runs write through the Airflow connection's client (S3Hook): same guarantee."""
    found = _encryption_of_every_object(s3_server.client(), observed_runs.bucket)
    assert any(key.startswith("exports/pii_google/") for key in found)
    assert set(found.values()) == {"AES256"}, {k: v for k, v in found.items() if v != "AES256"}
    figures.add("s3_encryption", objects_checked_with_head=len(found), dag_and_cli_objects=len(found))


def _expiry_seconds(url: str) -> int:
    query = parse_qs(urlsplit(url).query)
    if "X-Amz-Expires" in query:
        return int(query["X-Amz-Expires"][0])
    return int(query["Expires"][0]) - int(time.time())  # SigV2 links carry an absolute expiry


def _stretched(url: str) -> str:
    """The link with a week-long expiry, as its holder could try to rewrite it."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    if "X-Amz-Expires" in query:
        query["X-Amz-Expires"] = ["604800"]
    else:
        query["Expires"] = [str(int(query["Expires"][0]) + 604800)]
    return parts._replace(query=urlencode(query, doseq=True)).geturl()


def test_presigned_links_work_then_expire_and_are_capped(s3_server, s3_bucket, figures) -> None:
    storage = open_storage(f"s3://{s3_bucket}/exports", s3_client=s3_server.client())
    with storage.open_writer("a/google/a_google_2026-11-02.csv") as writer:
        writer.write(b"Email\nx@example.com\n")
    short = storage.presigned_url("a/google/a_google_2026-11-02.csv", expires_in=2)
    assert httpx.get(short).status_code == 200
    time.sleep(3.5)
    expired = httpx.get(short)
    assert expired.status_code == 403 and b"expired" in expired.content.lower()

    long = storage.presigned_url("a/google/a_google_2026-11-02.csv", expires_in=7 * 24 * 3600)
    assert _expiry_seconds(long) == MAX_PRESIGNED_SECONDS == 300
    stretched = _stretched(long)
    assert _expiry_seconds(stretched) > 300 and httpx.get(stretched).status_code == 403, "the expiry is signed"
    for bad in (0, -1):
        with pytest.raises(ConfigError):
            storage.presigned_url("a/google/a_google_2026-11-02.csv", expires_in=bad)
    figures.add("s3_encryption", presigned_max_seconds=MAX_PRESIGNED_SECONDS, presigned_expiry_verified=True)


def test_the_ui_link_and_the_airflow_connection_client_are_capped_too(
        s3_server, s3_bucket, tmp_path, monkeypatch, make_client, tokens, figures) -> None:
    """The UI's "link" download and the store the UI builds from the `sna_s3` connection (S3Hook's client)."""
    import json

    monkeypatch.setenv("AIRFLOW_CONN_SNA_S3", json.dumps({
        "conn_type": "aws", "login": s3_server.access_key, "password": s3_server.secret_key,
        "extra": {"endpoint_url": s3_server.endpoint_url, "region_name": s3_server.region}}))
    monkeypatch.setenv("SNA_STORAGE_URL", f"s3://{s3_bucket}/exports")
    monkeypatch.setenv("SNA_REGISTRY_URL", f"sqlite:///{tmp_path / 'registry.db'}")
    monkeypatch.delenv("AIRFLOW_CONN_SNA_REGISTRY", raising=False)
    from sna_ui.store import airflow_store
    from tests.ui.conftest import add_export

    store = airflow_store()
    entry = add_export(store, "linked", content=b"Email\nx@example.com\n")
    via_hook = store.storage.presigned_url(entry.file_key, expires_in=3600)
    assert 0 < _expiry_seconds(via_hook) <= MAX_PRESIGNED_SECONDS
    response = make_client(store, tokens["admin"]).get(
        f"/audiences/sna_linked/exports/{entry.id}/download?link=true")
    assert response.status_code == 303
    location = response.headers["location"]
    assert 0 < _expiry_seconds(location) <= MAX_PRESIGNED_SECONDS
    assert httpx.get(location).content == b"Email\nx@example.com\n"
    assert s3_server.secret_key not in location
    store.registry.dispose()
    figures.add("s3_encryption", presigned_paths_checked=4)
