"""Fault: the S3 server dies in the middle of a multipart upload (a private SeaweedFS, SIGKILLed once
the parts are sent and before the upload is completed), while staging the file and while publishing
it. No partial object and no entry remain; the upload the writer could not abort is aborted by
housekeeping; the next run succeeds."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from sna.audience import Audience
from sna.errors import StorageError
from sna.exports import ExportStore
from sna.pipeline import ExportJob, ExportPipeline
from sna.registry import Registry
from sna.storage import open_storage
from tests.reliability.faults import (
    assert_consistent,
    assert_same_export,
    incomplete_uploads,
    one_line,
    s3_events,
)

REFERENCE = date(2026, 11, 1)
MULTIPART_EVERYTHING = 1024  # every upload and copy above 1 KiB goes through multipart


@pytest.mark.timeout(180)
@pytest.mark.parametrize("stage, key_suffix", [("render", "_staging/meta_fault/2026-11-01/audience.csv"),
                                               ("publish", "meta_fault/meta/meta_fault_meta_2026-11-01_")])
def test_s3_dies_in_the_middle_of_a_multipart_upload(stage: str, key_suffix: str, demo_shop_sqlite: str,
                                                      private_s3, tmp_path: Path, guarantees) -> None:
    server, bucket = private_s3
    registry = Registry(f"sqlite:///{tmp_path / 'registry.db'}")
    registry.ensure_schema()
    store = ExportStore(open_storage(f"s3://{bucket}/exports", multipart_threshold=MULTIPART_EVERYTHING), registry)
    engine = sa.create_engine(demo_shop_sqlite)
    pipeline = ExportPipeline(engine, store, project_root=tmp_path, chunk_size=1000)
    job = ExportJob(Audience(name="meta_fault", platform="meta", value="total_spent"), REFERENCE)
    reference = pipeline.preview(job)
    calls: list[str] = []

    def kill_before_completion(params, **kwargs) -> None:
        calls.append(kwargs["event_name"].rsplit(".", 1)[-1])
        if kwargs["event_name"].endswith("CompleteMultipartUpload") and params["Key"].startswith(f"exports/{key_suffix}"):
            server.stop(kill=True)

    s3_events(store).register("before-parameter-build.s3.*", kill_before_completion)

    with pytest.raises(StorageError) as raised:
        pipeline.run(job)

    one_line(raised.value, names=f"s3://{bucket}/exports (endpoint {server.endpoint_url})")
    assert "UploadPartCopy" in calls if stage == "publish" else "UploadPart" in calls
    assert "AbortMultipartUpload" in calls, "the writer tried to abort its upload"
    s3_events(store).unregister("before-parameter-build.s3.*", kill_before_completion)
    server.start()
    assert not list(store.storage.list(job.file_prefix)), "no partial object"
    assert registry.count() == 0, "no entry"
    assert pipeline.locks.current(job.run_key) is None
    left_uploads = incomplete_uploads(store)
    assert left_uploads == 1, "the dead server could not be told to abort"

    later = datetime.now(UTC) + timedelta(hours=25)
    assert store.sweep_abandoned_writes(datetime.now(UTC)) == 0, "a young upload may be a live run's"
    assert store.sweep_abandoned_writes(later) == 1
    store.sweep_staging(later)
    figures = assert_consistent(store, pipeline.locks, (job.run_key,))

    report = pipeline.run(job)

    lost = assert_same_export(report, reference)
    assert_consistent(store, pipeline.locks, (job.run_key,))
    assert registry.count() == 1
    engine.dispose()
    guarantees.fault(f"S3 killed mid multipart upload ({stage})", uploads_aborted_by_housekeeping=left_uploads,
                     data_lost=lost, **figures)
