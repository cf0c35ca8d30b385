"""The tasks of an export DAG: plan, one mapped `partition` task per partition, join, publish, record
(and deliver, for an audience with a `delivery` block).

`plan` cuts the shop into partitions of customer ids and returns their descriptors (id ranges and
staging names); `partition` runs once per descriptor (`expand`), on any worker, and is retried
alone when it fails; `join` finds the duplicates across partitions and joins the parts into the
file. A small audience is one partition: five tasks, as before. Each task rebuilds the run's job and
the engine's parts, calls one `ExportPipeline` stage and returns what the stage returns: counts and
URIs only. Customer data moves between tasks through the run's staging area in the storage,
never through XCom.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from airflow.sdk import Asset, chain, get_current_context, task
from airflow.sdk.exceptions import AirflowSkipException

from sna.errors import PermanentError
from sna_airflow.config import dag_settings
from sna_airflow.context import AudienceOf, export_job, is_dry_run

if TYPE_CHECKING:
    from sna.pipeline import ExportJob, ExportPipeline

# The engine's runtime, locks and registry are imported by the task bodies (in the worker), not here:
# they pull in pandas, pyarrow and boto3, whose import a DAG file's parse must not pay.

log = logging.getLogger(__name__)


def count_table(stats: dict[str, Any], *, dry_run: bool = False) -> str:
    """The counts as a short table for the task log: scanned, exported, then one `reason: count` a line."""
    excluded = {str(k): int(v) for k, v in stats["excluded"].items()}
    lines = ["dry run: no file"] if dry_run else []
    lines += [f"scanned: {stats['scanned']}", f"exported: {stats.get('exported', stats.get('rows'))}",
              f"excluded: {sum(excluded.values())}" + (", by reason:" if excluded else "")]
    lines += [f"  {reason}: {count}" for reason, count in sorted(excluded.items(), key=lambda i: (-i[1], i[0]))]
    return "\n".join(lines)


def _log_counts(stats: dict[str, Any]) -> None:
    log.info("scanned %s, exported %s, excluded %s", stats["scanned"], stats.get("exported", stats.get("rows")),
             stats["excluded"])
    for warning in stats.get("warnings", []):
        log.warning("%s", warning)


@contextmanager
def leased_pipeline(audience_of: AudienceOf, context: Any, *, last: bool = False, namespace: str = ""
                    ) -> Iterator[tuple[ExportPipeline, ExportJob]]:
    """The run's job and a pipeline on Airflow's connections, under the run's lease, for one task."""
    from sna.locks import Holder
    from sna.registry.access import Actor
    from sna_airflow.connections import airflow_runtime

    job = export_job(audience_of, context, namespace)
    with airflow_runtime() as runtime:
        runtime.actor = Actor(f"{context['dag_run'].dag_id}/{context['run_id']}", "dag")
        pipeline = runtime.pipeline()
        dag_id = context["dag_run"].dag_id
        holder = Holder(owner=f"airflow:{dag_id}:{context['run_id']}", series=f"airflow:{dag_id}")
        with pipeline.leased(job, holder, retried=True, last=last):  # the policy of a retried task
            yield pipeline, job


def partition_label(descriptor: dict[str, Any]) -> str:
    """How the UI names a mapped partition task: its customer ids."""
    first, last = descriptor.get("first_id"), descriptor.get("last_id")
    if first is None and last is None:
        return "every customer"
    return f"customers {first if first is not None else 'first'} to {last if last is not None else 'last'}"


def partition_limits() -> dict[str, Any]:
    """At most `partition_tasks` partitions of one run at once, in the Airflow pool `partition_pool`
    when one is set (settings, read at parse time: no database call)."""
    settings = dag_settings()
    limits: dict[str, Any] = {"max_active_tis_per_dagrun": settings.partition_tasks}
    if settings.partition_pool:
        limits["pool"] = settings.partition_pool
    return limits


