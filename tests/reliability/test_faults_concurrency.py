"""Fault: two runs of the same audience and date at once. One is refused with a one-line error (or
they are serialized), never two files or two entries for one run: deterministically between two
pipelines, with two real `sna run` processes started together, and between `sna run` and a DAG run."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from sna.audience import Audience
from sna.errors import PermanentError
from sna.exports import ExportStore
from sna.locks import Holder, RunInProgressError, RunLocks
from sna.pipeline import ExportJob, ExportPipeline
from sna.registry import Registry
from sna.storage import LocalStorage, open_storage
from tests.airflow.conftest import GOOGLE_AUDIENCE, run_dag, task_states, write_audience
from tests.reliability.conftest import PROJECT
from tests.reliability.faults import assert_consistent, one_line, s3_events

REFERENCE = date(2026, 11, 1)


@pytest.mark.timeout(120)
def test_a_second_run_while_the_first_is_between_upload_and_record_is_refused(demo_shop_sqlite: str, private_s3,
                                                                               tmp_path: Path, guarantees) -> None:
    _server, bucket = private_s3
    registry_url = f"sqlite:///{tmp_path / 'registry.db'}"
    Registry(registry_url).ensure_schema()
    engine = sa.create_engine(demo_shop_sqlite)

    def pipeline() -> ExportPipeline:
        store = ExportStore(open_storage(f"s3://{bucket}/exports"), Registry(registry_url))
        return ExportPipeline(engine, store, project_root=tmp_path, chunk_size=1000)

    first, second = pipeline(), pipeline()
    job = ExportJob(Audience(name="twice", platform="google"), REFERENCE)
    published, refused = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def hold_after_upload(params, **_kwargs) -> None:
        if params.get("Key", "").startswith(f"exports/{job.file_prefix}") and not published.is_set():
            published.set()
            refused.wait(timeout=60)

    s3_events(first.store).register("before-parameter-build.s3.HeadObject", hold_after_upload)
    runner = threading.Thread(target=lambda: outcome.update(first=first.run(job)))
    runner.start()
    assert published.wait(timeout=60)

    with pytest.raises(RunInProgressError) as raised:
        second.run(job)
    refused.set()
    runner.join(timeout=60)

    assert isinstance(raised.value, PermanentError)
    one_line(raised.value, names="run twice/2026-11-01 is already in progress")
    assert outcome["first"].export_id, "the first run completed"
    figures = assert_consistent(first.store, first.locks, (job.run_key,))
    assert first.store.registry.count() == 1
    engine.dispose()
    guarantees.fault("two runs of one audience at once (in process)", refused=1, **figures)


@pytest.mark.timeout(180)
def test_two_sna_run_processes_started_together_leave_one_file_and_one_entry(demo_shop_sqlite: str,
                                                                             tmp_path: Path, guarantees) -> None:
    audience = tmp_path / "together.yaml"
    audience.write_text("name: together\nplatform: meta\nrequire_complete: false\n", encoding="utf-8")
    registry_url = f"sqlite:///{tmp_path / 'registry.db'}"
    exports = tmp_path / "exports"
    environment = {**os.environ, "SNA_SOURCE_URL": demo_shop_sqlite, "SNA_STORAGE_URL": exports.as_uri(),
                   "SNA_REGISTRY_URL": registry_url, "PYTHONPATH": f"{PROJECT / 'plugins'}{os.pathsep}{PROJECT}"}
    command = [sys.executable, "-m", "sna", "run", str(audience), "--reference-date", REFERENCE.isoformat()]
    Registry(registry_url).ensure_schema()  # both processes find the tables; they race for the lease only

    processes = [subprocess.Popen(command, cwd=PROJECT, env=environment, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE) for _ in range(2)]
    results = [(p.wait(timeout=150), *(stream.decode() for stream in p.communicate())) for p in processes]

    statuses = sorted(status for status, _out, _err in results)
    assert statuses in ([0, 0], [0, 1]), results
    for status, _out, err in results:
        if status == 1:
            assert err.strip() == "" or err.strip().count("\n") == 0, err
            assert "run together/2026-11-01 is already in progress" in err
    registry = Registry(registry_url)
    store = ExportStore(LocalStorage(exports), registry)
    figures = assert_consistent(store, RunLocks(registry.engine), ("together/2026-11-01",))
    assert registry.count() == 1
    registry.dispose()
    guarantees.fault("two sna run processes at once", refused=statuses.count(1), serialized=int(statuses == [0, 0]),
                     **figures)


DAY = datetime(2026, 11, 2, tzinfo=UTC)


@pytest.mark.timeout(240)
def test_a_dag_run_is_refused_while_sna_run_holds_the_run_and_takes_over_once_it_died(
        airflow_db, production_connections, boto3_s3_client, guarantees) -> None:
    write_audience(production_connections["audiences"], GOOGLE_AUDIENCE)
    bucket = production_connections["bucket"]
    locks = RunLocks(sa.create_engine(production_connections["registry_url"]))
    Registry(locks.engine).ensure_schema()
    cli = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])  # a live `sna run`
    try:
        locks.acquire("vip_test/2026-11-02", Holder(owner="sna-run:cli-elsewhere", pid=cli.pid))

        started = datetime.now(UTC)
        refused, _ = run_dag("sna_vip_test", DAY)

        assert refused.state == "failed"
        assert task_states(refused) == {"plan": "failed", "partition": "upstream_failed",
                                        "join": "upstream_failed", "publish": "upstream_failed",
                                        "record": "upstream_failed"}
        assert datetime.now(UTC) - started < timedelta(minutes=1), "refused at once, not retried"
        assert boto3_s3_client.list_objects_v2(Bucket=bucket).get("Contents") is None, "nothing written"
        assert locks.current("vip_test/2026-11-02").owner == "sna-run:cli-elsewhere", "the holder keeps its run"
    finally:
        cli.kill()
        cli.wait(timeout=30)

    dag_run, values = run_dag("sna_vip_test", DAY)  # the holder died: its lease is taken over

    assert dag_run.state == "success", task_states(dag_run)
    keys = [item["Key"] for item in boto3_s3_client.list_objects_v2(Bucket=bucket).get("Contents", [])
            if not item["Key"].endswith("/latest.csv")]
    assert keys == [f"exports/vip_test/google/vip_test_google_2026-11-02_{values['record']['export_id']}.csv"]
    assert Registry(locks.engine).count() == 1 and values["record"]["export_id"]
    assert locks.current("vip_test/2026-11-02") is None, "released after record"
    locks.engine.dispose()
    guarantees.fault("DAG run while sna run holds the same run", refused=1, orphans=0, duplicates=0, data_lost=0)
