"""`sna_housekeeping` on the embedded kind of locations (local folder, SQLite registry; no connection)."""

from __future__ import annotations

import hashlib
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.airflow.conftest import META_AUDIENCE, run_dag, task_states, write_audience

pytestmark = pytest.mark.slow


@pytest.fixture
def store(airflow_db, sna_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The export store the housekeeping DAG finds through SNA_STORAGE_URL and SNA_REGISTRY_URL."""
    from sna.exports import ExportStore
    from sna.runtime import create_registry
    from sna.storage import LocalStorage

    write_audience(sna_env, META_AUDIENCE)  # retention_days: 30
    files, registry_url = tmp_path / "files", f"sqlite:///{tmp_path / 'registry.db'}"
    files.mkdir()
    monkeypatch.setenv("SNA_STORAGE_URL", files.as_uri())
    monkeypatch.setenv("SNA_REGISTRY_URL", registry_url)
    registry = create_registry(registry_url)
    yield ExportStore(LocalStorage(files), registry)
    registry.dispose()


def add_export(store, audience: str, age_days: int, *, with_file: bool = True) -> tuple[str, str]:
    from sna.registry import ExportEntry

    created = datetime.now(UTC) - timedelta(days=age_days)
    reference = created.date()
    key = f"{audience}/meta/{audience}_meta_{reference.isoformat()}.csv"
    content = b"email,phone\n"
    if with_file:
        with store.storage.open_writer(key) as writer:
            writer.write(content)
    entry = ExportEntry(
        id=f"{audience}-{age_days}", run_key=f"{audience}/{reference.isoformat()}", audience=audience,
        platform="meta", hashing="none", filters={}, reference_date=reference, created_at=created,
        file_uri=store.storage.uri(key), file_key=key, size=len(content), sha256=hashlib.sha256(content).hexdigest(),
        rows=0, scanned=0,
    )
    store.registry.record(entry)
    return entry.id, key


def put_file(store, key: str, age: timedelta) -> None:
    with store.storage.open_writer(key) as writer:
        writer.write(b"x")
    path = Path(store.storage.uri(key).removeprefix("file://"))
    moment = time.time() - age.total_seconds()
    os.utime(path, (moment, moment))


def test_housekeeping_expires_sweeps_reports_and_repairs_when_asked(store) -> None:
    expired, expired_key = add_export(store, "newsletter_test", age_days=40)
    kept, kept_key = add_export(store, "newsletter_test", age_days=2)
    expired_adhoc, _ = add_export(store, "adhoc", age_days=100)  # no audience file: the default 90 days
    lost, _ = add_export(store, "newsletter_test", age_days=3, with_file=False)
    put_file(store, "stray/meta/stray_meta_2026-01-01.csv", timedelta(hours=3))
    put_file(store, "_staging/newsletter_test/2026-10-01/extract.parquet", timedelta(days=2))
    put_file(store, "_staging/newsletter_test/2026-11-28/extract.parquet", timedelta(minutes=5))

    dag_run, values = run_dag("sna_housekeeping")

    assert dag_run.state == "success", task_states(dag_run)
    assert sorted(values["expire_exports"]["expired"]) == sorted([expired, expired_adhoc])
    assert store.registry.get(expired) is None and store.registry.get(kept) is not None
    assert not store.storage.exists(expired_key) and store.storage.exists(kept_key)
    assert values["sweep_staging"]["removed"] == ["newsletter_test/2026-10-01"]
    assert store.storage.exists("_staging/newsletter_test/2026-11-28/extract.parquet")
    assert values["reconcile"] == {"entries_without_file": [lost], "entries_not_matching_file": [], "stale_latest": [],
                                   "files_without_entry": ["stray/meta/stray_meta_2026-01-01.csv"],
                                   "repaired": False}
    assert store.storage.exists("stray/meta/stray_meta_2026-01-01.csv") and store.registry.get(lost) is not None

    repaired, values = run_dag("sna_housekeeping", conf={"repair": True})

    assert repaired.state == "success"
    assert values["reconcile"]["repaired"] is True
    assert not store.storage.exists("stray/meta/stray_meta_2026-01-01.csv") and store.registry.get(lost) is None
    assert store.registry.get(kept) is not None

