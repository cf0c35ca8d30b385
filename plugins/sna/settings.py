"""Where SNA reads and writes: the three locations, with an embedded default for each.

Order of precedence: explicit values (command-line flags) > environment (`SNA_*`) >
`config/sna.yaml` > embedded defaults (a demo shop in SQLite, a local folder, a SQLite registry,
all under `<project>/var/`). Nothing here opens a connection: resolving settings is free.

The project folder is the one that holds `config/`: `SNA_HOME`, else the current folder when it
has a `config/` folder, else the source checkout this package is imported from (`plugins/sna`
beside `config/`: a developer's checkout, Airflow's plugins folder). An installed package has no
checkout, so without `SNA_HOME` or `config/` in the current folder there is no project folder:
the commands that need one (the embedded default locations, relative paths of the settings and
audience files) stop with one line saying so. See docs/audience-config.md.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, SettingsError
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from sna.errors import ConfigError

SETTINGS_FILE = Path("config") / "sna.yaml"
NO_PROJECT_HELP = "set SNA_HOME to the folder that holds config/, or run sna from that folder"


def _checkout_root() -> Path | None:
    """The repository this package is imported from, when it runs from `plugins/sna` of a checkout."""
    package = Path(__file__).resolve().parent
    root = package.parents[1]
    if package.parent.name == "plugins" and (root / "config").is_dir():
        return root
    return None


def find_project_root(environ: Mapping[str, str] = os.environ, cwd: Path | None = None) -> Path | None:
    """The folder that holds `config/` (and `var/`, `dags/`, `plugins/` in a checkout), or None.

    `SNA_HOME` when set; else the current folder when it holds `config/`; else the source checkout
    the package runs from; else None (an installed package run from elsewhere)."""
    if environ.get("SNA_HOME"):
        return Path(environ["SNA_HOME"]).resolve()
    cwd = Path.cwd() if cwd is None else cwd
    if (cwd / "config").is_dir():
        return cwd.resolve()
    return _checkout_root()


def project_root(environ: Mapping[str, str] = os.environ) -> Path:
    """The project folder (see `find_project_root`), or a one-line ConfigError when there is none."""
    root = find_project_root(environ)
    if root is None:
        raise ConfigError(f"no project folder: {NO_PROJECT_HELP}")
    return root


def project_path(root: Path | None, path: Path | str, what: str) -> Path:
    """`path` (of a setting or an audience file, named `what` in errors) as is when absolute, else
    under the project folder `root`: a one-line error when there is none."""
    path = Path(path)
    if path.is_absolute():
        return path
    if root is None:
        raise ConfigError(f"{what} {path} is relative and there is no project folder: {NO_PROJECT_HELP}")
    return root / path


_SETTINGS_FILE_VALUES: ContextVar[Mapping[str, Any] | None] = ContextVar("sna_settings_file", default=None)
"""What `load_settings` read from `config/sna.yaml`, for `Settings.settings_customise_sources`."""


class _SettingsFileSource(PydanticBaseSettingsSource):
    """The keys of `config/sna.yaml`, already read (and checked as YAML) by `load_settings`."""

    def __init__(self, settings_cls: type[BaseSettings], values: Mapping[str, Any]) -> None:
        super().__init__(settings_cls)
        self.values = dict(values)

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self.values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self.values)  # unknown keys included: `extra="forbid"` reports them


_IMPORT_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+")


class NotifierSpec(BaseModel):
    """One Airflow notifier for SNA's alerts: the import path of a `BaseNotifier` subclass and its
    keyword arguments (`{"path": "airflow.providers.smtp.notifications.smtp.SmtpNotifier",
    "kwargs": {"to": "ops@example.com", "smtp_conn_id": "smtp_default"}}`). Checked here as text
    only: the engine imports nothing from Airflow, `sna_airflow.alerts` imports the class."""

    model_config = ConfigDict(extra="forbid")

    path: Annotated[str, Field(max_length=300)]
    kwargs: dict[str, Any] = Field(default_factory=dict)

    @field_validator("path")
    @classmethod
    def _import_path(cls, path: str) -> str:
        if not _IMPORT_PATH.fullmatch(path):
            raise ValueError("must be the import path of a notifier class, module.Class")
        return path


class Settings(BaseSettings):
    """`config/sna.yaml`; every key may be overridden by the environment variable `SNA_<KEY>`.

    Built by `load_settings`; `Settings(key=value)` takes explicit values, which win over the
    environment (and no file is read)."""

    model_config = SettingsConfigDict(extra="forbid", env_prefix="SNA_", env_ignore_empty=True)

    source_url: str | None = None
    storage_url: str | None = None
    registry_url: str | None = None
    s3_bucket: Annotated[str, Field(min_length=3, max_length=63, pattern=r"^[a-z0-9][a-z0-9.-]+$")] = "sna-exports"
    s3_prefix: Annotated[str, Field(pattern=r"^[A-Za-z0-9_./-]*$", max_length=200)] = "audiences"
    audiences_dir: str = "config/audiences"
    s3_encryption: Literal["AES256", "aws:kms", "none"] = "AES256"
    """Server-side encryption of every write: SSE-S3, SSE-KMS (with `s3_kms_key_id`) or none (stores
    without a key service)."""
    s3_kms_key_id: str | None = None
    chunk_size: Annotated[int, Field(ge=1000, le=1_000_000)] = 50_000
    source_reader: Literal["auto", "arrow", "python"] = "auto"
    """How the shop's tables are read: `arrow` (connectorx, straight into Arrow), `python` (SQLAlchemy
    streaming cursors), or `auto`: arrow when connectorx can serve the shop's URL, else python."""
    partition_size: Annotated[int, Field(ge=1, le=100_000_000)] = 50_000
    """Customers per partition of an export (`sna run`): each partition is read by id range,
    normalized, filtered and rendered on its own; only the de-duplication spans partitions."""
    workers: Annotated[int, Field(ge=1, le=256)] | None = None
    """Processes that run partitions at once (None: one per core, `os.cpu_count()`; 1: in the
    command's own process). Memory grows with the partitions in flight, not with the shop."""
    partition_tasks: Annotated[int, Field(ge=1, le=1024)] = 4
    """Partition tasks of one audience DAG run at once (`max_active_tis_per_dagrun` of the mapped
    `partition` task): each holds one partition in memory on its worker."""
    partition_pool: str | None = None
    """The Airflow pool the partition tasks run in (None: the default pool), to bound them across
    every audience of the deployment."""
    tmp_dir: str | None = None
    google_datamanager_url: str = "https://datamanager.googleapis.com"
    google_poll_seconds: Annotated[float, Field(gt=0, le=3600)] = 60.0
    """First wait before asking Google whether a request was processed (then doubling, up to 10 min)."""
    google_poll_timeout_seconds: Annotated[float, Field(gt=0, le=86_400)] = 3600.0
    meta_graph_url: str = "https://graph.facebook.com"
    meta_api_version: Annotated[str, Field(pattern=r"^v\d+\.\d+$")] | None = None
    """None: the version the pinned facebook-business SDK was built for."""
    notifiers: list[NotifierSpec] = Field(default_factory=list)
    """Where alerts go (a failed audience run, a stale audience): Airflow notifiers; `SNA_NOTIFIERS` as JSON."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Explicit values > `SNA_*` variables > `config/sna.yaml` > defaults; no `.env`, no secrets folder."""
        return init_settings, env_settings, _SettingsFileSource(settings_cls, _SETTINGS_FILE_VALUES.get() or {})


