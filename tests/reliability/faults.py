"""What every fault test checks afterwards: zero orphans, zero duplicates, nothing half-written."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sna.exports import ExportStore
from sna.locks import RunLocks
from sna.pipeline import ExportReport
from sna.storage import S3Storage


def incomplete_uploads(store: ExportStore) -> int:
    storage = store.storage
    if not isinstance(storage, S3Storage):
        return 0
    listing = storage.client.list_multipart_uploads(Bucket=storage.bucket, Prefix=storage.prefix)
    return len(listing.get("Uploads", []) or [])


def assert_consistent(store: ExportStore, locks: RunLocks | None = None, run_keys: tuple[str, ...] = ()
                      ) -> dict[str, int]:
    """Every file has its entry and every entry its file, one entry (and one file) per run, no staging
    left, no multipart upload pending, no lease held. Returns the figures (all zero)."""
    report = store.reconcile(grace=timedelta(0), verify_checksums=True)
    entries = list(store.registry.iter_all())
    files = [info.key for info in store.storage.list()
             if not info.key.startswith(("_staging/", "_delivery/")) and not info.key.endswith("/latest.csv")]
    staging = [info.key for info in store.storage.list("_staging/")]
    figures = {
        "orphans": len(report.orphan_files),
        "entries_without_file": len(report.missing_files),
        "entries_not_matching_file": len(report.mismatched),
        "stale_latest": len(report.stale_latest),
        "duplicates": (len(entries) - len({e.run_key for e in entries})) + (len(files) - len(set(files)))
        + max(0, len(files) - len(entries)),
        "staging_left": len(staging),
        "incomplete_uploads": incomplete_uploads(store),
        "leases_left": sum(locks.current(key) is not None for key in run_keys) if locks else 0,
    }
    assert figures == dict.fromkeys(figures, 0), (figures, report, files, staging)
    assert sorted(files) == sorted(entry.file_key for entry in entries)
    return figures


def assert_same_export(report: ExportReport, reference: ExportReport) -> int:
    """The export after the fault holds exactly what a clean run holds; returns the rows lost (0)."""
    assert (report.scanned, report.rows, report.excluded) == (reference.scanned, reference.rows, reference.excluded)
    return reference.rows - report.rows


def one_line(error: BaseException, *, names: str) -> str:
    text = str(error)
    assert "\n" not in text and names in text, text
    return text


def s3_events(store: ExportStore) -> Any:
    storage = store.storage
    assert isinstance(storage, S3Storage)
    return storage.client.meta.events
