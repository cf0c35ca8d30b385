"""Faults during a rerun: the export already recorded for the run must stay exactly what its entry says.

A first run records a sha256 export; its rerun (plain e-mails) fails at the worst moment: the
registry refuses the record once (the DAG task's retry then succeeds), refuses it for good (the
last try gives up), or the worker is SIGKILLed between publish and record. Whatever happens, every
entry describes its own file (size and SHA-256 checked by reconcile), and the next run converges.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from sna.audience import load_audience
from sna.errors import RegistryError
from sna.exports import ExportStore
from sna.pipeline import ExportJob, ExportPipeline
from sna.registry import Registry
from sna.storage import open_storage
from tests.reliability.faults import assert_consistent
from tests.reliability.test_faults_worker import PROJECT, run_worker_and_kill_it

REFERENCE = date(2026, 11, 2)
AUDIENCE = "name: rerun_fault\nplatform: google\nrequire_complete: false\nhashing: {hashing}\n"


def _block_inserts(registry: Registry) -> None:
    with registry.engine.begin() as connection:
        connection.exec_driver_sql(
            "CREATE TRIGGER block_insert BEFORE INSERT ON sna_exports BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )


def _unblock_inserts(registry: Registry) -> None:
    with registry.engine.begin() as connection:
        connection.exec_driver_sql("DROP TRIGGER block_insert")


def _jobs(tmp_path: Path) -> tuple[Path, ExportJob, Path, ExportJob]:
    hashed, plain = tmp_path / "hashed.yaml", tmp_path / "plain.yaml"
    hashed.write_text(AUDIENCE.format(hashing="sha256"), encoding="utf-8")
    plain.write_text(AUDIENCE.format(hashing="none"), encoding="utf-8")
    return (hashed, ExportJob(load_audience(hashed), REFERENCE), plain, ExportJob(load_audience(plain), REFERENCE))


def _stages_up_to_publish(pipeline: ExportPipeline, job: ExportJob) -> None:
    pipeline.extract(job)
    pipeline.validate(job)
    pipeline.render(job)
    pipeline.publish(job)


@pytest.mark.parametrize("fault", ["record_refused_once", "record_refused_for_good"])
def test_a_rerun_whose_record_fails_leaves_the_recorded_export_intact(
        fault: str, demo_shop_sqlite: str, tmp_path: Path, guarantees) -> None:
    registry = Registry(f"sqlite:///{tmp_path / 'registry.db'}")
    registry.ensure_schema()
    store = ExportStore(open_storage((tmp_path / "exports").as_uri()), registry)
    pipeline = ExportPipeline(sa.create_engine(demo_shop_sqlite), store, project_root=tmp_path, chunk_size=700)
    _hashed_file, hashed, _plain_file, plain = _jobs(tmp_path)
    first = store.get(pipeline.run(hashed).export_id)

    _stages_up_to_publish(pipeline, plain)
    _block_inserts(registry)
    with pytest.raises(RegistryError):
        pipeline.record(plain)
    assert store.get(first.id) == first
    assert_consistent_but_for_the_pending_file(store, first)

    if fault == "record_refused_once":
        _unblock_inserts(registry)
        second = store.get(pipeline.record(plain).export_id)  # the task's retry
        assert second.hashing == "none" and registry.count() == 1
        assert not store.storage.exists(first.file_key), "the replaced file is gone"
    else:
        pipeline.drop_unrecorded_file(plain)  # what the record task does when no retry is left
        pipeline.cleanup(plain)
        assert store.get(first.id) == first and registry.count() == 1
        _unblock_inserts(registry)
    figures = assert_consistent(store)
    rerun = store.get(pipeline.run(plain).export_id)
    assert rerun.hashing == "none" and registry.count() == 1
    assert_consistent(store)
    guarantees.fault(f"rerun whose record is {fault.replace('_', ' ')}", data_lost=0, **figures)


def assert_consistent_but_for_the_pending_file(store: ExportStore, recorded) -> None:
    """The recorded entry still describes its own file, byte for byte; the only other file is the
    rerun's, under a key of its own, waiting for the record's retry."""
    report = store.reconcile(grace=__import__("datetime").timedelta(0), verify_checksums=True)
    assert report.mismatched == [] and report.missing_files == []
    assert len(report.orphan_files) == 1 and report.orphan_files[0] != recorded.file_key


@pytest.mark.timeout(180)
def test_a_rerun_killed_between_publish_and_record_leaves_the_recorded_export_intact(
        demo_shop_sqlite: str, private_s3, tmp_path: Path, guarantees) -> None:
    _server, bucket = private_s3
    registry_url = f"sqlite:///{tmp_path / 'registry.db'}"
    storage_url = f"s3://{bucket}/exports"
    registry = Registry(registry_url)
    registry.ensure_schema()
    store = ExportStore(open_storage(storage_url), registry)
    pipeline = ExportPipeline(sa.create_engine(demo_shop_sqlite), store, project_root=tmp_path, chunk_size=700)
    _hashed_file, hashed, plain_file, plain = _jobs(tmp_path)
    first = store.get(pipeline.run(hashed).export_id)
    environment = {**os.environ, "SNA_SOURCE_URL": demo_shop_sqlite, "SNA_STORAGE_URL": storage_url,
                   "SNA_REGISTRY_URL": registry_url, "PYTHONPATH": f"{PROJECT / 'plugins'}{os.pathsep}{PROJECT}"}

    run_worker_and_kill_it(plain_file, environment, tmp_path / "published.marker", REFERENCE)

    assert store.get(first.id) == first
    assert_consistent_but_for_the_pending_file(store, first)
    rerun = store.get(pipeline.run(plain).export_id)  # reuses the dead worker's key, then records
    assert rerun.hashing == "none" and registry.count() == 1
    figures = assert_consistent(store, pipeline.locks, (plain.run_key,))
    guarantees.fault("rerun SIGKILLed between publish and record", data_lost=0, **figures)
