"""The export store the page reads: the same places the DAGs write to.

Built by the DAGs' own glue (`sna_airflow.connections.build_runtime`): Airflow connections `sna_s3`
and `sna_registry` when defined, else SNA settings (`SNA_STORAGE_URL`, `SNA_REGISTRY_URL`,
config/sna.yaml), else the embedded defaults. Called on the first request, never at import.
"""

from __future__ import annotations

from pathlib import Path

from sna.audience import Audience, load_audiences
from sna.exports import ExportStore


def airflow_store() -> ExportStore:
    from sna_airflow.connections import build_runtime

    return build_runtime().store()


def audiences_folder() -> Path:
    """`audiences_dir` of the settings (SNA_AUDIENCES_DIR), relative to the project root: the files the
    DAGs are built from."""
    from sna.settings import load_settings, project_root

    root = project_root()
    folder = Path(load_settings(root).audiences_dir)
    return folder if folder.is_absolute() else root / folder


def yaml_audiences() -> list[Audience]:
    """The valid audiences of the audience files, as the DAGs see them (a broken file is skipped there
    too); read on each call, so an edited file shows at once."""
    folder = audiences_folder()
    return load_audiences([folder])[0] if folder.is_dir() else []
