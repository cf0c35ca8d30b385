"""Engine parts from Airflow connections: URLs, precedence, and the embedded default without any."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from sna.errors import ConfigError


def connection(conn_id: str = "c", **fields):
    from airflow.sdk import Connection

    if "extra" in fields:
        fields["extra"] = json.dumps(fields["extra"])
    return Connection(conn_id=conn_id, **fields)


def test_mysql_url_keeps_the_charset_and_drops_driver_options_the_engine_sets_itself() -> None:
    from sna_airflow.connections import sqlalchemy_url

    url = sqlalchemy_url(connection(conn_type="mysql", host="db", port=3306, login="shop", password="p@ss:w/rd",
                                    schema="prestashop", extra={"cursor": "SSCursor", "charset": "utf8mb4"}))

    assert url.drivername == "mysql+mysqldb" and url.query == {"charset": "utf8mb4"}
    assert make_url(url.render_as_string(hide_password=False)).password == "p@ss:w/rd"
    assert "p@ss" not in url.render_as_string(hide_password=True)


def test_registry_urls_for_postgres_sqlite_and_an_explicit_url() -> None:
    from sna_airflow.connections import sqlalchemy_url

    postgres = sqlalchemy_url(connection(conn_type="postgres", host="pg", port=5432, login="sna", schema="sna"))
    sqlite = sqlalchemy_url(connection(conn_type="sqlite", host="/data/registry.db"))
    explicit = sqlalchemy_url(connection(conn_type="generic", extra={"sqlalchemy_url": "sqlite:////x/r.db"}))

    assert postgres.render_as_string() == "postgresql+psycopg2://sna@pg:5432/sna"
    assert sqlite.render_as_string() == "sqlite:////data/registry.db"
    assert explicit.render_as_string() == "sqlite:////x/r.db"
    with pytest.raises(ConfigError, match="connection c: type 'http' is not supported"):
        sqlalchemy_url(connection(conn_type="http", host="x"))


def test_without_connections_the_embedded_default_applies(sna_env: Path) -> None:
    from sna.settings import embedded_locations, project_root
    from sna_airflow.connections import build_runtime

    runtime = build_runtime()

    assert runtime.locations == embedded_locations(project_root())
    assert runtime.s3_conn_defined is False


def test_connections_win_over_settings_and_sna_s3_selects_the_configured_bucket(
        sna_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sna_airflow.connections import build_runtime

    monkeypatch.setenv("SNA_SOURCE_URL", "sqlite:////ignored/shop.db")
    monkeypatch.setenv("SNA_S3_BUCKET", "my-exports")
    monkeypatch.setenv("SNA_S3_PREFIX", "team/audiences")
    monkeypatch.setenv("AIRFLOW_CONN_SNA_PRESTASHOP", json.dumps(
        {"conn_type": "mysql", "host": "shop-db", "login": "ro", "password": "secret", "schema": "ps"}))
    monkeypatch.setenv("AIRFLOW_CONN_SNA_S3", json.dumps({"conn_type": "aws", "login": "key", "password": "secret"}))
    monkeypatch.setenv("AIRFLOW_CONN_SNA_REGISTRY", json.dumps({"conn_type": "sqlite", "host": "/srv/registry.db"}))

    locations = build_runtime().locations

    assert locations.source_url == "mysql+mysqldb://ro:secret@shop-db/ps?charset=utf8mb4"
    assert locations.storage_url == "s3://my-exports/team/audiences"
    assert locations.registry_url == "sqlite:////srv/registry.db"

    monkeypatch.setenv("SNA_STORAGE_URL", "file:///srv/exports")
    assert build_runtime().locations.storage_url == "file:///srv/exports"
