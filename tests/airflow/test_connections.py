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

    assert locations.source_url.render_as_string(hide_password=False) == \
        "mysql+mysqldb://ro:secret@shop-db/ps?charset=utf8mb4"
    assert "secret" not in str(locations.source_url) and "secret" not in repr(locations)
    assert locations.storage_url == "s3://my-exports/team/audiences"
    assert locations.registry_url.render_as_string() == "sqlite:////srv/registry.db"

    monkeypatch.setenv("SNA_STORAGE_URL", "file:///srv/exports")
    assert build_runtime().locations.storage_url == "file:///srv/exports"


def shop_connection(url: str, **extra) -> str:
    parsed = make_url(url)
    return json.dumps({"conn_type": "mysql", "host": "localhost", "login": parsed.username, "schema": parsed.database,
                       "extra": extra})


def customers_of_shop_connection() -> int:
    from sna.audience import SourceSpec
    from sna.source.extract import ShopReader
    from sna_airflow.connections import build_runtime

    runtime = build_runtime()
    try:
        return ShopReader(runtime.source_for(None), SourceSpec(), reader="python").count_customers()
    finally:
        runtime.close()


def test_the_shop_connection_gets_the_mysql_hooks_extras(
        sna_env: Path, demo_shop_mariadb: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`unix_socket` (and the other extras MySqlHook maps: charset, ssl, ...) reach the driver: the
    connection goes through the hook, not through a URL rebuilt by hand."""
    socket = tmp_path / "shop.sock"
    socket.symlink_to("/run/mysqld/mysqld.sock")
    monkeypatch.setenv("AIRFLOW_CONN_SNA_PRESTASHOP", shop_connection(demo_shop_mariadb, unix_socket=str(socket)))
    assert customers_of_shop_connection() > 0

    missing = tmp_path / "nothing-listens-here.sock"
    monkeypatch.setenv("AIRFLOW_CONN_SNA_PRESTASHOP", shop_connection(demo_shop_mariadb, unix_socket=str(missing)))
    from sna.errors import SourceError

    with pytest.raises(SourceError, match="nothing-listens-here.sock") as refused:
        customers_of_shop_connection()
    assert "\n" not in str(refused.value)


def test_a_shop_connection_asking_for_tls_is_never_read_by_connectorx(
        sna_env: Path, demo_shop_mariadb: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """connectorx would connect without the connection's TLS options: `auto` must fall back to the
    driver the hook configured, never read the shop in clear over TCP."""
    from sna.source.arrow import arrow_target
    from sna_airflow.connections import build_runtime

    connection = json.loads(shop_connection(demo_shop_mariadb, ssl={"ca": "/etc/ssl/certs/ca-certificates.crt"}))
    monkeypatch.setenv("AIRFLOW_CONN_SNA_PRESTASHOP", json.dumps({**connection, "host": "127.0.0.1", "port": 3306}))
    runtime = build_runtime()
    try:
        target = arrow_target(runtime.source_for(None))
    finally:
        runtime.close()
    assert target.url is None and "ssl" in target.reason


def test_a_named_shop_connection_is_looked_up_once_and_opened_from_that_lookup(
        sna_env: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from sna_airflow import connections

    shop = tmp_path / "shop_b.db"
    shop.touch()
    monkeypatch.setenv("AIRFLOW_CONN_SHOP_B", json.dumps({"conn_type": "sqlite", "host": str(shop)}))
    looked_up: list[str] = []
    real = connections.optional_connection
    monkeypatch.setattr(connections, "optional_connection",
                        lambda conn_id: looked_up.append(conn_id) or real(conn_id))
    runtime = connections.build_runtime()
    looked_up.clear()
    try:
        engine = runtime.source_for("shop_b")
        assert looked_up == ["shop_b"], "one lookup of the named connection per opening"
        assert engine.url.database == str(shop)
        assert runtime.source_for("shop_b") is engine and looked_up == ["shop_b"]
        with pytest.raises(ConfigError, match="no Airflow connection shop_c is defined"):
            runtime.source_for("shop_c")
    finally:
        runtime.close()
