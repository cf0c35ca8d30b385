"""docker-compose.yaml stays consistent with the code (no Docker engine here: the file is read, not run)."""

from __future__ import annotations

import json
import re
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.airflow.conftest import PROJECT

AIRFLOW_SERVICES = ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-worker",
                    "airflow-triggerer")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((PROJECT / "docker-compose.yaml").read_text(encoding="utf-8"))


def interpolate(text: str) -> str:
    """Compose's `${NAME:-default}` with the defaults, `${NAME:?message}` with a placeholder."""
    text = re.sub(r"\$\{[A-Z0-9_]+:-([^}]*)\}", r"\1", text)
    return re.sub(r"\$\{[A-Z0-9_]+(:\?[^}]*)?\}", "set-by-operator", text)


def test_the_services_of_the_production_stack_are_there(compose) -> None:
    services = compose["services"]
    assert {"postgres", "redis", "mysql", "minio", *AIRFLOW_SERVICES} <= set(services)
    for name in AIRFLOW_SERVICES:
        environment = services[name]["environment"]
        assert environment["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
        assert interpolate(environment["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]).startswith(
            "postgresql+psycopg2://airflow:airflow@postgres:5432/")
        assert environment["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://")


def test_the_image_is_the_official_airflow_image_of_the_installed_version_plus_requirements(compose) -> None:
    build = compose["services"]["airflow-scheduler"]["build"]
    assert build["context"] == "."
    base = re.search(r"^FROM (\S+)$", build["dockerfile_inline"], re.MULTILINE).group(1)
    assert re.fullmatch(r"apache/airflow:3\.3\.\d+", base)
    assert base == f"apache/airflow:{version('apache-airflow')}"
    assert "-r /requirements.txt" in build["dockerfile_inline"]


def test_connections_are_the_ids_the_code_reads_and_valid_json(compose) -> None:
    from sna_airflow.connections import REGISTRY_CONN_ID, SOURCE_CONN_ID, STORAGE_CONN_ID

    environment = compose["services"]["airflow-worker"]["environment"]
    expected = {SOURCE_CONN_ID: "mysql", STORAGE_CONN_ID: "aws", REGISTRY_CONN_ID: "postgres"}
    for conn_id, conn_type in expected.items():
        connection = json.loads(interpolate(environment[f"AIRFLOW_CONN_{conn_id.upper()}"]))
        assert connection["conn_type"] == conn_type
        assert connection["host" if conn_type != "aws" else "extra"]
    s3 = json.loads(interpolate(environment["AIRFLOW_CONN_SNA_S3"]))
    assert s3["extra"]["endpoint_url"] == "http://minio:9000"
    shop = json.loads(interpolate(environment["AIRFLOW_CONN_SNA_PRESTASHOP"]))
    mysql = compose["services"]["mysql"]["environment"]
    assert (shop["host"], shop["schema"], shop["login"]) == ("mysql", mysql["MYSQL_DATABASE"], mysql["MYSQL_USER"])
    registry = json.loads(interpolate(environment["AIRFLOW_CONN_SNA_REGISTRY"]))
    init_sql = compose["configs"]["registry-database"]["content"]
    assert f"CREATE DATABASE {registry['schema']};" in init_sql


def test_connections_give_the_sqlalchemy_urls_the_engine_needs(compose) -> None:
    from airflow.sdk import Connection

    from sna_airflow.connections import sqlalchemy_url

    environment = compose["services"]["airflow-worker"]["environment"]
    urls = {}
    for conn_id in ("sna_prestashop", "sna_registry"):
        fields = json.loads(interpolate(environment[f"AIRFLOW_CONN_{conn_id.upper()}"]))
        fields["extra"] = json.dumps(fields.get("extra", {}))
        urls[conn_id] = sqlalchemy_url(Connection(conn_id=conn_id, **fields)).render_as_string(hide_password=False)
    assert urls["sna_prestashop"] == "mysql+mysqldb://sna:sna@mysql:3306/prestashop?charset=utf8mb4"
    assert urls["sna_registry"] == "postgresql+psycopg2://airflow:airflow@postgres:5432/sna"


def test_sna_variables_are_settings_the_engine_knows(compose) -> None:
    from sna.settings import Settings

    known = {f"SNA_{name.upper()}" for name in Settings.model_fields} | {"SNA_HOME"}
    for name in AIRFLOW_SERVICES:
        variables = {key for key in compose["services"][name]["environment"] if key.startswith("SNA_")}
        assert variables and variables <= known, variables - known
    environment = compose["services"]["airflow-worker"]["environment"]
    assert environment["SNA_HOME"] == "/opt/airflow"
    assert (PROJECT / environment["SNA_AUDIENCES_DIR"]).is_dir()
    bucket = compose["services"]["minio-init"]["environment"]["SNA_S3_BUCKET"]
    assert interpolate(bucket) == interpolate(environment["SNA_S3_BUCKET"]) == Settings().s3_bucket


def test_mounted_folders_are_the_repository_layout_at_sna_home(compose) -> None:
    for name in AIRFLOW_SERVICES:
        service = compose["services"][name]
        mounts = dict(volume.split(":", 1) for volume in service["volumes"] if volume.startswith("./"))
        assert mounts == {"./dags": "/opt/airflow/dags", "./plugins": "/opt/airflow/plugins",
                          "./config": "/opt/airflow/config"}
        for host, container in mounts.items():
            assert (PROJECT / host).is_dir()
            assert Path(container).parent == Path(service["environment"]["SNA_HOME"])
    assert (PROJECT / "dags" / "sna_audiences.py").is_file()
    assert "sna_airflow/" in (PROJECT / "plugins" / ".airflowignore").read_text().split()


def test_the_demo_shop_job_writes_into_the_shop_connection(compose) -> None:
    job = compose["services"]["demo-shop"]
    assert job["entrypoint"] == ["python", "-m", "sna"] and job["command"][0] == "demo-shop"
    target = interpolate(job["command"][1])
    assert target == "mysql+mysqldb://sna:sna@mysql:3306/prestashop"
    assert job["environment"]["PYTHONPATH"] == "/opt/airflow/plugins"


def test_minio_can_encrypt_what_sna_asks_to_encrypt(compose) -> None:
    """SNA sends SSE-S3 on every write unless told otherwise; MinIO refuses it without a key service."""
    import base64

    minio = compose["services"]["minio"]["environment"]
    encryption = compose["x-airflow-common"]["environment"]["SNA_S3_ENCRYPTION"]
    if "AES256" in encryption:
        name, _, key = minio["MINIO_KMS_SECRET_KEY"].split(":-", 1)[-1].rstrip("}").partition(":")
        assert name and len(base64.b64decode(key)) == 32


def test_the_shop_server_is_the_one_the_tests_run_against(compose) -> None:
    assert compose["services"]["mysql"]["image"].startswith("mariadb:10.11")


def test_the_postgresql_metadata_db_has_its_async_driver_pinned(compose) -> None:
    """Airflow 3.3 also opens its metadata DB asynchronously (`postgresql+asyncpg`, derived from the
    psycopg2 URL): the image installs requirements.txt, which must pin asyncpg (`airflow db migrate`
    fails with "No module named 'asyncpg'" otherwise)."""
    environment = compose["services"]["airflow-init"]["environment"]
    assert environment["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql")
    pins = {line.split("==")[0].lower() for line in (PROJECT / "requirements.txt").read_text().splitlines()
            if "==" in line}
    assert {"asyncpg", "psycopg2-binary"} <= pins


def test_the_distributed_test_runs_what_the_compose_file_runs(compose) -> None:
    """tests/airflow/test_celery_stack.py is this recipe on one machine: the same executor, broker
    and result backend kinds, worker command, shared JWT secret and connection ids."""
    from tests.fixtures.airflow_stack import celery_environment
    from tests.fixtures.celery_stack import shop_connections

    environment = compose["x-airflow-common"]["environment"]
    tested = celery_environment("redis://127.0.0.1:6379/0", "postgresql+psycopg2://postgres@127.0.0.1:5432/meta")
    assert set(tested) <= set(environment), "the test sets nothing the production recipe leaves out"
    assert tested["AIRFLOW__CORE__EXECUTOR"] == environment["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert tested["AIRFLOW__CELERY__BROKER_URL"].split(":")[0] == environment["AIRFLOW__CELERY__BROKER_URL"].split(":")[0]
    assert tested["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql")
    assert environment["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql")
    assert compose["services"]["airflow-worker"]["command"] == "celery worker"
    secrets = {compose["services"][name]["environment"]["AIRFLOW__API_AUTH__JWT_SECRET"] for name in AIRFLOW_SERVICES}
    assert len(secrets) == 1, "one JWT secret for the API server and every worker"
    assert set(shop_connections({None: "mysql+mysqldb://sna@mysql:3306/prestashop"})) <= set(environment)
    pins = {line.split("==")[0].lower() for line in (PROJECT / "requirements.txt").read_text().splitlines()
            if "==" in line}
    assert {"apache-airflow-providers-celery", "celery", "redis"} <= pins, "the image installs requirements.txt"
