"""Airflow for the DAG tests: a throwaway SQLite metadata DB, the project's dags/ and plugins/.

The environment is set when this module is imported, before anything imports airflow (its
metadata DB and home are read once, at import); `setdefault` keeps whatever another test package
(tests/ui) set first: any migrated throwaway DB will do. Folders are read by Airflow at each use,
so they are forced.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

PROJECT = Path(__file__).resolve().parents[2]
DAGS_FOLDER = PROJECT / "dags"

_HOME = Path(tempfile.mkdtemp(prefix="sna-dag-airflow-"))
os.environ.setdefault("AIRFLOW_HOME", str(_HOME))
os.environ.setdefault("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{_HOME / 'airflow.db'}")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(DAGS_FOLDER)
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(PROJECT / "plugins")

SNA_CONNECTIONS = ("AIRFLOW_CONN_SNA_PRESTASHOP", "AIRFLOW_CONN_SNA_S3", "AIRFLOW_CONN_SNA_REGISTRY")
SNA_VARIABLES = ("SNA_HOME", "SNA_SOURCE_URL", "SNA_STORAGE_URL", "SNA_REGISTRY_URL", "SNA_S3_BUCKET",
                 "SNA_S3_PREFIX", "SNA_AUDIENCES_DIR")

GOOGLE_AUDIENCE = """
name: vip_test
description: VIP customers for Google (test)
platform: google
filters:
  default_groups: [VIP]
  exclude_email_domains: ["marketplace.amazon.*"]
"""

META_AUDIENCE = """
name: newsletter_test
platform: meta
filters:
  consent: newsletter
value: total_spent
retention_days: 30
"""


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """The metadata DB, migrated once per session (dag.test() needs it; DagBag does not)."""
    from airflow.configuration import conf
    from airflow.utils.db import initdb

    url = conf.get("database", "sql_alchemy_conn")
    if not url.startswith("sqlite:///" + tempfile.gettempdir()):
        pytest.fail(f"refusing to migrate a metadata DB that is not a throwaway SQLite file: {url}")
    initdb()


@pytest.fixture
def sna_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No SNA connection or variable from the outside; an empty audiences folder of the test's own."""
    for name in (*SNA_CONNECTIONS, *SNA_VARIABLES):
        monkeypatch.delenv(name, raising=False)
    for name in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    folder = tmp_path / "audiences"
    folder.mkdir()
    monkeypatch.setenv("SNA_AUDIENCES_DIR", str(folder))
    return folder


def write_audience(folder: Path, text: str, file_name: str | None = None) -> Path:
    name = file_name or text.split("name:", 1)[1].split()[0] + ".yaml"
    path = folder / name
    path.write_text(text.lstrip(), encoding="utf-8")
    return path


def parse_dags() -> Any:
    """A DagBag of the project's dags/ folder, parsed in process as the DAG processor does (no DB)."""
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_FOLDER), bundle_path=DAGS_FOLDER, safe_mode=True)


def json_connection(**fields: Any) -> str:
    import json

    return json.dumps(fields)


@pytest.fixture
def postgres_registry_url() -> Iterator[str]:
    """A fresh PostgreSQL database for the export registry (local server, trust auth), dropped afterwards."""
    import sqlalchemy as sa

    name = f"sna_af_{secrets.token_hex(6)}"
    admin = sa.create_engine("postgresql+psycopg2://postgres@127.0.0.1:5432/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture
def export_bucket(s3_server, boto3_s3_client) -> Iterator[str]:
    bucket = f"sna-dag-{secrets.token_hex(8)}"
    boto3_s3_client.create_bucket(Bucket=bucket)
    yield bucket
    for page in boto3_s3_client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            boto3_s3_client.delete_object(Bucket=bucket, Key=item["Key"])
    boto3_s3_client.delete_bucket(Bucket=bucket)


@pytest.fixture
def production_connections(
    monkeypatch: pytest.MonkeyPatch, sna_env: Path, demo_shop_mariadb: str, s3_server, export_bucket: str,
    postgres_registry_url: str,
) -> dict[str, Any]:
    """The three Airflow connections as in production: MariaDB shop, S3 (SeaweedFS), PostgreSQL registry."""
    from sqlalchemy.engine import make_url

    shop = make_url(demo_shop_mariadb)
    registry = make_url(postgres_registry_url)
    monkeypatch.setenv("AIRFLOW_CONN_SNA_PRESTASHOP", json_connection(
        conn_type="mysql", host=shop.host, port=shop.port, login=shop.username, password=shop.password or "",
        schema=shop.database, extra={"charset": "utf8mb4", "cursor": "SSCursor"}))
    monkeypatch.setenv("AIRFLOW_CONN_SNA_S3", json_connection(
        conn_type="aws", login=s3_server.access_key, password=s3_server.secret_key,
        extra={"endpoint_url": s3_server.endpoint_url, "region_name": s3_server.region}))
    monkeypatch.setenv("AIRFLOW_CONN_SNA_REGISTRY", json_connection(
        conn_type="postgres", host=registry.host, port=registry.port, login=registry.username,
        schema=registry.database))
    monkeypatch.setenv("SNA_S3_BUCKET", export_bucket)
    monkeypatch.setenv("SNA_S3_PREFIX", "exports")
    return {"bucket": export_bucket, "prefix": "exports/", "registry_url": postgres_registry_url,
            "audiences": sna_env}


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """The project's config folder, copied, for tests that must not touch the real one."""
    target = tmp_path / "project"
    shutil.copytree(PROJECT / "config", target / "config")
    return target


def run_dag(dag_id: str, logical_date: Any = None, conf: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
    """One real `dag.test()` run of a freshly parsed DAG; returns the run and its tasks' return values."""
    from airflow.models.xcom import XComModel
    from airflow.settings import Session

    bag = parse_dags()
    assert not bag.import_errors, bag.import_errors
    dag_run = bag.dags[dag_id].test(logical_date=logical_date, run_conf=conf)
    with Session() as session:
        query = XComModel.get_many(run_id=dag_run.run_id, dag_ids=dag_id, key="return_value")
        values = {row.task_id: XComModel.deserialize_value(row) for row in session.scalars(query)}
    return dag_run, values


def task_states(dag_run: Any) -> dict[str, str]:
    from airflow.settings import Session

    with Session() as session:
        return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances(session=session)}


def asset_events(asset_name: str, run_id: str) -> list[dict[str, Any]]:
    """Extras of the Asset events a run emitted for `asset_name`."""
    import sqlalchemy as sa
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.settings import Session

    query = (sa.select(AssetEvent).join(AssetModel, AssetEvent.asset_id == AssetModel.id)
             .where(AssetModel.name == asset_name, AssetEvent.source_run_id == run_id))
    with Session() as session:
        return [dict(event.extra) for event in session.scalars(query)]
