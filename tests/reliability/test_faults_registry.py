"""Fault: the registry database fails after the upload (a private `mariadbd` holding the registry,
SIGKILLed once the file is published and before its entry is recorded). No file is left without an
entry, no staging stays behind, and the next run, once the registry is back, records the export."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from sna.audience import Audience
from sna.errors import RegistryError, TransientError
from sna.exports import ExportStore
from sna.pipeline import ExportJob, ExportPipeline
from sna.registry import Registry
from sna.storage import open_storage
from tests.reliability.faults import assert_consistent, assert_same_export, one_line, s3_events

REFERENCE = date(2026, 11, 1)


@pytest.mark.timeout(180)
def test_the_registry_fails_after_the_upload(mariadb, demo_shop_sqlite: str, private_s3, tmp_path: Path,
                                             guarantees) -> None:
    _server, bucket = private_s3
    registry_url = mariadb.url(mariadb.create_database())
    registry = Registry(registry_url)
    registry.ensure_schema()
    store = ExportStore(open_storage(f"s3://{bucket}/exports"), registry)
    engine = sa.create_engine(demo_shop_sqlite)
    pipeline = ExportPipeline(engine, store, project_root=tmp_path, chunk_size=1000)
    job = ExportJob(Audience(name="registry_fault", platform="google"), REFERENCE)
    reference = pipeline.preview(job)
    published: list[str] = []

    def kill_registry_once_published(params, **kwargs) -> None:
        if params.get("Key", "").startswith(f"exports/{job.file_prefix}") and mariadb.process is not None:
            published.append(params["Key"])  # publish checks the copied file's size: it is uploaded
            mariadb.kill()

    s3_events(store).register("before-parameter-build.s3.HeadObject", kill_registry_once_published)

    with pytest.raises(RegistryError) as raised:
        pipeline.run(job)

    assert isinstance(raised.value, TransientError)
    one_line(raised.value, names=f"registry {registry_url.split('?')[0]}")
    assert published, "the registry died after the upload"
    s3_events(store).unregister("before-parameter-build.s3.HeadObject", kill_registry_once_published)
    assert not list(store.storage.list(job.file_prefix)), "the file without its entry was removed"
    assert list(store.storage.list()) == [], "no file, no staging"

    mariadb.start()
    assert registry.count() == 0
    stale = pipeline.locks.current(job.run_key)
    assert stale is not None and stale.pid == os.getpid(), "the dead registry could not release the lease"
    figures = assert_consistent(store)
    report = pipeline.run(job)  # takes over the lease the failed run could not release

    lost = assert_same_export(report, reference)
    assert_consistent(store, pipeline.locks, (job.run_key,))
    assert registry.count() == 1
    registry.dispose()
    engine.dispose()
    guarantees.fault("registry database killed between upload and record", data_lost=lost, **figures)
