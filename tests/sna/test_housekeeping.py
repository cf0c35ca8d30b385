"""Housekeeping rules: which staging is stale, which retention applies."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sna.audience import Audience
from sna.exports import ExportStore
from sna.housekeeping import retention_plan, summary
from sna.registry import Registry
from sna.storage import LocalStorage


@pytest.fixture
def store_on(tmp_path_factory: pytest.TempPathFactory):
    """An ExportStore on a given storage, its registry kept outside that storage's folder."""
    registries: list[Registry] = []

    def make(storage: LocalStorage) -> ExportStore:
        registries.append(Registry(f"sqlite:///{tmp_path_factory.mktemp('registry') / 'registry.db'}"))
        return ExportStore(storage, registries[-1])

    yield make
    for registry in registries:
        registry.dispose()


def put(storage: LocalStorage, root: Path, key: str, age: timedelta) -> None:
    with storage.open_writer(key) as writer:
        writer.write(b"x")
    moment = time.time() - age.total_seconds()
    os.utime(root / key, (moment, moment))


def test_staging_is_swept_per_run_when_its_newest_file_is_old(tmp_path: Path, store_on) -> None:
    storage = LocalStorage(tmp_path)
    put(storage, tmp_path, "_staging/a/2026-01-01/extract.parquet", timedelta(days=3))
    put(storage, tmp_path, "_staging/a/2026-01-01/keep.npy", timedelta(days=2))
    put(storage, tmp_path, "_staging/b/2026-01-02/extract.parquet", timedelta(days=3))
    put(storage, tmp_path, "_staging/b/2026-01-02/validate.json", timedelta(minutes=10))  # a run in progress
    put(storage, tmp_path, "_staging/stray.json", timedelta(days=5))
    put(storage, tmp_path, "a/google/a_google_2026-01-01.csv", timedelta(days=30))  # exports are not staging

    removed = store_on(storage).sweep_staging(datetime.now(UTC), max_age=timedelta(hours=24))

    assert removed == ["a/2026-01-01", "stray.json"]
    assert sorted(info.key for info in storage.list()) == [
        "_staging/b/2026-01-02/extract.parquet", "_staging/b/2026-01-02/validate.json",
        "a/google/a_google_2026-01-01.csv"]


def test_retention_of_audiences_without_a_file_waits_for_a_complete_configuration() -> None:
    audience = Audience(name="a", platform="google", retention_days=7)

    complete = retention_plan([audience], ["a", "adhoc"], config_complete=True, default_days=90)
    broken = retention_plan([audience], ["a", "adhoc"], config_complete=False, default_days=90)

    assert complete.days == {"a": 7, "adhoc": 90} and complete.kept == {}
    assert broken.days == {"a": 7} and list(broken.kept) == ["adhoc"]


def test_a_storage_folder_holding_the_registry_or_the_shop_is_refused(tmp_path) -> None:
    from sna.errors import ConfigError
    from sna.runtime import refuse_shared_folder
    from sna.settings import Locations

    folder = tmp_path / "everything"
    shared = [
        Locations(f"sqlite:///{tmp_path / 'shop.db'}", folder.as_uri(), f"sqlite:///{folder / 'registry.db'}"),
        Locations(f"sqlite:///{folder / 'sub' / 'shop.db'}", folder.as_uri(), f"sqlite:///{tmp_path / 'r.db'}"),
    ]
    for locations in shared:
        with pytest.raises(ConfigError, match="give the exports a folder of their own"):
            refuse_shared_folder(locations)
    refuse_shared_folder(Locations(f"sqlite:///{tmp_path / 'shop.db'}", folder.as_uri(),
                                   f"sqlite:///{tmp_path / 'registry.db'}"))


