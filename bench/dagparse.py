"""Parse time of the audience DAG files with many audience files (what the DAG processor pays).

The audience DAGs are spread over several DAG files (`dags/sna_audiences*.py`, one per shard), which
the DAG processor parses each in a process of its own, in parallel (`[dag_processor]
parsing_processes`). So each file is parsed here in a child of its own, one after the other: the
figure per file (the slowest one is checked against the target) and their total (the CPU a parse
of every file costs, what one process would pay) are both reported. In each child Airflow's SDK
is imported first (the DAG processor has it loaded), then the DAG file is executed the way the
processor imports it; the cold figure includes importing Airflow. One broken file lies among the
audiences: every valid one must still have its DAG, in exactly one file.

Not in the figure: the DAG processor then serializes every DAG it parsed (`DagSerialization`);
its cost per DAG is measured on a sample and reported apart (`serialize_ms_per_dag`).
"""

from __future__ import annotations

import os
import runpy
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.measure import ROOT, run_child

BROKEN = "name: bench_broken\nplatform: tiktok\n"
TEMPLATE = """name: bench_{i:04d}
description: Benchmark audience {i}
platform: {platform}
hashing: {hashing}
require_complete: {complete}
schedule: "@daily"
filters:
  consent: {consent}
  exclude_email_domains: ["marketplace.amazon.*", members.ebay.com]
  min_valid_orders: {orders}
retention_days: 30
"""
SERIALIZED_SAMPLE = 20


def dag_files() -> list[Path]:
    return sorted((ROOT / "dags").glob("sna_audiences*.py"))


def write_audiences(folder: Path, count: int) -> None:
    for i in range(count):
        (folder / f"bench_{i:04d}.yaml").write_text(TEMPLATE.format(
            i=i, platform=("google", "meta")[i % 2], hashing=("none", "sha256")[i % 3 == 0],
            complete=str(i % 4 != 0).lower(), consent=("any", "newsletter", "optin")[i % 3], orders=i % 3))
    (folder / "bench_broken.yaml").write_text(BROKEN)


def parse_file(folder: str, file: str) -> dict[str, Any]:
    """Run in the child: import Airflow, execute one DAG file on the audiences of `folder`, count its DAGs."""
    cold_started = time.perf_counter()
    os.environ["SNA_AUDIENCES_DIR"] = folder
    import airflow.sdk  # noqa: F401 - loaded before timing, as in the DAG processor
    warm_started, cpu_started = time.perf_counter(), time.process_time()
    namespace = runpy.run_path(file)
    seconds, cpu_seconds = time.perf_counter() - warm_started, time.process_time() - cpu_started
    cold_seconds = time.perf_counter() - cold_started
    dags = [value for name, value in namespace.items() if type(value).__name__ == "DAG"]
    audience_dags = [dag.dag_id for dag in dags if dag.dag_id.startswith("sna_bench_")]
    serialize_ms = None
    if audience_dags:
        from airflow.serialization.serialized_objects import DagSerialization

        sample = [dag for dag in dags if dag.dag_id.startswith("sna_bench_")][:SERIALIZED_SAMPLE]
        started = time.perf_counter()
        for dag in sample:
            DagSerialization.to_dict(dag)
        serialize_ms = round(1000 * (time.perf_counter() - started) / len(sample), 1)
    return {"file": Path(file).name, "seconds": round(seconds, 3), "cpu_seconds": round(cpu_seconds, 3),
            "cold_seconds": round(cold_seconds, 3), "dags": len(dags), "audience_dag_ids": audience_dags,
            "serialize_ms_per_dag": serialize_ms}


def parse(count: int = 200) -> dict[str, Any]:
    """Run in the parent: write `count` audiences, parse every audience DAG file in a child of its own."""
    with tempfile.TemporaryDirectory(prefix="sna-bench-audiences-") as folder:
        write_audiences(Path(folder), count)
        files = [run_child("dagparse", {"folder": folder, "file": str(path)}) for path in dag_files()]
    owned = [dag_id for result in files for dag_id in result.pop("audience_dag_ids")]
    if len(owned) != count or len(set(owned)) != count:
        raise RuntimeError(f"DAG parse: {len(owned)} audience DAGs ({len(set(owned))} distinct) for {count} valid files")
    samples = [f["serialize_ms_per_dag"] for f in files if f["serialize_ms_per_dag"] is not None]
    return {"seconds": max(f["seconds"] for f in files), "total_seconds": round(sum(f["seconds"] for f in files), 3),
            "cpu_seconds": round(sum(f["cpu_seconds"] for f in files), 3),
            "cold_seconds": max(f["cold_seconds"] for f in files), "audiences": count,
            "dags": sum(f["dags"] for f in files), "files": files,
            "peak_mb": max(f["peak_mb"] for f in files), "rss_peaks_mb": max(f["rss_peaks_mb"] for f in files),
            "serialize_ms_per_dag": round(sum(samples) / len(samples), 1) if samples else None}
