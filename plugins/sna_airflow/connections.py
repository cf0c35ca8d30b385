"""Engine parts from Airflow connections, with the embedded defaults when a connection is absent.

`sna_prestashop` (the shop), `sna_s3` (the export files) and `sna_registry` (the export entries)
are optional: without them the settings (`config/sna.yaml`, `SNA_*`) and finally the embedded
demo locations apply, so the demo needs no connection at all. Connections are only read inside
tasks, never at parse time.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL, Engine

from sna.delivery.clients import Credentials
from sna.errors import ConfigError
from sna.registry import Registry
from sna.runtime import Runtime, create_registry, create_source_engine
from sna.settings import Settings, load_settings, project_root, resolve_locations
from sna.storage import Storage, open_storage

SOURCE_CONN_ID = "sna_prestashop"
STORAGE_CONN_ID = "sna_s3"
REGISTRY_CONN_ID = "sna_registry"
GOOGLE_CONN_ID = "sna_google"
META_CONN_ID = "sna_meta"

# Airflow connection types -> SQLAlchemy drivers installed with SNA (mysqlclient, psycopg2).
_DRIVERS = {
    "mysql": "mysql+mysqldb",
    "mariadb": "mysql+mysqldb",
    "postgres": "postgresql+psycopg2",
    "postgresql": "postgresql+psycopg2",
    "sqlite": "sqlite",
}


def optional_connection(conn_id: str) -> Any | None:
    """The connection `conn_id`, or None when it is not defined anywhere (env, secrets, database)."""
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return Connection.get(conn_id)
    except AirflowNotFoundException:
        return None


_SET_BY_THE_ENGINE = {"cursor", "charset", "sqlalchemy_url"}
"""Extras the URL does not carry as given: the engine chooses its own cursors (it streams), and the
charset always has a value (utf8mb4 unless the connection says otherwise)."""


def sqlalchemy_url(conn: Any) -> URL:
    """A SQLAlchemy URL from a connection's fields; a `sqlalchemy_url` in the extra wins.

    For MySQL, the extras that change how the driver connects (`unix_socket`, `ssl`, `ssl_mode`,
    `iam`, ...) are part of the URL's query, so that a reader that cannot honour them (connectorx)
    sees them and steps aside; the connections themselves are opened by MySqlHook
    (`shop_engine`), which knows what each extra means."""
    extra = conn.extra_dejson
    if extra.get("sqlalchemy_url"):
        from sqlalchemy.engine import make_url

        return make_url(extra["sqlalchemy_url"])
    driver = _DRIVERS.get((conn.conn_type or "").lower())
    if driver is None:
        raise ConfigError(
            f"connection {conn.conn_id}: type {conn.conn_type!r} is not supported "
            f"(use one of {', '.join(sorted(_DRIVERS))} or set extra.sqlalchemy_url)"
        )
    if driver == "sqlite":
        return URL.create("sqlite", database=conn.host or conn.schema)
    query: dict[str, str] = {}
    if driver.startswith("mysql"):
        query["charset"] = str(extra.get("charset", "utf8mb4"))
        query.update({key: value if isinstance(value, str) else json.dumps(value, sort_keys=True)
                      for key, value in sorted(extra.items()) if key not in _SET_BY_THE_ENGINE})
    return URL.create(
        driver, username=conn.login or None, password=conn.password or None, host=conn.host or None,
        port=conn.port or None, database=conn.schema or None, query=query,
    )


def hook_connector(conn: Any) -> Callable[[], Any] | None:
    """What opens a driver connection for a MySQL connection: MySqlHook.get_conn, so every extra the
    hook maps (charset, unix socket, SSL, IAM) applies; None where the URL says it all."""
    if (conn.conn_type or "").lower() not in ("mysql", "mariadb") or conn.extra_dejson.get("sqlalchemy_url"):
        return None
    from airflow.providers.mysql.hooks.mysql import MySqlHook

    return MySqlHook(connection=conn).get_conn


def shop_engine(conn: Any) -> Engine:
    """The shop's engine from its Airflow connection (through its hook, see `hook_connector`)."""
    return create_source_engine(sqlalchemy_url(conn), creator=hook_connector(conn))


def _url_of(conn_id: str) -> URL | None:
    conn = optional_connection(conn_id)
    return sqlalchemy_url(conn) if conn is not None else None


