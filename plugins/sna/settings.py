"""Where SNA reads and writes: the three locations, with an embedded default for each.

Order of precedence: explicit values (command-line flags) > environment (`SNA_*`) >
`config/sna.yaml` > embedded defaults (a demo shop in SQLite, a local folder, a SQLite registry,
all under `<project>/var/`). Nothing here opens a connection: resolving settings is free.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sna.errors import ConfigError


def project_root(environ: Mapping[str, str] = os.environ) -> Path:
    """The folder that holds `config/`, `dags/` and `plugins/` (override with SNA_HOME)."""
    if environ.get("SNA_HOME"):
        return Path(environ["SNA_HOME"]).resolve()
    return Path(__file__).resolve().parents[2]


class Settings(BaseModel):
    """`config/sna.yaml`; every key may be overridden by the environment variable `SNA_<KEY>`."""

    model_config = ConfigDict(extra="forbid")

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
    tmp_dir: str | None = None
    google_datamanager_url: str = "https://datamanager.googleapis.com"
    google_poll_seconds: Annotated[float, Field(gt=0, le=3600)] = 60.0
    """First wait before asking Google whether a request was processed (then doubling, up to 10 min)."""
    google_poll_timeout_seconds: Annotated[float, Field(gt=0, le=86_400)] = 3600.0
    meta_graph_url: str = "https://graph.facebook.com"
    meta_api_version: Annotated[str, Field(pattern=r"^v\d+\.\d+$")] | None = None
    """None: the version the pinned facebook-business SDK was built for."""


_ENV_KEYS = {name: f"SNA_{name.upper()}" for name in Settings.model_fields}


def load_settings(root: Path | None = None, environ: Mapping[str, str] = os.environ) -> Settings:
    root = root or project_root(environ)
    path = root / "config" / "sna.yaml"
    values: dict[str, Any] = {}
    if path.exists():
        try:
            document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not valid YAML ({type(exc).__name__})") from None
        if not isinstance(document, dict):
            raise ConfigError(f"{path}: expected a mapping of settings")
        values.update(document)
    for name, variable in _ENV_KEYS.items():
        if environ.get(variable):
            values[name] = environ[variable]
    try:
        return Settings.model_validate(values)
    except ValidationError as exc:
        error = exc.errors()[0]
        key = ".".join(str(p) for p in error["loc"])
        raise ConfigError(f"{path}: {key} (or {_ENV_KEYS.get(key, 'SNA_*')}): {error['msg']}") from None


@dataclass(frozen=True)
class Locations:
    """SQLAlchemy URL of the shop, storage URL of the files, SQLAlchemy URL of the registry."""

    source_url: str
    storage_url: str
    registry_url: str


def embedded_locations(root: Path) -> Locations:
    var = root / "var"
    return Locations(
        source_url=f"sqlite:///{var / 'demo_shop.db'}",
        storage_url=(var / "exports").as_uri(),
        registry_url=f"sqlite:///{var / 'registry.db'}",
    )


def resolve_locations(
    source_url: str | None = None,
    storage_url: str | None = None,
    registry_url: str | None = None,
    settings: Settings | None = None,
    root: Path | None = None,
) -> Locations:
    root = root or project_root()
    settings = settings or load_settings(root)
    default = embedded_locations(root)
    return Locations(
        source_url=source_url or settings.source_url or default.source_url,
        storage_url=storage_url or settings.storage_url or default.storage_url,
        registry_url=registry_url or settings.registry_url or default.registry_url,
    )
