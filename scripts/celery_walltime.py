"""Wall time of SNA's DAG runs on CeleryExecutor with one worker against two (issue 14).

Starts the distributed test's stack (tests/fixtures/celery_stack.py: Redis, PostgreSQL, the Airflow
servers, N `airflow celery worker` processes) once per worker count, on three SQLite demo shops,
and times, from the runs' start to their end as Airflow recorded them:
  one   a single audience DAG run (plan, its partitions, join, publish, record; `--partition-size`
        smaller than `--customers` makes it several mapped partition tasks)
  batch `--audiences` audience DAG runs of the three shops triggered at once (0: none)
Prints one JSON object per worker count. Needs the services of `make services` (PostgreSQL).

    .venv/bin/python scripts/celery_walltime.py --workers 1,2 --audiences 20
    .venv/bin/python scripts/celery_walltime.py --workers 1,2 --audiences 0 --customers 20000 --partition-size 5000
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "plugins"), str(ROOT)]

from tests.fixtures.celery_stack import SHOPS, SnaStack, fleet, sna_celery_stack  # noqa: E402


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def timed(stack: SnaStack, dag_ids: list[str]) -> dict[str, Any]:
    """Triggers the DAGs at once; the span from the first run's start to the last one's end, and the
    tasks' mean run time and mean wait (queued to started)."""
    runs = {dag_id: stack.trigger(dag_id) for dag_id in dag_ids}
    finished = stack.finish(runs, timeout=1800)
    failed = sorted(dag_id for dag_id, run in finished.items() if run["state"] != "success")
    if failed:
        raise SystemExit(f"celery_walltime: runs failed: {', '.join(failed)}; see {stack.airflow.home}")
    instances = [ti for dag_id in dag_ids for ti in stack.task_instances(dag_id, runs[dag_id])]
    span = max(_at(r["end_date"]) for r in finished.values()) - min(_at(r["start_date"]) for r in finished.values())
    return {
        "runs": len(dag_ids), "tasks": len(instances), "seconds": round(span.total_seconds(), 1),
        "task_seconds_mean": round(statistics.mean(ti["duration"] for ti in instances), 2),
        "queued_to_start_mean": round(statistics.mean(
            (_at(ti["start_date"]) - _at(ti["queued_when"])).total_seconds() for ti in instances), 2),
        "hostnames": sorted({ti["hostname"] for ti in instances}),
    }


def measure(folder: Path, shops: dict[str | None, str], workers: int, audiences: int, concurrency: int,
            partition_size: int) -> dict[str, Any]:
    names = [f"worker-{chr(ord('a') + i)}" for i in range(workers)]
    audience_files = fleet(audiences + 1)  # the last one alone, then the others at once
    with sna_celery_stack(folder, shops, audience_files, names, concurrency, partition_size=partition_size) as stack:
        dag_ids = [f"sna_{name}" for name in audience_files]
        one = timed(stack, dag_ids[-1:])
        batch = timed(stack, dag_ids[:-1]) if audiences else None
    return {"workers": workers, "concurrency": concurrency, "partition_size": partition_size, "one": one,
            "batch": batch}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="celery_walltime", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", default="1,2", help="worker counts, comma-separated")
    parser.add_argument("--audiences", type=int, default=20, help="audience DAG runs of the batch")
    parser.add_argument("--customers", type=int, default=1000, help="customers of each demo shop")
    parser.add_argument("--concurrency", type=int, default=1, help="task slots of each worker")
    parser.add_argument("--partition-size", type=int, default=50_000, help="customers per partition task")
    args = parser.parse_args(argv)
    from sna_demo import write_demo_shop

    with tempfile.TemporaryDirectory(prefix="sna-celery-walltime-") as folder:
        shops = {}
        for seed, name in enumerate(SHOPS, start=7):
            shops[name] = f"sqlite:///{Path(folder) / (name or 'sna_prestashop')}.db"
            write_demo_shop(shops[name], customers=args.customers, seed=seed)
        for count in (int(n) for n in args.workers.split(",")):
            started = time.perf_counter()
            result = measure(Path(folder) / f"workers-{count}", shops, count, args.audiences, args.concurrency,
                             args.partition_size)
            result["stack_seconds"] = round(time.perf_counter() - started, 1)
            print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