def add_export_tasks(audience_of: AudienceOf, outlet: Asset | None = None, namespace: str = "",
                     deliver: bool = False) -> None:
    """Adds the tasks, in order, to the DAG being defined (`namespace`: see `ExportJob`): plan, the
    mapped partitions, join, publish, record, and `deliver` for an audience with a `delivery` block."""

    @task(task_id="plan", multiple_outputs=False)
    def plan(**context: Any) -> list[dict[str, Any]]:
        """The partitions of this run, as descriptors for the mapped `partition` tasks."""
        with leased_pipeline(audience_of, context, namespace=namespace) as (pipeline, job):
            planned = pipeline.plan(job)
        log.info("%s customers to read in %s partition(s)", planned.counted, len(planned.partitions))
        return planned.descriptors()

    @task(task_id="partition", multiple_outputs=False, map_index_template="{{ partition_label }}",
          **partition_limits())
    def partition(descriptor: dict[str, Any], **context: Any) -> dict[str, Any] | None:
        """One partition read, selected and rendered to its part (a dry run: counts only)."""
        get_current_context()["partition_label"] = partition_label(descriptor)  # the map index's name
        with leased_pipeline(audience_of, context, namespace=namespace) as (pipeline, job):
            summary = pipeline.export_partition(job, int(descriptor["index"]), render=not is_dry_run(context))
        return summary.to_json() if summary is not None else None

    @task(task_id="join", multiple_outputs=False)
    def join(**context: Any) -> dict[str, Any]:
        """The duplicates across partitions, the counts (logged as a table) and the file from the
        parts; a dry run stops here, removes its staging and records its counts (no file)."""
        from sna.handoffs import SelectionStats

        dry_run = is_dry_run(context)
        with leased_pipeline(audience_of, context, last=dry_run, namespace=namespace) as (pipeline, job):
            stats = pipeline.join(job, render=not dry_run).to_json()
            if dry_run:
                pipeline.cleanup(job)
                pipeline.record_dry_run(job, SelectionStats.from_json(stats))  # shown on the "Audience exports" page, counts only
        log.info("counts of %s for %s:\n%s", job.audience_id, job.reference_date, count_table(stats, dry_run=dry_run))
        for warning in stats.get("warnings", []):
            log.warning("%s", warning)
        return {**stats, "dry_run": dry_run}

    @task(task_id="publish", multiple_outputs=False)
    def publish(**context: Any) -> dict[str, Any]:
        if is_dry_run(context):
            raise AirflowSkipException("dry run: counts only, no file")
        with leased_pipeline(audience_of, context, namespace=namespace) as (pipeline, job):
            return pipeline.publish(job).to_json()

    @task(task_id="record", multiple_outputs=False, outlets=[outlet] if outlet is not None else [])
    def record(**context: Any) -> dict[str, Any]:
        """Records the entry, removes the staging and announces the fresh audience (Asset event).
        The published file stays for a retry; when no retry is left it is deleted (no file without
        its entry), and the entry of an earlier run stays as it was, with its own file."""
        with leased_pipeline(audience_of, context, last=not deliver, namespace=namespace) as (pipeline, job):
            try:
                report = pipeline.record(job)
            except Exception as error:
                ti = context["ti"]
                if isinstance(error, PermanentError) or ti.try_number > ti.max_tries:
                    pipeline.drop_unrecorded_file(job)
                raise
        _log_counts(report.to_dict())
        log.info("export %s: %s rows in %s", report.export_id, report.rows, report.file)
        if outlet is not None:
            context["outlet_events"][outlet].extra = {
                "export_id": report.export_id, "rows": report.rows, "file": report.file,
            }
        return report.to_dict()

    @task(task_id="deliver", multiple_outputs=False)
    def deliver_task(**context: Any) -> dict[str, Any]:
        """Sends the recorded export's changes to the platform (`sna.delivery.sync`); a retry or a
        rerun recomputes from the last delivered set, so nothing is sent twice or lost."""
        with leased_pipeline(audience_of, context, last=True, namespace=namespace) as (pipeline, job):
            report = pipeline.deliver(job)
        log.info("delivered to %s (%s): %s added, %s removed, %s invalid, %s requests", report.destination,
                 report.mode, report.added, report.removed, report.invalid, report.requests)
        return report.to_dict()

    descriptors = plan()
    tasks = [descriptors, partition.expand(descriptor=descriptors), join(), publish(), record()]
    if deliver:
        tasks.append(deliver_task())
    chain(*tasks)
