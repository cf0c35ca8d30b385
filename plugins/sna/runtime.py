"""Builds the engine's parts from location URLs (command line, demo, tests).

The Airflow layer builds the same parts from its connections instead; both end in an
`ExportPipeline`. Everything is created lazily, so a command that needs only the registry never
touches the shop database.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url

from sna.audience import Audience
from sna.delivery.base import PlatformClient
from sna.delivery.clients import Credentials, open_client
from sna.errors import ConfigError, SourceError
from sna.exports import ExportStore
from sna.pipeline import ExportPipeline, NoProgress, Progress
from sna.registry import Registry
from sna.registry.access import ENGINE, Actor
from sna.settings import (
    Locations,
    Settings,
    find_project_root,
    load_settings,
    project_path,
    resolve_locations,
)
from sna.storage import Storage, open_storage
from sna.storage.local import parse_file_url


def create_source_engine(url: str | URL, *, creator: Callable[[], Any] | None = None) -> Engine:
    """An engine on the shop database; a missing SQLite file is an error, not a new empty shop.

    `creator` opens the driver's connections instead of the URL (the Airflow layer hands over
    MySqlHook.get_conn, so every extra of the connection reaches the driver); the URL still tells
    the dialect and the Arrow reader what the database is."""
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError:
        raise ConfigError("source URL is not a SQLAlchemy URL (e.g. mysql+mysqldb://user@host/shop)") from None
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if not database or database == ":memory:" or not Path(database).exists():
            raise SourceError(
                f"shop database {parsed.render_as_string(hide_password=True)}: file does not exist "
                "(create a demo shop with `sna demo-shop`)"
            )
    options: dict[str, Any] = {"creator": creator} if creator is not None else {}
    if creator is None and parsed.get_backend_name() == "mysql":
        options["connect_args"] = {"connect_timeout": 10}
    return sa.create_engine(parsed, pool_pre_ping=True, **options)


def create_registry(url: str | URL, *, create: bool = True, creator: Callable[[], Any] | None = None
                    ) -> Registry:
    """The registry at `url` (Registry checks the URL and creates a SQLite file's folder), schema ensured.

    `create=False` (read-only commands) creates nothing: not the SQLite file (a missing one is an
    error naming it), not its folder, not the table (see `Runtime.has_exports_table`)."""
    registry = Registry(url, create=create, creator=creator)
    if create or registry.has_tables():
        registry.ensure_schema()  # an existing registry is upgraded in place, whoever opens it
    return registry


def _sqlite_file(url: str | URL) -> Path | None:
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError:
        return None
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    return Path(parsed.database).expanduser().resolve()


def refuse_shared_folder(locations: Locations) -> None:
    """A storage folder that holds the registry or the shop database is refused: housekeeping would
    list those files among the exports, and a repair must never be able to reach them."""
    if not locations.storage_url.startswith("file:"):
        return
    folder = parse_file_url(locations.storage_url).resolve()
    for what, url in (("registry", locations.registry_url), ("shop database", locations.source_url)):
        path = _sqlite_file(url)
        if path is not None and path.is_relative_to(folder):
            raise ConfigError(f"storage {locations.storage_url} contains the {what} {path}: give the exports a "
                              "folder of their own")


class Runtime:
    """The locations of one invocation and the parts built from them."""

    def __init__(self, locations: Locations, settings: Settings, root: Path | None,
                 progress: Progress | None = None, *, create: bool = True):
        """`root`: the project folder, None without one (every location then given explicitly).
        `create=False`: the registry must already exist (commands that only read or remove)."""
        refuse_shared_folder(locations)
        self.locations = locations
        self.settings = settings
        self.root = root
        self.progress = progress or NoProgress()
        self.create = create
        self.explicit_source = False
        """True when `--source-url` was given: it then serves every audience, whatever its connection."""
        self._named_sources: dict[str, Engine] = {}

    @classmethod
    def from_flags(cls, source_url: str | None = None, storage_url: str | None = None,
                   registry_url: str | None = None, progress: Progress | None = None,
                   *, create: bool = True) -> Runtime:
        root = find_project_root()
        settings = load_settings(root)
        locations = resolve_locations(source_url, storage_url, registry_url, settings=settings, root=root)
        runtime = cls(locations, settings, root, progress, create=create)
        runtime.explicit_source = source_url is not None
        return runtime

    def project_path(self, path: Path | str, what: str) -> Path:
        """`path` of a setting or an audience file: as is when absolute, else under the project folder
        (a one-line error when there is none)."""
        return project_path(self.root, path, what)

    @cached_property
    def source_engine(self) -> Engine:
        return self.open_source(self.locations.source_url, None)

    def open_source(self, url: str | URL, connection: str | None) -> Engine:
        """The engine of a shop (`connection`: its `source.connection` name, None for the default
        shop); the Airflow layer opens it through the connection's hook instead."""
        return create_source_engine(url)

    def source_url_of(self, connection: str) -> str | URL:
        """The URL of a named shop (`source.connection`): `SNA_SOURCE_URL_<CONNECTION>`."""
        variable = f"SNA_SOURCE_URL_{connection.upper()}"
        url = os.environ.get(variable)
        if not url:
            raise ConfigError(f"source.connection {connection}: set {variable} to the shop's SQLAlchemy URL "
                              "(or give --source-url)")
        return url

    def source_for(self, connection: str | None) -> Engine:
        """The shop database of an audience's `source.connection` (None: the default shop)."""
        if connection is None or self.explicit_source:
            return self.source_engine
        if connection not in self._named_sources:
            self._named_sources[connection] = self.open_named_source(connection)
        return self._named_sources[connection]

    def open_named_source(self, connection: str) -> Engine:
        """The engine of a named shop, opened once per runtime (`source_for` keeps it); the Airflow
        layer opens it from the connection it looks up once."""
        return self.open_source(self.source_url_of(connection), connection)

    @cached_property
    def storage(self) -> Storage:
        return open_storage(self.locations.storage_url, s3_encryption=self.settings.s3_encryption,
                            s3_kms_key_id=self.settings.s3_kms_key_id)

    @cached_property
    def registry(self) -> Registry:
        return create_registry(self.locations.registry_url, create=self.create)

    def has_exports_table(self) -> bool:
        """Whether the registry holds its table: a database that exists without it has no exports yet
        (only a runtime with `create=False` can see that: the others create the table)."""
        return self.registry.has_tables()

    actor: Actor = ENGINE
    """Who acts through this runtime's store (the access log): the CLI's user, a DAG run."""

    def store(self) -> ExportStore:
        return ExportStore(self.storage, self.registry, self.actor)

    def credentials(self) -> Credentials:
        """Platform secrets for delivery: the environment here; the Airflow layer reads its connections."""
        return Credentials.from_env()

    def open_client(self, audience: Audience) -> PlatformClient:
        return open_client(audience, self.settings, self.credentials())

    def pipeline(self, *, preview_only: bool = False) -> ExportPipeline:
        """The export pipeline; `preview_only` opens no store (a preview reads the shop and nothing else)."""
        return ExportPipeline(
            self.source_for, None if preview_only else self.store(), project_root=self.root,
            chunk_size=self.settings.chunk_size,
            tmp_dir=self.settings.tmp_dir, progress=self.progress, clients=self.open_client,
            source_reader=self.settings.source_reader, partition_size=self.settings.partition_size,
            workers=self.settings.workers or os.cpu_count() or 1,
        )

    def close(self) -> None:
        """Closes the database pools that were opened (nothing else was)."""
        for engine in [self.__dict__.get("source_engine"), *self._named_sources.values()]:
            if engine is not None:
                engine.dispose()
        registry = self.__dict__.get("registry")
        if registry is not None:
            registry.dispose()
