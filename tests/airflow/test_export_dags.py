"""Real DAG runs (`dag.test()`) against MariaDB (shop), SeaweedFS S3 (files) and PostgreSQL (registry)."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.airflow.conftest import (
    GOOGLE_AUDIENCE,
    META_AUDIENCE,
    asset_events,
    run_dag,
    task_states,
    write_audience,
)

pytestmark = pytest.mark.slow

DAY = datetime(2026, 11, 2, tzinfo=UTC)


def objects(client, bucket: str, *, latest: bool = False) -> dict[str, bytes]:
    """Every object of the bucket; the `<audience>/<platform>/latest.csv` copies only with `latest`."""
    found = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            if item["Key"].endswith("/latest.csv") and not latest:
                continue
            found[item["Key"]] = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
    return found


def registry(url: str):
    from sna.registry import Registry

    return Registry(url)


def rows_of(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8"))))


@pytest.fixture
def google_audience(airflow_db, production_connections: dict[str, Any]) -> dict[str, Any]:
    write_audience(production_connections["audiences"], GOOGLE_AUDIENCE)
    return production_connections


def test_google_audience_run_publishes_records_cleans_and_announces(google_audience, boto3_s3_client) -> None:
    bucket, url = google_audience["bucket"], google_audience["registry_url"]

    dag_run, values = run_dag("sna_vip_test", DAY)

    assert dag_run.state == "success", task_states(dag_run)
    stored = objects(boto3_s3_client, bucket)
    key = f"exports/vip_test/google/vip_test_google_2026-11-02_{values['record']['export_id']}.csv"
    assert list(stored) == [key], "one file, no staging left"
    assert objects(boto3_s3_client, bucket, latest=True)["exports/vip_test/google/latest.csv"] == stored[key]
    rows = rows_of(stored[key])
    assert rows[0] == ["Email", "Phone", "First Name", "Last Name", "Country", "Zip"]
    entry = registry(url).find_by_run_key("vip_test/2026-11-02")
    assert entry is not None and entry.file_uri == f"s3://{bucket}/{key}"
    assert entry.rows == len(rows) - 1 > 0 and entry.dag_run_id == dag_run.run_id
    assert entry.filters["default_groups"] == ["VIP"]
    report = values["record"]
    assert report["export_id"] == entry.id and report["rows"] == entry.rows
    assert report["scanned"] == report["rows"] + sum(report["excluded"].values())
    assert report["excluded"]["filtered_group"] > 0
    assert values["join"]["scanned"] == report["scanned"]
    assert asset_events("sna_vip_test", dag_run.run_id) == [
        {"export_id": entry.id, "rows": entry.rows, "file": entry.file_uri}]
    for value in values.values():  # XCom holds counts and references, never a customer
        assert "@" not in str(value).replace(f"s3://{bucket}", "")

    rerun, again = run_dag("sna_vip_test", DAY)

    assert rerun.state == "success"
    assert again["record"]["export_id"] != entry.id
    assert list(objects(boto3_s3_client, bucket)) == [key.replace(entry.id, again["record"]["export_id"])], \
        "the rerun's file replaced the first one"
    assert registry(url).count(audience="vip_test") == 1
    assert registry(url).find_by_run_key("vip_test/2026-11-02").id != entry.id


def test_meta_audience_run_with_customer_value(airflow_db, production_connections, boto3_s3_client) -> None:
    write_audience(production_connections["audiences"], META_AUDIENCE)

    dag_run, values = run_dag("sna_newsletter_test", DAY)

    assert dag_run.state == "success", task_states(dag_run)
    stored = objects(boto3_s3_client, production_connections["bucket"])
    key = f"exports/newsletter_test/meta/newsletter_test_meta_2026-11-02_{values['record']['export_id']}.csv"
    assert list(stored) == [key]
    header, *rows = rows_of(stored[key])
    assert header[-1] == "value" and "email" in header and rows
    entry = registry(production_connections["registry_url"]).find_by_run_key("newsletter_test/2026-11-02")
    assert entry.platform == "meta" and entry.rows == len(rows) == values["record"]["rows"]
    assert asset_events("sna_newsletter_test", dag_run.run_id)[0]["export_id"] == entry.id


def test_manual_dry_run_counts_and_writes_nothing(google_audience, boto3_s3_client, caplog) -> None:
    caplog.set_level("INFO", logger="sna_airflow.stages")
    dag_run, values = run_dag("sna_vip_test", conf={"dry_run": True, "hashing": "sha256"})

    assert dag_run.state == "success"
    assert task_states(dag_run) == {"plan": "success", "partition": "success", "join": "success",
                                    "publish": "skipped", "record": "skipped"}
    counts = values["join"]
    assert counts["dry_run"] is True and counts["exported"] > 0
    assert counts["scanned"] == counts["exported"] + sum(counts["excluded"].values())
    assert objects(boto3_s3_client, google_audience["bucket"]) == {}, "no file and no staging"
    assert registry(google_audience["registry_url"]).count() == 0
    assert asset_events("sna_vip_test", dag_run.run_id) == []
    (dry,) = registry(google_audience["registry_url"]).dry_runs.list(audience="vip_test")
    assert (dry.rows, dry.scanned, dry.excluded) == (counts["exported"], counts["scanned"], counts["excluded"])
    assert dry.hashing == "sha256" and dry.dag_run_id == dag_run.run_id
    logged = caplog.text
    assert f"scanned: {counts['scanned']}" in logged and f"exported: {counts['exported']}" in logged
    for reason, count in counts["excluded"].items():
        assert f"  {reason}: {count}\n" in logged + "\n"


def test_the_count_table_of_the_validate_log() -> None:
    from sna_airflow.stages import count_table

    table = count_table({"scanned": 4978, "exported": 154, "excluded": {"missing_phone": 24, "filtered_group": 4800},
                         "warnings": []}, dry_run=True)
    assert table.splitlines() == [
        "dry run: no file", "scanned: 4978", "exported: 154", "excluded: 4824, by reason:",
        "  filtered_group: 4800", "  missing_phone: 24",
    ]


def test_manual_run_params_override_the_yaml_for_one_run(google_audience, boto3_s3_client) -> None:
    dag_run, values = run_dag("sna_vip_test", DAY, conf={"hashing": "sha256", "require_complete": False})

    assert dag_run.state == "success", task_states(dag_run)
    (content,) = objects(boto3_s3_client, google_audience["bucket"]).values()
    _header, *rows = rows_of(content)
    assert rows and all(re.fullmatch(r"[0-9a-f]{64}", row[0]) for row in rows)
    entry = registry(google_audience["registry_url"]).find_by_run_key("vip_test/2026-11-02")
    assert entry.hashing == "sha256" and entry.filters["require_complete"] is False
    assert values["record"]["hashing"] == "sha256"


def test_adhoc_export_from_the_form(airflow_db, production_connections, boto3_s3_client) -> None:
    form = {"name": "adhoc_fr_vip", "platform": "meta", "default_groups": ["VIP", "3"],
            "exclude_email_domains": ["marketplace.amazon.*"], "consent": "newsletter", "countries": ["fr"],
            "hashing": "sha256", "require_complete": True, "min_valid_orders": 1, "include_guests": False,
            "groups_any": None, "min_total_spent": None, "shop_ids": [1]}

    dag_run, values = run_dag("sna_adhoc_export", conf=form)

    assert dag_run.state == "success", task_states(dag_run)
    (key,) = objects(boto3_s3_client, production_connections["bucket"])
    assert key.startswith("exports/adhoc_export/adhoc_fr_vip/meta/adhoc_fr_vip_meta_")
    entry = registry(production_connections["registry_url"]).get(values["record"]["export_id"])
    assert entry.audience == "adhoc_export/adhoc_fr_vip", "ad-hoc exports live in their own namespace"
    assert entry.hashing == "sha256"
    assert entry.filters["default_groups"] == ["VIP", 3] and entry.filters["countries"] == ["FR"]
    assert entry.filters["consent"] == "newsletter"
    assert entry.filters["min_valid_orders"] == 1 and entry.filters["include_guests"] is False
    assert "groups_any" not in entry.filters and "min_total_spent" not in entry.filters, "cleared: no filter"


def test_adhoc_form_values_are_checked_like_a_yaml_file() -> None:
    from sna.errors import AudienceFileError
    from sna_airflow.adhoc import audience_from_form

    base = {"name": "x", "platform": "google", "default_groups": [], "exclude_email_domains": [],
            "consent": "any", "countries": [], "hashing": "none"}
    audience = audience_from_form(base)
    assert audience.filters.default_groups is None and audience.filters.countries is None
    with pytest.raises(AudienceFileError, match="value"):
        audience_from_form({**base, "value": "total_spent"})
    with pytest.raises(AudienceFileError, match="exclude_email_domains"):
        audience_from_form({**base, "exclude_email_domains": ["not a domain"]})


@pytest.mark.timeout(120)  # without the retry policy, dag.test() would wait for the retries' backoff
def test_a_configuration_error_fails_the_task_at_once_without_retry(airflow_db, production_connections,
                                                                      boto3_s3_client, tmp_path) -> None:
    missing = tmp_path / "no-such-suppression-list.txt"
    write_audience(production_connections["audiences"], GOOGLE_AUDIENCE + f"suppression_list: {missing}\n")

    started = datetime.now(UTC)
    dag_run, _ = run_dag("sna_vip_test", DAY)

    assert dag_run.state == "failed"
    assert task_states(dag_run) == {"plan": "success", "partition": "failed", "join": "upstream_failed",
                                    "publish": "upstream_failed", "record": "upstream_failed"}
    assert datetime.now(UTC) - started < timedelta(minutes=1), "no retry delay was waited for"
    assert registry(production_connections["registry_url"]).count() == 0
    assert all(key.startswith("exports/_staging/") for key in objects(boto3_s3_client, production_connections["bucket"]))


def test_audiences_of_two_shops_in_one_deployment(airflow_db, production_connections, demo_shop_sqlite,
                                                  monkeypatch) -> None:
    """`source.connection` names the Airflow connection of an audience's shop (default sna_prestashop)."""
    from sqlalchemy.engine import make_url

    from tests.airflow.conftest import json_connection

    monkeypatch.setenv("AIRFLOW_CONN_SHOP_TWO", json_connection(
        conn_type="sqlite", host=make_url(demo_shop_sqlite).database))
    write_audience(production_connections["audiences"], "name: first_shop\nplatform: google\n")
    write_audience(production_connections["audiences"],
                   "name: second_shop\nplatform: google\nsource: {connection: shop_two}\n")

    first, first_values = run_dag("sna_first_shop", DAY)
    second, second_values = run_dag("sna_second_shop", DAY)

    assert (first.state, second.state) == ("success", "success"), (task_states(first), task_states(second))
    entries = registry(production_connections["registry_url"])
    one, two = entries.find_by_run_key("first_shop/2026-11-02"), entries.find_by_run_key("second_shop/2026-11-02")
    assert one.file_key.startswith("first_shop/") and two.file_key.startswith("second_shop/")
    import sqlalchemy as sa

    engine = sa.create_engine(demo_shop_sqlite)
    with engine.connect() as connection:
        sqlite_customers = connection.execute(sa.text("SELECT COUNT(*) FROM ps_customer")).scalar()
    engine.dispose()
    assert two.scanned == sqlite_customers and second_values["join"]["scanned"] == sqlite_customers


