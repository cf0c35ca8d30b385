"""The export store the page reads (the same places the DAGs write to), the audience files, and the
engine's delivery.

Built by the DAGs' own glue (`sna_airflow.connections.build_runtime`): Airflow connections `sna_s3`
and `sna_registry` when defined, else SNA settings (`SNA_STORAGE_URL`, `SNA_REGISTRY_URL`,
config/sna.yaml), else the embedded defaults. Called on the first request, never at import.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sna.audience import Audience, find_audience, load_audiences
from sna.exports import ExportStore
from sna.registry import ExportEntry
from sna.registry.access import Actor

if TYPE_CHECKING:
    from sna.delivery.sync import DeliveryReport


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


def engine_delivery(entry: ExportEntry, actor: Actor) -> DeliveryReport:
    """Delivers a recorded export as `sna deliver` does, on the DAGs' own glue: the audience found by
    `find_audience` in the audience files (its `delivery` block), then `deliver_export` on a runtime
    from Airflow's connections (`sna_google` / `sna_meta` for credentials), closed afterwards. The
    access log records the delivery under `actor` (the signed-in user)."""
    from sna_airflow.connections import airflow_runtime

    audience = find_audience(audiences_folder(), entry.audience)
    with airflow_runtime() as runtime:
        runtime.actor = actor
        return runtime.pipeline().deliver_export(entry.id, audience)
