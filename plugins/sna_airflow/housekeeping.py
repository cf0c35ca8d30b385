"""`sna_housekeeping` (daily): expire old exports, sweep staging of failed runs, reconcile files and entries,
and alert about stale audiences (their newest export is older than their `stale_after_days`).

The rules live in the engine (`sna.housekeeping`); the tasks only gather the audiences, the
current time and the form's switches, and return the ids and keys they acted on.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import DAG, Param, chain, dag, task

from sna.defaults import DEFAULT_RETENTION_DAYS, STAGING_MAX_AGE
from sna_airflow.config import DAG_ID_PREFIX, HOUSEKEEPING_DAG_ID, START_DATE, load_audience_config
from sna_airflow.retry import retry_arguments

log = logging.getLogger(__name__)


def housekeeping_params() -> dict[str, Param]:
    """The trigger form; every field can be cleared (null: its default)."""
    return {
        "repair": Param(False, type=["boolean", "null"], title="Repair mismatches",
                        description="Delete entries whose file is gone and files without an entry."),
        "default_retention_days": Param(DEFAULT_RETENTION_DAYS, type=["integer", "null"], minimum=1, maximum=36500,
                                        title="Retention of exports without an audience file (ad hoc)",
                                        description=f"Days; empty: {DEFAULT_RETENTION_DAYS}."),
        "staging_max_age_hours": Param(int(STAGING_MAX_AGE.total_seconds() // 3600), type=["integer", "null"],
                                       minimum=1, maximum=720, title="Remove staging older than (hours)",
                                       description=f"Empty: {int(STAGING_MAX_AGE.total_seconds() // 3600)}."),
    }


def setting(params: Any, key: str) -> Any:
    """A form value, or its default when the field was cleared."""
    value = params.get(key)
    return housekeeping_params()[key].value if value is None else value


@task(task_id="expire_exports", multiple_outputs=False)
def expire_exports(**context: Any) -> dict[str, Any]:
    """Deletes exports older than their audience's `retention_days`: the file, then the entry."""
    from sna.housekeeping import expire_exports as expire
    from sna.housekeeping import retention_plan
    from sna_airflow.connections import airflow_runtime

    config = load_audience_config()
    with airflow_runtime() as runtime:
        store = runtime.store()
        plan = retention_plan(
            config.audiences, store.audiences(), config_complete=not config.problems,
            default_days=int(setting(context["params"], "default_retention_days")),
        )
        for name, why in plan.kept.items():
            log.warning("exports of %s kept: %s", name, why)
        expired = expire(store, plan, datetime.now(UTC))
    log.info("%d expired export(s) deleted", len(expired))
    return {"expired": expired, "kept_audiences": sorted(plan.kept)}


@task(task_id="sweep_staging", multiple_outputs=False)
def sweep_staging(**context: Any) -> dict[str, Any]:
    """Removes what failed runs left under the staging prefix (customer data must not linger)."""
    from sna.housekeeping import sweep_scratch
    from sna_airflow.connections import airflow_runtime

    max_age = timedelta(hours=int(setting(context["params"], "staging_max_age_hours")))
    with airflow_runtime() as runtime:
        store = runtime.store()
        removed = store.sweep_staging(datetime.now(UTC), max_age)
        aborted = store.sweep_abandoned_writes(datetime.now(UTC), max_age)
        scratch = sweep_scratch(runtime.settings.tmp_dir, datetime.now(UTC), max_age)
    log.info("%d stale staging area(s) removed, %d abandoned write(s) removed, %d scratch folder(s) of this "
             "worker removed", len(removed), aborted, len(scratch))
    return {"removed": removed, "aborted_uploads": aborted, "scratch_removed": scratch}


@task(task_id="reconcile", multiple_outputs=False)
def reconcile(**context: Any) -> dict[str, Any]:
    """Reports (and with `repair` deletes) entries without file and files without entry."""
    from sna.housekeeping import reconcile as check
    from sna_airflow.connections import airflow_runtime

    with airflow_runtime() as runtime:
        mismatches = check(runtime.store(), repair=bool(setting(context["params"], "repair")), now=datetime.now(UTC))
    for export_id in mismatches["entries_without_file"]:
        log.warning("export %s: its file is gone%s", export_id, " (entry deleted)" if mismatches["repaired"] else "")
    for key in mismatches["files_without_entry"]:
        log.warning("file %s has no entry%s", key, " (deleted)" if mismatches["repaired"] else "")
    return mismatches


@task(task_id="check_staleness", multiple_outputs=False)
def check_staleness(**context: Any) -> dict[str, Any]:
    """Tells the settings' notifiers (`sna_airflow.alerts`) about every audience of a file whose newest
    export is older than its `stale_after_days`; an alert a day until the audience is fresh again.
    Runs on its own, so that a failure of the other tasks cannot silence it."""
    from sna.housekeeping import stale_audiences
    from sna_airflow.alerts import AlertNotSent, check_notifiers, send_alert, stale_alert
    from sna_airflow.connections import airflow_runtime

    config = load_audience_config()
    now = datetime.now(UTC)
    with airflow_runtime() as runtime:
        check_notifiers(runtime.settings)
        stale = stale_audiences(runtime.store(), config.audiences, now)
        specs = runtime.settings.notifiers
    alerts = [stale_alert(found, f"{DAG_ID_PREFIX}{found.audience}", now) for found in stale]
    for alert in alerts:
        log.warning("%s%s", alert.subject, "" if specs else " (no notifier in the settings: SNA_NOTIFIERS)")
    sent, failures = 0, []
    for alert in alerts:  # every alert is tried, then the task fails if one was not sent
        try:
            sent += send_alert(alert, specs)
        except AlertNotSent as error:
            failures.append(str(error))
    if failures:
        raise AlertNotSent("; ".join(failures))
    return {"stale": [alert.to_dict() for alert in alerts], "notifications": sent}


def housekeeping_dag() -> DAG:
    @dag(
        dag_id=HOUSEKEEPING_DAG_ID,
        description="Expire old exports, sweep failed runs' staging, reconcile files and entries",
        schedule="@daily",
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        tags=["sna", "housekeeping"],
        doc_md=__doc__,
        params=housekeeping_params(),
        default_args=retry_arguments(),
    )
    def housekeeping() -> None:
        chain(expire_exports(), sweep_staging(), reconcile())
        check_staleness()

    return housekeeping()