ENV_VARIABLES = {name: f"SNA_{name.upper()}" for name in Settings.model_fields}
"""Each setting's environment variable (`chunk_size` -> `SNA_CHUNK_SIZE`)."""


def _read_settings_file(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid YAML ({type(exc).__name__})") from None
    if not isinstance(document, dict):
        raise ConfigError(f"{path}: expected a mapping of settings")
    return document


def load_settings(root: Path | None = None) -> Settings:
    """The settings of the project folder `root` (default: `find_project_root()`; without one, only
    the environment and the defaults). A bad value is one line naming the key and its variable."""
    root = root if root is not None else find_project_root()
    path = root / SETTINGS_FILE if root is not None else None
    token = _SETTINGS_FILE_VALUES.set(_read_settings_file(path) if path is not None else {})
    try:
        return Settings()
    except SettingsError as exc:  # an `SNA_*` variable of a list or mapping setting that is not JSON
        key = next((name for name in Settings.model_fields if f'"{name}"' in str(exc)), "settings")
        raise ConfigError(f"{ENV_VARIABLES.get(key, 'SNA_*')}: not valid JSON") from None
    except ValidationError as exc:
        error = exc.errors()[0]
        key = ".".join(str(p) for p in error["loc"])
        where = path if path is not None else "settings"
        variable = ENV_VARIABLES.get(str(error["loc"][0]) if error["loc"] else "", "SNA_*")
        raise ConfigError(f"{where}: {key} (or {variable}): {error['msg']}") from None
    finally:
        _SETTINGS_FILE_VALUES.reset(token)


_NOT_A_DATABASE_URL = {
    "source_url": "source URL is not a SQLAlchemy URL (e.g. mysql+mysqldb://user@host/shop)",
    "registry_url": "invalid registry URL: not a SQLAlchemy database URL",
}


@dataclass(frozen=True)
class Locations:
    """SQLAlchemy URL of the shop, storage URL of the files, SQLAlchemy URL of the registry.

    The two databases are held as `URL` objects (given as text, they are parsed here): a URL prints
    with its password hidden, so a location can be logged, shown or put in an error as it is."""

    source_url: URL
    storage_url: str
    registry_url: URL

    def __post_init__(self) -> None:
        for name, message in _NOT_A_DATABASE_URL.items():
            value = getattr(self, name)
            if isinstance(value, URL):
                continue
            try:
                object.__setattr__(self, name, make_url(value))
            except ArgumentError:
                raise ConfigError(message) from None


def embedded_locations(root: Path) -> Locations:
    var = root / "var"
    return Locations(
        source_url=f"sqlite:///{var / 'demo_shop.db'}",
        storage_url=(var / "exports").as_uri(),
        registry_url=f"sqlite:///{var / 'registry.db'}",
    )


def resolve_locations(
    source_url: str | URL | None = None,
    storage_url: str | None = None,
    registry_url: str | URL | None = None,
    settings: Settings | None = None,
    root: Path | None = None,
) -> Locations:
    """Each location from its explicit value, else its setting, else the embedded default under the
    project folder (`root`, default `find_project_root()`): without a project folder, a location that
    falls back to its embedded default is a one-line error naming its flag and variable."""
    root = root if root is not None else find_project_root()
    settings = settings or load_settings(root)
    chosen = {
        "source": source_url or settings.source_url,
        "storage": storage_url or settings.storage_url,
        "registry": registry_url or settings.registry_url,
    }
    if root is None:
        for what, url in chosen.items():
            if not url:
                raise ConfigError(f"the embedded default {what} location needs a project folder: {NO_PROJECT_HELP}, "
                                  f"or give --{what}-url (or SNA_{what.upper()}_URL)")
        return Locations(chosen["source"], chosen["storage"], chosen["registry"])
    default = embedded_locations(root)
    return Locations(
        source_url=chosen["source"] or default.source_url,
        storage_url=chosen["storage"] or default.storage_url,
        registry_url=chosen["registry"] or default.registry_url,
    )
