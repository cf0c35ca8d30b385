"""The product: one audience exported by `ExportPipeline.run` (`sna run`: partitions on a pool of
one worker per core, then publish and record), against the bench shop and the S3 server. The
workers are grandchildren of the measuring process (a fork server's children): the parent samples
the whole tree's memory (bench/measure.py); `workers_peak_mb` (`workers x` the highest worker
VmHWM, as the workers report it) is kept beside it for reference."""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.shop import AS_OF
from sna.audience import Audience
from sna.partitions import WORKERS_PEAK
from sna.pipeline import ExportJob
from sna.runtime import Runtime
from sna.settings import Locations, Settings, project_root

AUDIENCES = {
    "google": {"name": "bench_google", "platform": "google", "hashing": "none", "require_complete": False},
    "meta": {"name": "bench_meta", "platform": "meta", "hashing": "none", "require_complete": False,
             "value": "total_spent"},
}


def export(source_url: str, storage_url: str, platform: str, chunk_size: int = 50_000,
           source_reader: str = "arrow") -> dict[str, Any]:
    """`source_reader` `arrow` by default: the benchmark fails rather than measure a silent fallback."""
    audience = Audience.model_validate(AUDIENCES[platform])
    with tempfile.TemporaryDirectory(prefix="sna-bench-registry-") as folder:
        locations = Locations(source_url=source_url, storage_url=storage_url,
                              registry_url=f"sqlite:///{Path(folder) / 'registry.db'}")
        runtime = Runtime(locations, Settings(chunk_size=chunk_size, source_reader=source_reader), project_root())
        try:
            pipeline = runtime.pipeline()
            started = time.perf_counter()
            report = pipeline.run(ExportJob(audience, AS_OF - dt.timedelta(days=1)))
            seconds = time.perf_counter() - started
        finally:
            runtime.close()
    return {"seconds": round(seconds, 3), "scanned": report.scanned, "rows": report.rows, "size": report.size,
            "reader": source_reader, "workers": WORKERS_PEAK["workers"],
            "workers_peak_mb": round(WORKERS_PEAK["workers"] * WORKERS_PEAK["kb"] / 1024, 1)}