def test_crash_leftovers_with_customer_data_are_swept_after_the_grace_period(tmp_path, store_on) -> None:
    """A writer SIGKILLed mid-write leaves `.<name>.tmp-*` (hidden from `list`) and a scratch folder
    `sna-*` in tmp_dir: both hold rows, both are removed once older than the grace period."""
    from sna.housekeeping import sweep_scratch

    storage = LocalStorage(tmp_path / "exports")
    folder = tmp_path / "exports" / "vip" / "google"
    folder.mkdir(parents=True)
    old_temp = folder / ".vip_google_2026-11-01_x.csv.tmp-abc123"
    young_temp = folder / ".vip_google_2026-11-02_y.csv.tmp-def456"
    for path in (old_temp, young_temp):
        path.write_text("email\njane@example.com\n")
    scratch = tmp_path / "scratch"
    old_scratch, young_scratch = scratch / "sna-old1", scratch / "sna-young1"
    for path in (old_scratch, young_scratch):
        path.mkdir(parents=True)
        (path / "extract.parquet").write_bytes(b"rows")
    (scratch / "other-tool").mkdir()
    now = datetime.now(UTC)
    two_days_ago = time.time() - 2 * 86400
    for path in (old_temp, old_scratch / "extract.parquet", old_scratch):
        os.utime(path, (two_days_ago, two_days_ago))

    assert store_on(storage).sweep_abandoned_writes(now) == 1
    assert sweep_scratch(str(scratch), now) == ["sna-old1"]

    assert not old_temp.exists() and young_temp.exists()
    assert not old_scratch.exists() and young_scratch.exists() and (scratch / "other-tool").exists()


def test_a_dry_run_sweep_reports_the_same_areas_and_removes_nothing(tmp_path: Path, store_on) -> None:
    storage = LocalStorage(tmp_path)
    store = store_on(storage)
    put(storage, tmp_path, "_staging/a/2026-01-01/extract.parquet", timedelta(days=3))
    put(storage, tmp_path, "_staging/b/2026-01-02/validate.json", timedelta(minutes=10))
    before = sorted(info.key for info in storage.list())

    assert store.sweep_staging(datetime.now(UTC), dry_run=True) == ["a/2026-01-01"]
    assert sorted(info.key for info in storage.list()) == before
    assert store.sweep_abandoned_writes(datetime.now(UTC), dry_run=True) == 0  # a folder has no uploads
    assert store.sweep_staging(datetime.now(UTC)) == ["a/2026-01-01"]


def test_summary_says_what_a_dry_run_would_do() -> None:
    mismatches = {"entries_without_file": ["e1"], "files_without_entry": [], "repaired": False}
    assert summary(["x"], [], mismatches) == (
        "1 expired export(s) deleted, 0 stale staging area(s) removed, 1 entr(ies) without file, "
        "0 entr(ies) not matching their file, 0 file(s) without entry")
    assert summary(["x"], ["a/2026-01-01"], mismatches, dry_run=True, repair=True) == (
        "dry run: 1 expired export(s) would be deleted, 1 stale staging area(s) would be removed, "
        "1 entr(ies) without file, 0 entr(ies) not matching their file, 0 file(s) without entry "
        "(would be repaired)")


def test_stale_audiences_are_those_whose_newest_export_is_older_than_promised(tmp_path) -> None:
    from sna.housekeeping import stale_audiences
    from tests.sna.test_exports import stored_entry

    registry = Registry(f"sqlite:///{tmp_path / 'registry.db'}")
    registry.ensure_schema()
    storage = LocalStorage(tmp_path / "exports")
    store = ExportStore(storage, registry)
    now = datetime.now(UTC)
    store.commit(stored_entry(storage, 1, audience="fresh", run_key="fresh/1", created_at=now - timedelta(days=1)))
    store.commit(stored_entry(storage, 2, audience="old", run_key="old/1", created_at=now - timedelta(days=5)))
    store.commit(stored_entry(storage, 3, audience="patient", run_key="patient/1",
                              created_at=now - timedelta(days=10)))
    audiences = [Audience(name=n, platform="google") for n in ("fresh", "old", "never")]
    audiences.append(Audience(name="manual", platform="google", schedule=None))
    audiences.append(Audience(name="patient", platform="google", stale_after_days=30))

    stale = stale_audiences(store, audiences, now)

    assert [(s.audience, s.stale_after_days) for s in stale] == [("never", 3), ("old", 3)]
    assert stale[0].message() == "audience never is stale: no export yet (stale after 3 days)"
    assert "@" not in stale[1].message()
