"""Export files and their registry entries, kept consistent: no file without its entry, no entry without its file.

The rule is an order of operations: a file is written before its entry is recorded, and deleted
before its entry is removed; when recording fails the fresh file is removed again. What a crash
can still leave behind (an orphan file, an entry whose file is gone) is found by `reconcile`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import uuid
from collections.abc import Collection, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, BinaryIO

from sna.defaults import STAGING_MAX_AGE
from sna.errors import NotFoundError, SnaError
from sna.locks import Holder, RunInProgressError, RunLocks
from sna.registry import Delivery, ExportEntry, Registry
from sna.registry.access import ENGINE, AccessLog, Actor
from sna.storage import Storage

if TYPE_CHECKING:
    from sna.registry.dry_runs import DryRun

log = logging.getLogger(__name__)

ORPHAN_GRACE = timedelta(hours=1)
"""A file younger than this may belong to an export that is about to be recorded: not an orphan yet."""

EXPORT_KEY = re.compile(
    r"^(?:adhoc_export/)?(?P<name>[a-z0-9][a-z0-9_]{0,63})/(?P<platform>google|meta)/"
    r"(?P=name)_(?P=platform)_\d{4}-\d{2}-\d{2}(?:_\d{8}T\d{6}Z-[0-9a-f]{10})?\.csv$"
)
"""The only keys SNA writes for exports (`<audience>/<platform>/<audience>_<platform>_<date>_<id>.csv`,
ad-hoc ones under `adhoc_export/`; keys without the id are from SNA 0.1). Reconcile and repair never
touch anything else, so a storage shared with other files loses none of them."""


def is_export_key(key: str) -> bool:
    return EXPORT_KEY.match(key) is not None


def latest_key(audience_id: str, platform: str) -> str:
    """The stable feed of an audience: a copy of its newest export (by reference date) under one fixed
    key, for a platform's scheduled pull or a downstream job."""
    return f"{audience_id}/{platform}/latest.csv"


def member_set_key(audience_id: str, export_id: str) -> str:
    """The export's members as the platform API takes them (hashed identifiers only), kept with the
    export for its delivery and deleted with it."""
    return f"_delivery/{audience_id}/exports/{export_id}.parquet"


@dataclass
class ReconcileReport:
    """What `reconcile` found (and removed, when repairing)."""

    missing_files: list[ExportEntry] = field(default_factory=list)
    orphan_files: list[str] = field(default_factory=list)
    mismatched: list[ExportEntry] = field(default_factory=list)
    """Entries whose file is not the one they describe (another size, or another SHA-256)."""
    stale_latest: list[str] = field(default_factory=list)
    """`<audience>/<platform>/latest.csv` keys that are not a copy of the audience's newest export."""
    repaired: bool = False

    @property
    def consistent(self) -> bool:
        return not self.missing_files and not self.orphan_files and not self.mismatched and not self.stale_latest


