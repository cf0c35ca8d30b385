"""`sna run` as a separate process that stops between upload and record, for a test to SIGKILL it.

Usage: python -m tests.reliability.worker AUDIENCE.yaml REFERENCE_DATE MARKER_FILE
Locations come from SNA_SOURCE_URL, SNA_STORAGE_URL (S3), SNA_REGISTRY_URL, as for `sna run`. Once
the published file is on S3 (publish checks its size), the worker writes its pid to MARKER_FILE and
waits to be killed.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import date
from pathlib import Path

from sna.audience import load_audience
from sna.pipeline import ExportJob
from sna.runtime import Runtime


def main(audience_file: str, reference: str, marker: str) -> None:
    runtime = Runtime.from_flags()
    job = ExportJob(load_audience(audience_file), date.fromisoformat(reference))
    storage = runtime.storage

    def wait_to_be_killed(params, **_kwargs) -> None:
        if params.get("Key", "").startswith(storage.prefix + job.file_prefix):
            Path(marker).write_text(str(os.getpid()))
            time.sleep(600)

    storage.client.meta.events.register("before-parameter-build.s3.HeadObject", wait_to_be_killed)
    runtime.pipeline().run(job)
    raise SystemExit("the worker was not killed")


if __name__ == "__main__":
    main(*sys.argv[1:4])
