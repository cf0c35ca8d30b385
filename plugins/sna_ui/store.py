"""The export store the page reads: the same places the DAGs write to.

Built by the DAGs' own glue (`sna_airflow.connections.build_runtime`): Airflow connections `sna_s3`
and `sna_registry` when defined, else SNA settings (`SNA_STORAGE_URL`, `SNA_REGISTRY_URL`,
config/sna.yaml), else the embedded defaults. Called on the first request, never at import.
"""

from __future__ import annotations

from sna.exports import ExportStore


def airflow_store() -> ExportStore:
    from sna_airflow.connections import build_runtime

    return build_runtime().store()