class ExportStore:
    """The one way the engine, the command line and the UI touch export files and entries."""

    def __init__(self, storage: Storage, registry: Registry, actor: Actor = ENGINE) -> None:
        self.storage = storage
        self.registry = registry
        self.locks = RunLocks(registry.engine)
        self.access = AccessLog(registry.engine)
        self.actor = actor
        """Who acts through this store: recorded in the access log with every download, delete, delivery."""

    def as_actor(self, actor: Actor) -> ExportStore:
        """The same store, acting for `actor` (a UI request's user)."""
        return ExportStore(self.storage, self.registry, actor)

    def log_access(self, action: str, entry: ExportEntry, detail: str = "") -> None:
        self.access.record(action, audience=entry.audience, export_id=entry.id, actor=self.actor, detail=detail)

    def list(self, **filters) -> list[ExportEntry]:
        return self.registry.list(**filters)

    def page(self, *, audiences: Collection[str] | None, platform: str | None, limit: int, offset: int
             ) -> tuple[list[ExportEntry], int]:
        """One page of entries newest first, and how many there are in all (`audiences=None`: every
        audience; an empty set, those a user may read when they may read none: nothing)."""
        if audiences is not None and not audiences:
            return [], 0
        return (self.registry.list(audiences=audiences, platform=platform, limit=limit, offset=offset),
                self.registry.count(audiences=audiences, platform=platform))

    def get(self, export_id: str) -> ExportEntry:
        entry = self.registry.get(export_id)
        if entry is None:
            raise NotFoundError(f"export {export_id} does not exist")
        return entry

    def find(self, export_id: str) -> ExportEntry | None:
        """The entry, or None (where a missing entry is an answer, not an error)."""
        return self.registry.get(export_id)

    def find_run(self, run_key: str) -> ExportEntry | None:
        """The entry a run (`<audience>/<date>`) recorded, if it did."""
        return self.registry.find_by_run_key(run_key)

    def last_export(self, audience_id: str) -> ExportEntry | None:
        """The export of an audience created last (any platform, any reference date): how fresh it is."""
        entries = self.registry.list(audience=audience_id, limit=1)
        return entries[0] if entries else None

    def audiences(self) -> list[str]:
        """The audiences that have at least one export entry, sorted."""
        return self.registry.audiences()

    def known_audiences(self) -> list[str]:
        """The audiences with an export or a dry run, sorted: those the pages can show."""
        return sorted(set(self.registry.audiences()) | set(self.registry.dry_runs.audiences()))

    def require_entries_table(self) -> None:
        """A read-only store (`create=False`) on a database without SNA's tables has nothing to work on:
        one line saying so, naming the database without its password."""
        if not self.registry.has_tables():
            raise NotFoundError(f"registry {self.registry.database}: no export was recorded there yet "
                                f"(no table {self.registry.table.name}); check the registry URL")

    def set_delivery(self, export_id: str, delivery: Delivery) -> bool:
        return self.registry.set_delivery(export_id, delivery)

    def dry_runs(self, *, audiences: Collection[str] | None = None, platform: str | None = None,
                 limit: int = 20) -> list[DryRun]:
        """Dry runs newest first (`audiences=None`: every audience)."""
        return self.registry.dry_runs.list(audiences=audiences, platform=platform, limit=limit)

    def record_dry_run(self, dry_run: DryRun, *, keep_after: datetime | None = None) -> None:
        """Records a dry run's counts in place of the one of its run key (see `DryRuns.record`)."""
        self.registry.dry_runs.record(dry_run, keep_after=keep_after)

    def file_name(self, entry: ExportEntry) -> str:
        """The name a person downloads (`<audience>_<platform>_<date>.csv`), without the export id."""
        name = PurePosixPath(entry.file_key).name
        match = re.match(r"^(.*_\d{4}-\d{2}-\d{2})_\d{8}T\d{6}Z-[0-9a-f]{10}\.csv$", name)
        return f"{match.group(1)}.csv" if match else name

    def download(self, export_id: str, dest: Path) -> Path:
        """Copy the export's file to `dest` (a file path, or an existing folder to keep the file's name)."""
        entry = self.get(export_id)
        dest = Path(dest)
        target = dest / self.file_name(entry) if dest.is_dir() else dest
        self.storage.download_file(entry.file_key, target)
        self.log_access("download", entry)
        return target

    def open(self, export_id: str) -> tuple[str, AbstractContextManager[BinaryIO]]:
        """(file name, stream) for serving the file without a local copy."""
        entry = self.get(export_id)
        reader = self.storage.open_reader(entry.file_key)
        self.log_access("download", entry)
        return self.file_name(entry), reader

    @property
    def links_presigned(self) -> bool:
        """Whether `presigned_link` can hand out a link (S3) rather than the file itself."""
        return self.storage.url.startswith("s3://")

    def presigned_link(self, entry: ExportEntry) -> str | None:
        """A temporary download link to the file (at most MAX_PRESIGNED_SECONDS), logged as a download;
        None where the storage cannot make one (a local folder): then serve the file itself."""
        url = self.storage.presigned_url(entry.file_key)
        if url:
            self.log_access("download", entry, "presigned link")
        return url

    def delete(self, export_id: str) -> ExportEntry:
        """Delete the file, then the entry: a failure in between leaves an entry without file, which
        `reconcile` reports, rather than a file nobody can find. Refused (RunInProgressError) while a
        run of the same audience and date holds its lease: that run is about to replace this entry."""
        entry = self.get(export_id)
        holder = Holder(owner=f"delete:{entry.id}:{uuid.uuid4().hex[:12]}", pid=os.getpid())
        try:
            with self.locks.held(entry.run_key, holder):
                if not self.registry.has_file_key(entry.file_key, except_id=entry.id):
                    self.storage.delete(entry.file_key)
                self.storage.delete(member_set_key(entry.audience, entry.id))
                self.registry.delete(entry.id)
                self.refresh_latest(entry.audience, entry.platform)
                self.log_access("delete", entry)
        except RunInProgressError:
            raise RunInProgressError(
                f"export {entry.id} cannot be deleted now: a run of {entry.run_key} is in progress; "
                "try again when it has ended"
            ) from None
        return entry

    def commit(self, entry: ExportEntry, *, discard_on_failure: bool = True) -> ExportEntry:
        """Record an entry whose file is already stored.

        If recording fails the file is deleted (unless an existing entry still points to the same key,
        or the caller keeps it for a retry: `discard_on_failure=False`) and the error re-raised. If the
        entry replaced an earlier run's entry stored under another key, that older file is deleted.
        """
        try:
            replaced = self.registry.record(entry)
        except BaseException:
            if discard_on_failure:
                self._discard_unrecorded(entry)
            raise
        self.refresh_latest(entry.audience, entry.platform)
        if replaced is not None and replaced.id != entry.id:
            self._delete_quietly(member_set_key(replaced.audience, replaced.id), reason=f"replaced by {entry.id}")
        if replaced is not None and replaced.file_key != entry.file_key:
            if replaced.file_uri == self.storage.uri(replaced.file_key):
                self._delete_quietly(replaced.file_key, reason=f"replaced by export {entry.id}")
            else:
                log.warning("export %s replaced export %s, whose file %s is in another storage than %s: "
                            "delete it there", entry.id, replaced.id, replaced.file_uri, self.storage.url)
        return entry

    def newest(self, audience_id: str, platform: str) -> ExportEntry | None:
        """The export with the latest reference date (then the latest created) of an audience."""
        entries = self.registry.list(audience=audience_id, platform=platform, limit=1000)
        return max(entries, key=lambda e: (e.reference_date, e.created_at), default=None)

    def refresh_latest(self, audience_id: str, platform: str) -> ExportEntry | None:
        """Points `latest.csv` at the newest export (a server-side copy, atomic, encrypted like the
        files), or removes it when no export is left. Best effort after a commit or a delete:
        housekeeping's reconcile repairs a latest that failed to follow."""
        key = latest_key(audience_id, platform)
        try:
            newest = self.newest(audience_id, platform)
            if newest is None:
                self.storage.delete(key)
            elif self.storage.exists(newest.file_key):
                self.storage.copy(newest.file_key, key)
            return newest
        except SnaError as error:
            log.warning("could not refresh %s: %s", self.storage.uri(key), error)
            return None

    def latest_is_stale(self, audience_id: str, platform: str) -> bool:
        newest = self.newest(audience_id, platform)
        key = latest_key(audience_id, platform)
        if newest is None:
            return self.storage.exists(key)
        return not self.storage.exists(key) or self.storage.size(key) != newest.size or \
            self._sha256(key) != newest.sha256

    def _discard_unrecorded(self, entry: ExportEntry) -> None:
        try:
            in_use = self.registry.has_file_key(entry.file_key)
        except SnaError:
            in_use = False  # the registry is unreachable: an orphan file is the worse outcome
        if not in_use:
            self._delete_quietly(entry.file_key, reason=f"export {entry.id} could not be recorded")

    def _delete_quietly(self, key: str, *, reason: str) -> None:
        """Best-effort delete: a leftover file is reported by `reconcile`, the original outcome stands."""
        try:
            self.storage.delete(key)
        except SnaError as error:
            log.warning("could not delete %s (%s): %s", self.storage.uri(key), reason, error)

    def reconcile(
        self,
        *,
        repair: bool = False,
        verify_checksums: bool = False,
        now: datetime | None = None,
        grace: timedelta = ORPHAN_GRACE,
    ) -> ReconcileReport:
        """Entries whose file is gone or is not the file they describe, and export files without an
        entry; with `repair`, delete them. Only keys of SNA's export layout are considered (see
        `EXPORT_KEY`): other files in the storage are never reported nor touched. Files younger than
        `grace` (relative to `now`) are not orphans yet: their export may be committing right now."""
        files = {info.key: info for info in self.storage.list("") if is_export_key(info.key)}
        entries = list(self.registry.iter_all())
        recorded_keys = {entry.file_key for entry in entries}
        report = ReconcileReport(
            missing_files=[e for e in entries if e.file_key not in files],
            orphan_files=sorted(
                key
                for key, info in files.items()
                if key not in recorded_keys and _older_than(info.last_modified, now, grace)
            ),
        )
        for entry in entries:
            info = files.get(entry.file_key)
            if info is None:
                continue
            if info.size != entry.size or (verify_checksums and self._sha256(entry.file_key) != entry.sha256):
                report.mismatched.append(entry)
        if verify_checksums:
            pairs = sorted({(e.audience, e.platform) for e in entries} | {
                (key.rsplit("/", 2)[0], key.rsplit("/", 2)[1]) for key in (i.key for i in self.storage.list(""))
                if key.endswith("/latest.csv") and key.count("/") >= 2 and not key.startswith("_")})
            report.stale_latest = [latest_key(a, p) for a, p in pairs if self.latest_is_stale(a, p)]
        if repair:
            for key in report.stale_latest:
                audience_id, platform, _name = key.rsplit("/", 2)
                self.refresh_latest(audience_id, platform)
            for key in report.orphan_files:
                self.storage.delete(key)
            for entry in report.missing_files:
                self.registry.delete(entry.id)
            for entry in report.mismatched:
                self.delete(entry.id)
            report.repaired = True
        if not report.consistent:
            log.warning(
                "reconcile %s: %d entries without file, %d entries not matching their file, "
                "%d files without entry%s",
                self.storage.url,
                len(report.missing_files),
                len(report.mismatched),
                len(report.orphan_files),
                " (repaired)" if repair else "",
            )
        return report

    def _sha256(self, key: str) -> str:
        digest = hashlib.sha256()
        with self.storage.open_reader(key) as stream:
            while block := stream.read(1 << 20):
                digest.update(block)
        return digest.hexdigest()

    def expire(
        self, *, now: datetime, retention_days: Mapping[str, int], dry_run: bool = False
    ) -> list[ExportEntry]:
        """Delete exports older than their audience's retention (file, then entry); audiences without a
        retention are kept. `dry_run` returns the same exports and deletes nothing."""
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        expired: list[ExportEntry] = []
        for audience, days in sorted(retention_days.items()):
            if days < 0:
                raise ValueError(f"retention_days for {audience} must be >= 0 (got {days})")
            cutoff = now - timedelta(days=days)
            offset = 0  # deleting shifts the next page to offset 0; a dry run (or a kept entry) pages on
            while batch := self.registry.list(audience=audience, created_before=cutoff, limit=200, offset=offset):
                for entry in batch:
                    if dry_run:
                        expired.append(entry)
                        continue
                    try:
                        expired.append(self.delete(entry.id))
                    except RunInProgressError:
                        offset += 1  # its run is replacing it right now: the next housekeeping decides
                        log.info("export %s kept for now: %s is running", entry.id, entry.run_key)
                if dry_run:
                    offset += len(batch)
            if not dry_run:
                self.access.expire(audience, cutoff)  # the log is kept as long as the exports it is about
        return expired


    def sweep_staging(self, now: datetime, max_age: timedelta = STAGING_MAX_AGE, *, dry_run: bool = False
                      ) -> list[str]:
        """Removes the staging areas whose newest file is older than `max_age`: a successful run removes
        its own, so these were left by failed runs. Returns the areas removed (`<audience>/<date>`);
        `dry_run`: the same areas, nothing removed."""
        from sna.staging import STAGING_ROOT  # pandas and pyarrow: only where staging is swept

        newest: dict[str, datetime | None] = {}
        for info in self.storage.list(f"{STAGING_ROOT}/"):
            area = _staging_area(info.key)
            moments = [m for m in (newest.get(area), info.last_modified) if m is not None]
            newest[area] = max(moments) if moments else None
        removed = []
        for area, moment in sorted(newest.items()):
            if moment is not None and now - moment < max_age:
                continue
            if dry_run:
                pass  # the same selection, nothing removed
            elif area.endswith("/"):
                self.storage.delete_prefix(area)
            else:
                self.storage.delete(area)
            removed.append(area.removeprefix(f"{STAGING_ROOT}/").rstrip("/"))
        return removed

    def sweep_abandoned_writes(self, now: datetime, max_age: timedelta = STAGING_MAX_AGE, *,
                               dry_run: bool = False) -> int:
        """Removes what writers killed mid-write left behind, older than `max_age`: temporary files of a
        local folder, multipart uploads on S3 (whose endpoint died before they could abort, the parts
        lingering unseen and billed). Both hold customer rows. `dry_run`: counts them, removes nothing."""
        return self.storage.remove_abandoned_writes(now - max_age, dry_run=dry_run)


_DATE_SEGMENT = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _staging_area(key: str) -> str:
    """`_staging/<audience>/<date>/` (`_staging/adhoc_export/<name>/<date>/` for ad-hoc runs) for a
    staged file; a stray file is its own area."""
    parts = key.split("/")
    for index, part in enumerate(parts[:-1]):
        if index >= 2 and _DATE_SEGMENT.match(part):
            return "/".join(parts[: index + 1]) + "/"
    return key


def _older_than(moment: datetime | None, now: datetime | None, grace: timedelta) -> bool:
    if grace <= timedelta(0) or moment is None:
        return True
    reference = now or datetime.now(moment.tzinfo)
    return reference - moment >= grace
