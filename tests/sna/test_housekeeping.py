"""Housekeeping rules: which staging is stale, which retention applies."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sna.audience import Audience
from sna.housekeeping import abort_stale_uploads, retention_plan, summary, sweep_staging
from sna.storage import LocalStorage


def put(storage: LocalStorage, root: Path, key: str, age: timedelta) -> None:
    with storage.open_writer(key) as writer:
        writer.write(b"x")
    moment = time.time() - age.total_seconds()
    os.utime(root / key, (moment, moment))


def test_staging_is_swept_per_run_when_its_newest_file_is_old(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    put(storage, tmp_path, "_staging/a/2026-01-01/extract.parquet", timedelta(days=3))
    put(storage, tmp_path, "_staging/a/2026-01-01/keep.npy", timedelta(days=2))
    put(storage, tmp_path, "_staging/b/2026-01-02/extract.parquet", timedelta(days=3))
    put(storage, tmp_path, "_staging/b/2026-01-02/validate.json", timedelta(minutes=10))  # a run in progress
    put(storage, tmp_path, "_staging/stray.json", timedelta(days=5))
    put(storage, tmp_path, "a/google/a_google_2026-01-01.csv", timedelta(days=30))  # exports are not staging

    removed = sweep_staging(storage, datetime.now(UTC), max_age=timedelta(hours=24))

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


def test_a_dry_run_sweep_reports_the_same_areas_and_removes_nothing(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    put(storage, tmp_path, "_staging/a/2026-01-01/extract.parquet", timedelta(days=3))
    put(storage, tmp_path, "_staging/b/2026-01-02/validate.json", timedelta(minutes=10))
    before = sorted(info.key for info in storage.list())

    assert sweep_staging(storage, datetime.now(UTC), dry_run=True) == ["a/2026-01-01"]
    assert sorted(info.key for info in storage.list()) == before
    assert abort_stale_uploads(storage, datetime.now(UTC), dry_run=True) == 0  # a folder has no uploads
    assert sweep_staging(storage, datetime.now(UTC)) == ["a/2026-01-01"]


def test_summary_says_what_a_dry_run_would_do() -> None:
    mismatches = {"entries_without_file": ["e1"], "files_without_entry": [], "repaired": False}
    assert summary(["x"], [], mismatches) == (
        "1 expired export(s) deleted, 0 stale staging area(s) removed, 1 entr(ies) without file, "
        "0 file(s) without entry")
    assert summary(["x"], ["a/2026-01-01"], mismatches, dry_run=True, repair=True) == (
        "dry run: 1 expired export(s) would be deleted, 1 stale staging area(s) would be removed, "
        "1 entr(ies) without file, 0 file(s) without entry (would be repaired)")
