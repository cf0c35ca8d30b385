"""Housekeeping of the export store: expired exports, staging left by failed runs, inconsistencies.

Staging and abandoned writes are swept by the store itself (`ExportStore.sweep_staging`,
`ExportStore.sweep_abandoned_writes`); this machine's scratch folders here.

Plain engine code (no Airflow) so the DAG `sna_housekeeping` stays a thin caller and the rules
can be tested directly. Reports carry counts, ids and storage keys only (keys name an audience,
a platform and a date, never a customer).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sna.audience import Audience
from sna.defaults import DEFAULT_RETENTION_DAYS as DEFAULT_RETENTION_DAYS  # re-exported
from sna.defaults import STAGING_MAX_AGE as STAGING_MAX_AGE  # re-exported
from sna.exports import ExportStore

log = logging.getLogger(__name__)


@dataclass
class RetentionPlan:
    """Retention per recorded audience, and the audiences left alone (with why)."""

    days: dict[str, int] = field(default_factory=dict)
    kept: dict[str, str] = field(default_factory=dict)


def retention_plan(
    audiences: Iterable[Audience], recorded: Iterable[str], *, config_complete: bool,
    default_days: int = DEFAULT_RETENTION_DAYS,
) -> RetentionPlan:
    """Each audience file's `retention_days`; recorded audiences without a file (ad-hoc exports, removed
    audiences) get `default_days`, but only when every audience file is valid: a broken file may be
    the one that asked for a longer retention, and a deleted export cannot be brought back."""
    plan = RetentionPlan(days={audience.name: audience.retention_days for audience in audiences})
    for name in recorded:
        if name in plan.days:
            continue
        if config_complete:
            plan.days[name] = default_days
        else:
            plan.kept[name] = "no valid audience file while some audience files are broken"
    return plan


def expire_exports(store: ExportStore, plan: RetentionPlan, now: datetime, *, dry_run: bool = False) -> list[str]:
    """Deletes the exports past their retention (file, then entry); returns their ids. `dry_run`: the
    same ids, nothing deleted."""
    expired = store.expire(now=now, retention_days=plan.days, dry_run=dry_run)
    for entry in expired:
        log.info("%s export %s of %s (%s)", "would expire" if dry_run else "expired", entry.id, entry.audience,
                 entry.reference_date)
    return [entry.id for entry in expired]


def sweep_scratch(tmp_dir: str | None, now: datetime, max_age: timedelta = STAGING_MAX_AGE, *,
                  dry_run: bool = False) -> list[str]:
    """Removes this machine's scratch folders (`<tmp_dir>/sna-*`) older than `max_age`: a run killed
    mid-stage could not remove its local copies of staged rows. Returns the folders (to be) removed."""
    root = Path(tmp_dir or tempfile.gettempdir())
    removed = []
    for folder in sorted(root.glob("sna-*")):
        try:
            newest = max([folder.stat().st_mtime, *(p.stat().st_mtime for p in folder.rglob("*"))])
        except OSError:
            continue
        if folder.is_dir() and now.timestamp() - newest >= max_age.total_seconds():
            if not dry_run:
                shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder.name)
    return removed


def reconcile(store: ExportStore, *, repair: bool, now: datetime, dry_run: bool = False) -> dict[str, Any]:
    """Entries whose file is gone or differs from it, and files without an entry; deleted when
    `repair` is set (and this is not a `dry_run`, which only reports them)."""
    report = store.reconcile(repair=repair and not dry_run, verify_checksums=True, now=now)
    return {
        "entries_without_file": [entry.id for entry in report.missing_files],
        "entries_not_matching_file": [entry.id for entry in report.mismatched],
        "stale_latest": list(report.stale_latest),
        "files_without_entry": list(report.orphan_files),
        "repaired": report.repaired,
    }


def summary(
    expired: list[str], staging: list[str], mismatches: Mapping[str, Any], *, aborted: int = 0,
    dry_run: bool = False, repair: bool = False,
) -> str:
    """One line: what was done, or with `dry_run` what would be done (`repair`: the mismatches too)."""
    would = "would be " if dry_run else ""
    parts = [f"{len(expired)} expired export(s) {would}deleted",
             f"{len(staging)} stale staging area(s) {would}removed"]
    if aborted:
        parts.append(f"{aborted} abandoned upload(s) {would}aborted")
    parts += [f"{len(mismatches['entries_without_file'])} entr(ies) without file",
              f"{len(mismatches.get('entries_not_matching_file', []))} entr(ies) not matching their file",
              f"{len(mismatches['files_without_entry'])} file(s) without entry"]
    line = ("dry run: " if dry_run else "") + ", ".join(parts)
    if mismatches["repaired"]:
        line += " (repaired)"
    elif dry_run and repair and (mismatches["entries_without_file"] or mismatches["files_without_entry"]):
        line += " (would be repaired)"
    return line


@dataclass(frozen=True)
class StaleAudience:
    """An audience whose newest export is older than its `stale_after_days` (or that has none)."""

    audience: str
    last_export: datetime | None
    stale_after_days: int
    last_rows: int | None = None
    """Rows of the newest export (None without one)."""

    def message(self) -> str:
        when = f"last export {self.last_export:%Y-%m-%d %H:%M} UTC" if self.last_export else "no export yet"
        return f"audience {self.audience} is stale: {when} (stale after {self.stale_after_days} days)"


def stale_audiences(store: ExportStore, audiences: Iterable[Audience], now: datetime) -> list[StaleAudience]:
    """The audiences a merchant must hear about: their file on the platform is older than promised.
    Names and dates only (safe for any notification)."""
    stale = []
    for audience in sorted(audiences, key=lambda a: a.name):
        days = audience.staleness_days
        if days is None:
            continue
        newest = store.last_export(audience.name)
        last = newest.created_at if newest else None
        if last is None or now - last > timedelta(days=days):
            stale.append(StaleAudience(audience.name, last, days, newest.rows if newest else None))
    return stale
