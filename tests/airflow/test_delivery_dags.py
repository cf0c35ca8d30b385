"""Scheduled DAG runs that deliver: the platform's audience equals the export, only the difference sent.

Real `dag.test()` runs (MariaDB shop, SeaweedFS S3, PostgreSQL registry) with the platform
credentials in the Airflow connections `sna_google` and `sna_meta`, against the contract fakes.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.airflow.conftest import json_connection, run_dag, task_states, write_audience
from tests.fakes import meta_graph
from tests.sna.delivery.test_sync import google_identities

pytestmark = pytest.mark.slow

GOOGLE = """
name: deliver_google
platform: google
require_complete: false
filters: {default_groups: [VIP]}
delivery:
  google:
    operating_account_id: "1234567890"
    user_list_id: "4455667788"
    consent: {ad_user_data: granted, ad_personalization: denied}
"""

META = f"""
name: deliver_meta
platform: meta
require_complete: false
hashing: sha256
filters: {{consent: newsletter}}
delivery:
  mode: mirror
  meta: {{custom_audience_id: "{meta_graph.DEFAULT_AUDIENCE_ID}"}}
"""


def _file(boto3_s3_client, bucket: str, key: str) -> bytes:
    return boto3_s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()


@pytest.fixture
def platforms(monkeypatch: pytest.MonkeyPatch, airflow_db, production_connections: dict[str, Any], google_fake,
              meta_fake) -> dict[str, Any]:
    monkeypatch.setenv("AIRFLOW_CONN_SNA_GOOGLE", json_connection(conn_type="google_cloud_platform",
                                                                  extra={"anonymous": True}))
    monkeypatch.setenv("AIRFLOW_CONN_SNA_META", json_connection(conn_type="generic",
                                                                password=meta_graph.DEFAULT_TOKEN))
    monkeypatch.setenv("SNA_GOOGLE_DATAMANAGER_URL", google_fake.endpoint)
    monkeypatch.setenv("SNA_GOOGLE_POLL_SECONDS", "0.01")
    monkeypatch.setenv("SNA_META_GRAPH_URL", meta_fake.url)
    write_audience(production_connections["audiences"], GOOGLE)
    write_audience(production_connections["audiences"], META)
    return production_connections


def test_scheduled_runs_deliver_google_and_meta_audiences_equal_to_their_exports(
        platforms, google_fake, meta_fake, boto3_s3_client) -> None:
    bucket = platforms["bucket"]
    day = datetime(2026, 11, 2, tzinfo=UTC)

    google_run, google_values = run_dag("sna_deliver_google", day)
    meta_run, meta_values = run_dag("sna_deliver_meta", day)

    assert google_run.state == "success", task_states(google_run)
    assert meta_run.state == "success", task_states(meta_run)
    google_file = _file(boto3_s3_client, bucket, google_values["record"]["file"].split(f"{bucket}/", 1)[1])
    assert google_fake.members("1234567890", "4455667788") == google_identities(google_file)
    assert google_values["deliver"]["status"] == "delivered"
    assert google_values["deliver"]["added"] == google_values["record"]["rows"]
    ingest = google_fake.of_kind("ingest")[0].body
    assert ingest["consent"] == {"adUserData": "CONSENT_GRANTED", "adPersonalization": "CONSENT_DENIED"} or \
        ingest["consent"] == {"adUserData": 1, "adPersonalization": 2}

    assert meta_values["deliver"]["status"] == "delivered"
    assert meta_values["deliver"]["added"] == meta_values["record"]["rows"] == len(meta_fake.members())
    # the file is hashed; the platform got its members hashed from the clear values (DOBM/DOBD included)
    meta_file = _file(boto3_s3_client, bucket, meta_values["record"]["file"].split(f"{bucket}/", 1)[1])
    header, *rows = list(csv.reader(io.StringIO(meta_file.decode())))
    assert header[:2] == ["email", "phone"] and all(len(row[0]) in (0, 64) for row in rows)
    sent_keys = {key for member in meta_fake.members() for key, _ in member}
    assert {"EMAIL", "DOBM", "DOBD"} <= sent_keys

    before = (len(google_fake.requests), len(meta_fake.requests))
    rerun, values = run_dag("sna_deliver_google", day)
    assert rerun.state == "success"
    assert (values["deliver"]["added"], values["deliver"]["removed"], values["deliver"]["requests"]) == (0, 0, 0)
    assert (len(google_fake.requests), len(meta_fake.requests)) == before, "a rerun sends nothing"