def google_credentials_of(conn: Any) -> object:
    """`sna_google`, a Google Cloud connection: `extra.keyfile_dict` (the service-account JSON),
    `extra.key_path` (its file), `extra.anonymous: true` (loopback test endpoints only), or nothing
    (Application Default Credentials of the worker). Keys with the provider's
    `extra__google_cloud_platform__` prefix are read too."""
    from sna.delivery.google import SCOPE

    extra = conn.extra_dejson

    def value(name: str) -> Any:
        return extra.get(name) or extra.get(f"extra__google_cloud_platform__{name}")

    if value("anonymous"):
        return "anonymous"
    if value("keyfile_dict"):
        from google.oauth2 import service_account

        info = value("keyfile_dict")
        try:
            info = json.loads(info) if isinstance(info, str) else info
            return service_account.Credentials.from_service_account_info(info, scopes=[SCOPE])
        except (ValueError, TypeError):
            raise ConfigError(f"connection {GOOGLE_CONN_ID}: extra.keyfile_dict is not a service-account key") from None
    if value("key_path"):
        return str(value("key_path"))
    import google.auth

    credentials, _project = google.auth.default(scopes=[SCOPE])
    return credentials


def platform_credentials() -> Credentials:
    """Delivery secrets: the `sna_google` / `sna_meta` connections when defined, else the environment."""
    from_env = Credentials.from_env()
    google_conn = optional_connection(GOOGLE_CONN_ID)
    meta_conn = optional_connection(META_CONN_ID)
    return Credentials(
        google=google_credentials_of(google_conn) if google_conn is not None else from_env.google,
        meta_access_token=(meta_conn.password or None) if meta_conn is not None else from_env.meta_access_token,
    )


class AirflowRuntime(Runtime):
    """The engine's `Runtime`, whose S3 client comes from the `sna_s3` connection when defined and
    whose platform credentials come from `sna_google` / `sna_meta`."""

    def __init__(self, *args: Any, s3_conn_defined: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.s3_conn_defined = s3_conn_defined

    def credentials(self) -> Credentials:
        return platform_credentials()

    def _shop_connection(self, connection: str | None) -> Any | None:
        conn_id = connection or SOURCE_CONN_ID
        conn = optional_connection(conn_id)
        if conn is None and connection is not None:
            raise ConfigError(f"source.connection {connection}: no Airflow connection {connection} is defined")
        return conn

    def open_named_source(self, connection: str) -> Engine:
        """A named shop is the Airflow connection of that id (`source.connection` of the audience),
        looked up once and opened through its hook."""
        return shop_engine(self._shop_connection(connection))

    def open_source(self, url: str | URL, connection: str | None) -> Engine:
        """A shop defined by an Airflow connection is opened through its hook; the default shop
        without `sna_prestashop` (settings, embedded demo) by its URL."""
        conn = self._shop_connection(connection)
        return shop_engine(conn) if conn is not None else create_source_engine(url)

    @cached_property
    def registry(self) -> Registry:
        """`sna_registry`, when defined, is opened through its hook like the shop."""
        conn = optional_connection(REGISTRY_CONN_ID)
        connector = hook_connector(conn) if conn is not None else None
        return create_registry(self.locations.registry_url, create=self.create, creator=connector)

    @cached_property
    def storage(self) -> Storage:
        url = self.locations.storage_url
        client = None
        if self.s3_conn_defined and url.startswith("s3://"):
            from airflow.providers.amazon.aws.hooks.s3 import S3Hook

            client = S3Hook(aws_conn_id=STORAGE_CONN_ID).get_conn()
        return open_storage(url, s3_client=client, s3_encryption=self.settings.s3_encryption,
                            s3_kms_key_id=self.settings.s3_kms_key_id)


def build_runtime(settings: Settings | None = None, root: Path | None = None) -> AirflowRuntime:
    """Locations by precedence: Airflow connection > settings (`SNA_*`, sna.yaml) > embedded default.

    With `sna_s3` defined and no explicit storage URL, files go to `s3://<s3_bucket>/<s3_prefix>`.
    """
    root = root or project_root()
    settings = settings or load_settings(root)
    s3_defined = optional_connection(STORAGE_CONN_ID) is not None
    storage_url = settings.storage_url or (f"s3://{settings.s3_bucket}/{settings.s3_prefix}" if s3_defined else None)
    locations = resolve_locations(
        source_url=_url_of(SOURCE_CONN_ID), storage_url=storage_url, registry_url=_url_of(REGISTRY_CONN_ID),
        settings=settings, root=root,
    )
    return AirflowRuntime(locations, settings, root, s3_conn_defined=s3_defined)


@contextmanager
def airflow_runtime() -> Iterator[AirflowRuntime]:
    """A runtime for one task; its database pools are closed when the task is done."""
    runtime = build_runtime()
    try:
        yield runtime
    finally:
        runtime.close()