def test_a_large_audience_runs_as_mapped_partitions_and_writes_the_file_of_sna_run(
        airflow_db, production_connections, demo_shop_mariadb, boto3_s3_client, monkeypatch, tmp_path) -> None:
    """Partitions of 1,000 customers (three): one mapped task each, the file byte for byte the one the
    in-process engine writes (every customer in one partition), counts included."""
    import sqlalchemy as sa

    from sna.audience import Audience, load_audience
    from sna.exports import ExportStore
    from sna.pipeline import ExportJob, ExportPipeline
    from sna.storage import LocalStorage

    monkeypatch.setenv("SNA_PARTITION_SIZE", "1000")
    path = write_audience(production_connections["audiences"], META_AUDIENCE)
    audience: Audience = load_audience(path)

    dag_run, values = run_dag(audience.dag_id, DAY)

    assert dag_run.state == "success", task_states(dag_run)
    from airflow.settings import Session

    with Session() as session:
        mapped = sorted((ti.map_index, ti.rendered_map_index, str(ti.state))
                        for ti in dag_run.get_task_instances(session=session) if ti.task_id == "partition")
    planned = values["plan"]
    assert len(planned) == len(mapped) >= 3, "one mapped task per partition"
    assert [m[0] for m in mapped] == list(range(len(planned))) and {m[2] for m in mapped} == {"success"}
    assert mapped[0][1] == f"customers first to {planned[0]['last_id']}", "the UI names each partition"
    report = values["record"]
    key = report["file"].split(f"s3://{production_connections['bucket']}/", 1)[1]
    published = boto3_s3_client.get_object(Bucket=production_connections["bucket"], Key=key)["Body"].read()

    from sna.registry import Registry

    engine = sa.create_engine(demo_shop_mariadb)
    registry = Registry(f"sqlite:///{tmp_path / 'registry.db'}")
    registry.ensure_schema()
    store = ExportStore(LocalStorage(tmp_path / "exports"), registry)
    alone = ExportPipeline(engine, store, project_root=tmp_path, partition_size=100_000_000).run(
        ExportJob(audience, DAY.date()), deliver=False)
    engine.dispose()
    assert (report["scanned"], report["rows"], report["excluded"]) == (alone.scanned, alone.rows, alone.excluded)
    assert published == (tmp_path / "exports" / store.get(alone.export_id).file_key).read_bytes()
    assert [k for k in objects(boto3_s3_client, production_connections["bucket"]) if "_staging" in k] == []
