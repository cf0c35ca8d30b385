"""Fault: the worker is killed (SIGKILL) between upload and record. A real `sna run` process is
stopped once its file is published and killed there: the file has no entry, the staging and the
run's lease stay behind. Either the next run repairs it (it takes over the dead worker's lease and
records the same file) or housekeeping does (the orphan file and the staging are removed)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from sna.audience import load_audience
from sna.exports import ExportStore
from sna.housekeeping import reconcile
from sna.pipeline import ExportJob, ExportPipeline
from sna.registry import Registry
from sna.storage import open_storage
from tests.reliability.conftest import PROJECT
from tests.reliability.faults import assert_consistent, assert_same_export

REFERENCE = date(2026, 11, 1)
AUDIENCE = "name: killed_worker\nplatform: meta\nrequire_complete: false\n"


def run_worker_and_kill_it(audience: Path, environment: dict[str, str], marker: Path,
                           reference: date = REFERENCE) -> None:
    worker = subprocess.Popen(
        [sys.executable, "-m", "tests.reliability.worker", str(audience), reference.isoformat(), str(marker)],
        cwd=PROJECT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 90
    while not marker.exists():
        if worker.poll() is not None or time.monotonic() > deadline:
            worker.kill()
            pytest.fail(f"the worker never reached the point between upload and record:\n"
                        f"{worker.communicate()[0].decode(errors='replace')[-3000:]}")
        time.sleep(0.05)
    os.kill(worker.pid, signal.SIGKILL)
    assert worker.wait(timeout=30) == -signal.SIGKILL


@pytest.mark.timeout(180)
@pytest.mark.parametrize("repair", ["next_run", "housekeeping"])
def test_a_worker_killed_between_upload_and_record_is_repaired(repair: str, demo_shop_sqlite: str, private_s3,
                                                               tmp_path: Path, guarantees) -> None:
    _server, bucket = private_s3
    registry_url = f"sqlite:///{tmp_path / 'registry.db'}"
    storage_url = f"s3://{bucket}/exports"
    registry = Registry(registry_url)
    registry.ensure_schema()
    store = ExportStore(open_storage(storage_url), registry)
    engine = sa.create_engine(demo_shop_sqlite)
    pipeline = ExportPipeline(engine, store, project_root=tmp_path, chunk_size=1000)
    audience_file = tmp_path / "killed_worker.yaml"
    audience_file.write_text(AUDIENCE, encoding="utf-8")
    job = ExportJob(load_audience(audience_file), REFERENCE)
    reference = pipeline.preview(job)
    environment = {**os.environ, "SNA_SOURCE_URL": demo_shop_sqlite, "SNA_STORAGE_URL": storage_url,
                   "SNA_REGISTRY_URL": registry_url, "PYTHONPATH": f"{PROJECT / 'plugins'}{os.pathsep}{PROJECT}"}

    run_worker_and_kill_it(audience_file, environment, tmp_path / "published.marker")

    published = [info.key for info in store.storage.list(job.file_prefix)]
    assert len(published) == 1 and registry.count() == 0, "killed between upload and record"
    assert [info.key for info in store.storage.list("_staging/")], "its staging stayed behind"
    lease = pipeline.locks.current(job.run_key)
    assert lease is not None and lease.pid is not None, "its lease stayed behind"
    orphans_found = 1

    if repair == "housekeeping":
        later = datetime.now(UTC) + timedelta(hours=25)
        found = reconcile(store, repair=True, now=later)
        assert found["files_without_entry"] == published
        assert store.sweep_staging(later) == [job.run_key]
        store.sweep_abandoned_writes(later)
        assert_consistent(store)
        assert not store.storage.exists(published[0])

    report = pipeline.run(job)  # the dead worker's lease is taken over

    lost = assert_same_export(report, reference)
    figures = assert_consistent(store, pipeline.locks, (job.run_key,))
    assert registry.count() == 1
    engine.dispose()
    guarantees.fault(f"worker SIGKILLed between upload and record, repaired by {repair.replace('_', ' ')}",
                     orphans_found_and_repaired=orphans_found, data_lost=lost, **figures)
