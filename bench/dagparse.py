"""Parse time of `dags/sna_audiences.py` with many audience files (what the DAG processor pays).

Runs in a child: Airflow's SDK is imported first (the DAG processor has it loaded), then the DAG
file is executed the way the processor imports it; the cold figure includes importing Airflow.
One broken file lies among the audiences: every valid one must still have its DAG.
"""

from __future__ import annotations

import os
import runpy
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.measure import ROOT

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


def write_audiences(folder: Path, count: int) -> None:
    for i in range(count):
        (folder / f"bench_{i:04d}.yaml").write_text(TEMPLATE.format(
            i=i, platform=("google", "meta")[i % 2], hashing=("none", "sha256")[i % 3 == 0],
            complete=str(i % 4 != 0).lower(), consent=("any", "newsletter", "optin")[i % 3], orders=i % 3))
    (folder / "bench_broken.yaml").write_text(BROKEN)


def parse(count: int = 200) -> dict[str, Any]:
    """Run in the child: write `count` audiences, import Airflow, execute the DAG file, count DAGs."""
    cold_started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="sna-bench-audiences-") as folder:
        write_audiences(Path(folder), count)
        os.environ["SNA_AUDIENCES_DIR"] = folder
        import airflow.sdk  # noqa: F401 - loaded before timing, as in the DAG processor
        warm_started = time.perf_counter()
        namespace = runpy.run_path(str(ROOT / "dags" / "sna_audiences.py"))
        seconds = time.perf_counter() - warm_started
    dags = [name for name, value in namespace.items() if type(value).__name__ == "DAG"]
    audience_dags = sum(name.startswith("sna_bench_") for name in dags)
    if audience_dags != count:
        raise RuntimeError(f"DAG parse: {audience_dags} audience DAGs for {count} valid files")
    return {"seconds": round(seconds, 3), "cold_seconds": round(time.perf_counter() - cold_started, 3),
            "audiences": count, "dags": len(dags)}
