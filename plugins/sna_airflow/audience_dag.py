"""`sna_<name>`: the DAG of one audience file, its trigger form and the Asset it updates."""

from __future__ import annotations

from airflow.sdk import DAG, Asset, Param, dag

from sna.audience import Audience
from sna_airflow.alerts import FailedRunAlert
from sna_airflow.config import DAG_ID_PREFIX, START_DATE
from sna_airflow.docs import audience_doc
from sna_airflow.retry import retry_arguments
from sna_airflow.stages import add_export_tasks


def audience_asset(name: str) -> Asset:
    """The Asset a successful export of `name` updates: schedule other DAGs on it."""
    return Asset(name=f"{DAG_ID_PREFIX}{name}", uri=f"sna://audiences/{name}", group="sna")


def run_params(audience: Audience) -> dict[str, Param]:
    """The trigger form: one-run overrides, defaulting to the YAML's values (scheduled runs use them).
    Each can be cleared (null): the run then uses the audience file's value."""
    return {
        "dry_run": Param(False, type=["boolean", "null"], title="Dry run",
                         description="Only count (scanned, exported, excluded by reason): no file, no entry."),
        "hashing": Param(audience.hashing, type=["string", "null"], enum=["none", "sha256", None], title="Hashing",
                         values_display={"none": "none (platform hashes on upload)", "sha256": "SHA-256",
                                         "null": f"as in the audience file ({audience.hashing})"}),
        "require_complete": Param(audience.require_complete, type=["boolean", "null"],
                                  title="Require complete records",
                                  description="Export only customers with every required field."),
    }


def audience_dag(audience: Audience) -> DAG:
    @dag(
        dag_id=audience.dag_id,
        description=(audience.description or f"{audience.platform} audience {audience.name}")[:200],
        schedule=audience.schedule,
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        tags=["sna", audience.platform],
        doc_md=audience_doc(audience),
        params=run_params(audience),
        default_args=retry_arguments(),
        on_failure_callback=FailedRunAlert(audience.name),
    )
    def export() -> None:
        add_export_tasks(lambda _params: audience, outlet=audience_asset(audience.name),
                         deliver=audience.delivery is not None)

    return export()
