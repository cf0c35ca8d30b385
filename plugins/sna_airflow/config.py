"""What every part of `sna_airflow` shares: the DAG ids, the start date, the platform labels, and the
audience files as Airflow sees them.

The bottom layer: it imports nothing else of `sna_airflow` (and nothing from Airflow), so every
builder can import it and `dag_factory` can import every builder, with no import cycle.
"""

from __future__ import annotations

import functools
import hashlib
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sna.audience import ADHOC_NAMESPACE, DAG_ID_PREFIX, Audience, load_audiences
from sna.errors import AudienceFileError, ConfigError
from sna.settings import SETTINGS_FILE, Settings, load_settings, project_root

__all__ = ["ADHOC_DAG_ID", "AUDIENCE_SHARDS", "DAG_ID_PREFIX", "HOUSEKEEPING_DAG_ID", "PLATFORM_LABELS",
           "START_DATE", "AudienceConfig", "audiences_folder", "dag_settings", "load_audience_config", "shard_of"]

ADHOC_DAG_ID = f"{DAG_ID_PREFIX}{ADHOC_NAMESPACE}"
HOUSEKEEPING_DAG_ID = f"{DAG_ID_PREFIX}housekeeping"
START_DATE = datetime(2024, 1, 1, tzinfo=UTC)
"""Of every SNA DAG; catchup is off, so no run is made for the days before the DAG appeared."""

AUDIENCE_SHARDS = 4
"""How many DAG files share the audience DAGs (`dags/sna_audiences.py` is shard 0, `sna_audiences_<k>.py`
the others): the DAG processor parses files in parallel (`[dag_processor] parsing_processes`), and
2,000 audience DAGs in one file took longer than the 3 s a parse may take. Changing it moves DAGs
between files (Airflow follows them)."""


def shard_of(name: str) -> int:
    """The DAG file of audience `name`: stable across processes and machines (Python's `hash` is not),
    and decided by the name alone, so two files claiming one name land in the same shard, which
    reports the duplicate."""
    return int.from_bytes(hashlib.blake2b(name.encode("utf-8"), digest_size=4).digest(), "big") % AUDIENCE_SHARDS


PLATFORM_LABELS = {"google": "Google Ads Customer Match", "meta": "Meta custom audience (customer list)"}


@dataclass
class AudienceConfig:
    """The audience files as Airflow sees them: the valid audiences and every problem found."""

    folder: Path | None
    audiences: list[Audience] = field(default_factory=list)
    errors: list[AudienceFileError] = field(default_factory=list)
    settings_error: ConfigError | None = None

    @property
    def problems(self) -> list[str]:
        lines = [str(self.settings_error)] if self.settings_error else []
        return lines + [str(error) for error in self.errors]


def audiences_folder() -> Path:
    """`audiences_dir` of the settings (SNA_AUDIENCES_DIR), relative to the project root."""
    root = project_root()
    folder = Path(load_settings(root).audiences_dir)
    return folder if folder.is_absolute() else root / folder


def dag_settings() -> Settings:
    """The settings DAGs are built with (parse time: environment and files only); the defaults when
    they are invalid (the error is shown by `load_audience_config`'s problems). Read once per parse
    of a DAG file, not once per audience (4 ms each): cached on the `SNA_*` environment and the
    settings file's modification time, so a changed setting is seen by the next parse."""
    root = project_root()
    path = root / SETTINGS_FILE
    environment = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("SNA_")))
    return _settings_of(root, environment, path.stat().st_mtime_ns if path.is_file() else None)


@functools.lru_cache(maxsize=8)
def _settings_of(root: Path, _environment: tuple, _modified: int | None) -> Settings:
    try:
        return load_settings(root)
    except ConfigError:
        return Settings.model_construct()


def load_audience_config() -> AudienceConfig:
    """Reads the audience files (YAML only: no database, no network)."""
    try:
        folder = audiences_folder()
    except ConfigError as error:
        return AudienceConfig(folder=None, settings_error=error)
    if not folder.is_dir():
        return AudienceConfig(folder, settings_error=ConfigError(f"{folder}: audiences folder does not exist"))
    audiences, errors = load_audiences([folder])
    return AudienceConfig(folder, audiences, errors)
