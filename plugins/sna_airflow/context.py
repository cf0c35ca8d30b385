"""What a task needs from its Airflow context: the run's reference date and its parameters."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date
from typing import TYPE_CHECKING, Any

from sna.audience import Audience

if TYPE_CHECKING:
    from sna.pipeline import ExportJob

AudienceOf = Callable[[Mapping[str, Any]], Audience]
"""How a DAG finds its audience from the run's params (fixed for YAML DAGs, the form for ad hoc)."""


def reference_date(context: Mapping[str, Any]) -> date:
    """The logical date's day (UTC); a manual run without logical date uses the day it ran after.

    Fixed for the whole run, so every task and every rerun works on the same file key.
    """
    moment = context.get("logical_date") or context["dag_run"].run_after
    return moment.astimezone(UTC).date()


def is_dry_run(context: Mapping[str, Any]) -> bool:
    return bool(context["params"].get("dry_run", False))


def export_job(audience_of: AudienceOf, context: Mapping[str, Any], namespace: str = "") -> ExportJob:
    """The run's job: the audience with the form's one-run overrides (hashing, require_complete).
    `sna.pipeline` is imported here, in the task: at parse it would import pandas and boto3."""
    from sna.pipeline import ExportJob

    params = context["params"]
    job = ExportJob(audience_of(params), reference_date(context), run_id=context["run_id"], namespace=namespace)
    return job.with_overrides(hashing=params.get("hashing"), require_complete=params.get("require_complete"))
