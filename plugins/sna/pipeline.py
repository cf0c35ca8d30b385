"""One export run, as five idempotent stages: extract, validate, render, publish, record.

The DAG runs each stage as its own task; `sna run` and the benchmark run them in sequence; the
code is the same. Stages hand data to each other through the run's staging area in the storage
(`staging.py`) and return only counts and URIs. Every stage can be rerun: its inputs and outputs
have fixed names derived from the audience and the reference date, and the published file has a
fixed key, so a rerun replaces rather than adds.
"""

from __future__ import annotations

import os
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from sqlalchemy.engine import Engine

from sna.audience import Audience
from sna.delivery.base import PlatformClient
from sna.delivery.clients import destination_id
from sna.delivery.members import members_frame
from sna.delivery.sync import DeliveryReport, MemberSets, deliver_members, export_members
from sna.errors import DataContractError, NotFoundError, SnaError, StorageError
from sna.exports import ExportStore, member_set_key
from sna.filters import FilterPlan, SuppressionList
from sna.locks import Holder, RunLocks
from sna.normalize import Profile, profile_for
from sna.registry import Delivery, ExportEntry, new_export_id
from sna.render import CsvRenderer
from sna.selection import RANKING_COLUMNS, Deduplicator, Selector
from sna.settings import project_path
from sna.source.extract import ShopReader, empty_raw_frame
from sna.staging import FrameWriter, Staging, read_frames

ADHOC_NAMESPACE = "adhoc_export"
"""Ad-hoc exports (the trigger form) live under their own namespace: an ad-hoc export named like a
configured audience can never replace that audience's entries or files. `adhoc_export` is a
reserved audience name, so no audience file can reach into it either."""


@dataclass(frozen=True)
class ExportJob:
    """One run of one audience: the audience (with any per-run overrides) and its reference date."""

    audience: Audience
    reference_date: date
    run_id: str | None = None
    namespace: str = ""
    """"" for configured audiences, `ADHOC_NAMESPACE` for the ad-hoc form."""

    @property
    def audience_id(self) -> str:
        """What the registry calls the audience: its name, or `adhoc_export/<name>` for an ad-hoc export."""
        return f"{self.namespace}/{self.audience.name}" if self.namespace else self.audience.name

    @property
    def run_key(self) -> str:
        return f"{self.audience_id}/{self.reference_date.isoformat()}"

    @property
    def file_name(self) -> str:
        """The name a person downloads: audience, platform, date."""
        a = self.audience
        return f"{a.name}_{a.platform}_{self.reference_date.isoformat()}.csv"

    @property
    def file_prefix(self) -> str:
        """The beginning of every key this run's exports can have."""
        return f"{self.audience_id}/{self.audience.platform}/{self.file_name.removesuffix('.csv')}_"

    def file_key(self, export_id: str) -> str:
        """One key per export, so that a rerun never writes over the file another entry describes;
        names the audience, the platform, the date and the export id, never a customer."""
        return f"{self.file_prefix}{export_id}.csv"

    def with_overrides(self, **overrides: Any) -> ExportJob:
        """The same run with audience keys replaced (manual trigger form), re-validated."""
        changes = {k: v for k, v in overrides.items() if v is not None}
        if not changes:
            return self
        audience = Audience.model_validate({**self.audience.model_dump(), **changes})
        return replace(self, audience=audience)


@dataclass
class ExportReport:
    """What a run tells its caller: counts and references only, safe for XCom and logs."""

    audience: str
    platform: str
    hashing: str
    scanned: int
    rows: int
    excluded: dict[str, int]
    warnings: list[str] = field(default_factory=list)
    export_id: str | None = None
    file: str | None = None
    size: int | None = None
    sha256: str | None = None
    dry_run: bool = False
    fill_rates: dict[str, float] = field(default_factory=dict)
    """Per file column, the share of exported rows with a value."""
    delivery: dict[str, Any] | None = None
    """The delivery to the platform (`DeliveryReport.to_dict()`), when the audience has one."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


ClientFactory = Callable[[Audience], PlatformClient]
SourceEngines = Callable[[str | None], Engine]
"""The shop database of a `source.connection` name (None: the default shop)."""


class Progress(Protocol):
    def start(self, label: str, total: int | None) -> None: ...
    def advance(self, rows: int) -> None: ...
    def finish(self) -> None: ...


class NoProgress:
    """The progress of a run nobody watches."""

    def start(self, label: str, total: int | None) -> None:
        pass

    def advance(self, rows: int) -> None:
        pass

    def finish(self) -> None:
        pass


def check_accounting(scanned: int, exported: int, excluded: dict[str, int]) -> None:
    """`scanned = exported + sum(excluded)`, or the export is refused."""
    if scanned != exported + sum(excluded.values()):
        raise DataContractError(
            f"accounting identity broken: scanned {scanned} != exported {exported} + excluded {sum(excluded.values())}"
        )


def run_warnings(platform: str, rows: int) -> list[str]:
    """Counts a marketer must hear about: nothing exported, or fewer members than the platform uses."""
    profile = profile_for(platform)
    warnings = []
    if rows == 0:
        warnings.append("no customer was exported")
    if rows < profile.minimum_members:
        warnings.append(f"{rows} rows: {profile.minimum_hint}")
    return warnings


def fill_rates(filled: dict[str, int], rows: int) -> dict[str, float]:
    """Per file column, the share of exported rows with a value (4 decimals): how much each platform
    can match on."""
    return {column: round(count / rows, 4) if rows else 0.0 for column, count in filled.items()}


class ExportPipeline:
    """Runs export jobs against one shop database and one export store (None: a pipeline that only
    previews, so a preview opens no registry)."""

    def __init__(
        self,
        source: Engine | SourceEngines,
        store: ExportStore | None,
        *,
        project_root: Path | None,
        chunk_size: int = 50_000,
        tmp_dir: str | None = None,
        progress: Progress | None = None,
        clients: ClientFactory | None = None,
        source_reader: str = "auto",
    ) -> None:
        self.source = source
        self.source_reader = source_reader
        """`auto`, `arrow` or `python`: how the shop's tables are read (`ShopReader`)."""
        self.store = store
        self.project_root = project_root
        self.chunk_size = chunk_size
        self.tmp_dir = tmp_dir
        self.progress = progress or NoProgress()
        self.clients = clients
        """Opens the platform client of an audience's `delivery` block (None: delivery is not set up)."""

    @cached_property
    def locks(self) -> RunLocks:
        """The run leases, beside the registry (a preview, which needs no store, never opens them)."""
        if self.store is None:
            raise ValueError("this pipeline has no export store: it can only preview")
        return self.store.locks

    # -- helpers ----------------------------------------------------------------------------

    def staging(self, job: ExportJob) -> Staging:
        return Staging(self.store.storage, job.run_key, self.tmp_dir)

    def _reader(self, job: ExportJob) -> ShopReader:
        return ShopReader(self.source_for(job.audience), job.audience.source, reader=self.source_reader)

    def source_for(self, audience: Audience) -> Engine:
        """The shop database of an audience: the one engine, or the one its `source.connection` names."""
        return self.source if isinstance(self.source, Engine) else self.source(audience.source.connection)

    def _suppression(self, audience: Audience, profile: Profile) -> SuppressionList:
        if audience.suppression_list is None:
            return SuppressionList()
        path = project_path(self.project_root, audience.suppression_list, "suppression_list")
        return SuppressionList.load(path, profile.normalize_email)

    def _selector(self, job: ExportJob, default_group_ids: Iterable[int] | None) -> Selector:
        audience = job.audience
        profile = profile_for(audience.platform)
        plan = FilterPlan(
            filters=audience.filters,
            reference_date=job.reference_date,
            default_group_ids=tuple(default_group_ids) if default_group_ids is not None else None,
            suppression=self._suppression(audience, profile),
        )
        return Selector(audience, profile, plan)

    def _select_all(self, job: ExportJob, selector: Selector, chunks: Iterable[pd.DataFrame],
                    sink: FrameWriter | None) -> tuple[int, np.ndarray, Counter[str]]:
        """Runs the selection over every chunk; returns scanned, the keep mask and the reasons."""
        scanned, excluded, dedup = 0, Counter(), Deduplicator()
        for raw in chunks:
            selection = selector.select(raw)
            scanned += len(raw)
            excluded.update(selection.excluded)
            dedup.add(selection.candidates)
            if sink is not None:
                sink.write(selection.candidates)
            self.progress.advance(len(raw))
        keep = dedup.keep_mask()
        duplicates = int((~keep).sum())
        if duplicates:
            excluded["duplicate_email"] += duplicates
        return scanned, keep, excluded

    def _stats(self, job: ExportJob, scanned: int, keep: np.ndarray, excluded: Counter[str],
               source_warnings: Iterable[str] = ()) -> dict[str, Any]:
        exported = int(keep.sum())
        reasons = dict(sorted(excluded.items()))
        check_accounting(scanned, exported, reasons)
        return {
            "scanned": scanned,
            "exported": exported,
            "excluded": reasons,
            "warnings": [*source_warnings, *run_warnings(job.audience.platform, exported)],
        }

    def _report(self, job: ExportJob, stats: dict[str, Any], **extra: Any) -> ExportReport:
        a = job.audience
        return ExportReport(
            audience=job.audience_id, platform=a.platform, hashing=a.hashing, scanned=stats["scanned"],
            rows=stats["exported"], excluded=stats["excluded"], warnings=stats["warnings"], **extra,
        )

    # -- preview: counts only, nothing written ----------------------------------------------

    def preview(self, job: ExportJob) -> ExportReport:
        reader = self._reader(job)
        resolved = reader.resolve_filters(job.audience.filters.default_groups, job.audience.filters.groups_any)
        selector = self._selector(job, resolved.default_group_ids)
        self.progress.start("scanning", reader.count_customers() if self._wants_total() else None)
        scanned, keep, excluded = self._select_all(
            job, selector, reader.iter_chunks(self.chunk_size, resolved.groups_any_ids), sink=None
        )
        self.progress.finish()
        return self._report(job, self._stats(job, scanned, keep, excluded, reader.warnings), dry_run=True)

    def _wants_total(self) -> bool:
        return not isinstance(self.progress, NoProgress)

    # -- the five stages --------------------------------------------------------------------

    def extract(self, job: ExportJob) -> dict[str, Any]:
        """Shop database -> staged raw customers (`extract.parquet`)."""
        reader = self._reader(job)
        filters = job.audience.filters
        resolved = reader.resolve_filters(filters.default_groups, filters.groups_any)
        staging = self.staging(job)
        self.progress.start("extracting", reader.count_customers() if self._wants_total() else None)
        with staging.local_dir() as folder:
            writer = FrameWriter(folder / "extract.parquet")
            for chunk in reader.iter_chunks(self.chunk_size, resolved.groups_any_ids):
                writer.write(chunk)
                self.progress.advance(len(chunk))
            writer.close(empty_raw_frame())
            staging.put(writer.path, "extract.parquet")
        self.progress.finish()
        facts = {
            "scanned": writer.rows,
            "default_group_ids": list(resolved.default_group_ids) if resolved.default_group_ids is not None else None,
            "warnings": reader.warnings,
        }
        staging.put_json("extract.json", facts)
        return {"scanned": writer.rows, "staged": staging.uri("extract.parquet")}

    def validate(self, job: ExportJob) -> dict[str, Any]:
        """Staged raw customers -> staged candidate rows, the de-duplication mask and the counts."""
        staging = self.staging(job)
        recorded = self._recorded_instead_of(job, staging, "extract.json", "extract")
        if recorded is not None:
            return {"scanned": recorded.scanned, "exported": recorded.rows, "excluded": dict(recorded.excluded),
                    "warnings": list(recorded.warnings)}
        facts = staging.get_json("extract.json")
        selector = self._selector(job, facts["default_group_ids"])
        self.progress.start("validating", facts["scanned"])
        with staging.local_dir() as folder:
            raw = staging.get("extract.parquet", folder / "extract.parquet")
            sink = FrameWriter(folder / "candidates.parquet")
            scanned, keep, excluded = self._select_all(
                job, selector, read_frames(raw, batch_rows=self.chunk_size), sink
            )
            sink.close(selector.select(empty_raw_frame()).candidates)
            np.save(folder / "keep.npy", keep)
            staging.put(sink.path, "candidates.parquet")
            staging.put(folder / "keep.npy", "keep.npy")
        self.progress.finish()
        if scanned != facts["scanned"]:
            raise DataContractError(f"staged extract holds {scanned} rows, {facts['scanned']} were extracted")
        stats = self._stats(job, scanned, keep, excluded, facts.get("warnings", ()))
        staging.put_json("validate.json", stats)
        return stats

    def render(self, job: ExportJob) -> dict[str, Any]:
        """Candidate rows -> the platform CSV (header, hashing, exact columns), staged."""
        staging = self.staging(job)
        recorded = self._recorded_instead_of(job, staging, "validate.json", "validate")
        if recorded is not None:
            return {"rows": recorded.rows, "size": recorded.size, "sha256": recorded.sha256, "staged": None}
        stats = staging.get_json("validate.json")
        profile = profile_for(job.audience.platform)
        with staging.local_dir() as folder:
            candidates = staging.get("candidates.parquet", folder / "candidates.parquet")
            keep = np.load(staging.get("keep.npy", folder / "keep.npy"))
            output = folder / job.file_name
            offset = 0
            with_value = job.audience.value == "total_spent"
            filled = dict.fromkeys(profile.file_header(with_value=with_value), 0)
            members = FrameWriter(folder / "members.parquet") if job.audience.delivery is not None else None
            with output.open("wb") as stream:
                renderer = CsvRenderer(stream, profile, hashing=job.audience.hashing, with_value=with_value)
                renderer.write_header()
                for frame in read_frames(candidates, batch_rows=self.chunk_size):
                    mask = keep[offset:offset + len(frame)]
                    offset += len(frame)
                    rows = frame.loc[mask].drop(columns=list(RANKING_COLUMNS))
                    renderer.write(rows)
                    for column in rows.columns:
                        filled[column] = filled.get(column, 0) + int((rows[column].fillna("") != "").sum())
                    if members is not None:
                        members.write(members_frame(job.audience.platform, rows, with_value=with_value))
            if renderer.rows != stats["exported"]:
                raise DataContractError(f"rendered {renderer.rows} rows, {stats['exported']} were selected")
            written = staging.put(output, "audience.csv")
            if members is not None:
                no_rows = pd.DataFrame({c: pd.Series(dtype="str") for c in profile.file_header(with_value=with_value)})
                members.close(members_frame(job.audience.platform, no_rows, with_value=with_value))
                staging.put(members.path, "members.parquet")
        rendered = {"rows": renderer.rows, "size": written.size, "sha256": written.sha256,
                    "staged": written.uri, "filled": filled}
        staging.put_json("render.json", rendered)
        return rendered

    def publish(self, job: ExportJob) -> dict[str, Any]:
        """The staged CSV -> a key of its own (a server-side copy, encrypted on S3).

        The key carries the export id, so the file an earlier entry of the same run describes is
        never touched here: it is replaced only when `record` swaps the entries in one transaction.
        A retried publish reuses its own unrecorded key."""
        staging = self.staging(job)
        recorded = self._recorded_instead_of(job, staging, "render.json", "render")
        if recorded is not None:
            return {"file": recorded.file_uri, "key": recorded.file_key, "size": recorded.size,
                    "sha256": recorded.sha256, "export_id": recorded.id}
        rendered = staging.get_json("render.json")
        earlier = staging.get_json("publish.json") if staging.exists("publish.json") else None
        export_id = earlier["export_id"] if earlier else new_export_id()
        key = job.file_key(export_id)
        storage = self.store.storage
        published = {"file": storage.uri(key), "key": key, "size": rendered["size"],
                     "sha256": rendered["sha256"], "export_id": export_id, "filled": rendered["filled"]}
        staging.put_json("publish.json", published)  # written before the file: a crash after the copy
        # leaves a file that the run's next try reuses (or its clean-up deletes), never an unknown key
        if staging.exists("members.parquet"):
            storage.copy(staging.key("members.parquet"), member_set_key(job.audience_id, export_id))
        storage.copy(staging.key("audience.csv"), key)
        if storage.size(key) != rendered["size"]:
            raise StorageError(f"published file {storage.uri(key)} is incomplete")
        return published

    def record(self, job: ExportJob) -> ExportReport:
        """The export entry, once its file is complete; then the staging area is removed."""
        staging = self.staging(job)
        recorded = self._recorded_instead_of(job, staging, "publish.json", "publish")
        if recorded is not None:
            return self._report_of_entry(recorded)
        stats = staging.get_json("validate.json")
        published = staging.get_json("publish.json")
        if not self.store.storage.exists(published["key"]) or self.store.storage.size(published["key"]) != \
                published["size"]:
            raise StorageError(f"published file {published['file']} is missing or incomplete")
        a = job.audience
        entry = ExportEntry(
            id=published["export_id"],
            run_key=job.run_key,
            audience=job.audience_id,
            platform=a.platform,
            hashing=a.hashing,
            filters=self.applied_filters(a),
            reference_date=job.reference_date,
            created_at=datetime.now(UTC),
            file_uri=published["file"],
            file_key=published["key"],
            size=published["size"],
            sha256=published["sha256"],
            rows=stats["exported"],
            scanned=stats["scanned"],
            excluded=stats["excluded"],
            warnings=stats["warnings"],
            dag_run_id=job.run_id,
            fill_rates=fill_rates(published["filled"], stats["exported"]),
        )
        self.store.commit(entry, discard_on_failure=False)  # kept for a retry; `run` or the DAG drops it
        staging.clear()
        return self._report_of_entry(entry)

    def _recorded_instead_of(self, job: ExportJob, staging: Staging, needed: str, previous: str
                             ) -> ExportEntry | None:
        """When a stage's input is gone because the run already finished (a task rerun after success),
        the recorded export stands in for it; otherwise the previous stage has not run."""
        if staging.exists(needed):
            return None
        recorded = self.store.registry.find_by_run_key(job.run_key)
        if recorded is None:
            raise NotFoundError(f"run {job.run_key}: nothing staged by {previous} (it must run first)")
        return recorded

    def record_dry_run(self, job: ExportJob, stats: dict[str, Any]) -> None:
        """A dry run's counts (`validate`'s), recorded so the page can show it: no file, no export entry.
        It replaces the dry run of the same audience and date; its audience's dry runs older than the
        audience's retention are dropped."""
        from sna.registry.dry_runs import DryRun

        now = datetime.now(UTC)
        a = job.audience
        self.store.registry.dry_runs.record(DryRun(
            id=new_export_id(now), run_key=job.run_key, audience=job.audience_id, platform=a.platform,
            hashing=a.hashing, filters=self.applied_filters(a), reference_date=job.reference_date, created_at=now,
            scanned=stats["scanned"], rows=stats["exported"], excluded=dict(stats["excluded"]),
            warnings=list(stats["warnings"]), dag_run_id=job.run_id,
        ), keep_after=now - timedelta(days=a.retention_days))

    @staticmethod
    def applied_filters(audience: Audience) -> dict[str, Any]:
        """The filters as applied, for the export history (as the original module shows them)."""
        applied: dict[str, Any] = audience.filters.applied()
        applied["require_complete"] = audience.require_complete
        if audience.source.shop_ids:
            applied["shop_ids"] = list(audience.source.shop_ids)
        if audience.source.include_subscribers:
            applied["include_subscribers"] = True
        if audience.suppression_list is not None:
            applied["suppression_list"] = str(audience.suppression_list)
        if audience.value != "none":
            applied["value"] = audience.value
        return applied

    @staticmethod
    def _report_of_entry(entry: ExportEntry) -> ExportReport:
        return ExportReport(
            audience=entry.audience, platform=entry.platform, hashing=entry.hashing, scanned=entry.scanned,
            rows=entry.rows, excluded=dict(entry.excluded), warnings=list(entry.warnings), export_id=entry.id,
            file=entry.file_uri, size=entry.size, sha256=entry.sha256, fill_rates=dict(entry.fill_rates),
        )

    # -- deliver: the recorded export -> the platform ---------------------------------------

    def deliver(self, job: ExportJob, *, dry_run: bool = False, validate_only: bool = False) -> DeliveryReport:
        """The run's recorded export to its platform, sending only what changed (`sna.delivery.sync`)."""
        entry = self.store.registry.find_by_run_key(job.run_key)
        if entry is None:
            raise NotFoundError(f"run {job.run_key}: nothing recorded to deliver (record must run first)")
        return self.deliver_entry(entry, job.audience, dry_run=dry_run, validate_only=validate_only)

    def deliver_export(self, export_id: str, audience: Audience, *, dry_run: bool = False,
                       validate_only: bool = False) -> DeliveryReport:
        """(Re)delivers a recorded export under its run's lease: never two deliveries of one run at once."""
        entry = self.store.get(export_id)
        holder = Holder(owner=f"sna-deliver:{uuid.uuid4().hex[:12]}", pid=os.getpid())
        with self.locks.held(entry.run_key, holder):
            return self.deliver_entry(entry, audience, dry_run=dry_run, validate_only=validate_only)

    def deliver_entry(self, entry: ExportEntry, audience: Audience, *, dry_run: bool = False,
                      validate_only: bool = False) -> DeliveryReport:
        if audience.delivery is None:
            raise NotFoundError(f"audience {audience.name} has no delivery block")
        sets = MemberSets(self.store.storage)
        members = export_members(sets, entry.audience, entry.id)
        destination, mode = destination_id(audience), audience.delivery.mode
        if dry_run:  # no client, no credentials: only the difference with the last delivered set
            return deliver_members(members, entry.audience, sets, destination=destination, mode=mode, dry_run=True)
        if self.clients is None:
            raise NotFoundError("delivery is not set up in this runtime (no platform clients)")
        client = self.clients(audience)
        records = not validate_only
        try:
            if records:
                self.store.registry.set_delivery(entry.id, Delivery(status="pending", destination=destination,
                                                                   mode=mode))
            report = deliver_members(members, entry.audience, sets, destination=destination, client=client,
                                     mode=mode, validate_only=validate_only)
        except SnaError as error:
            if records:
                self._record_failed_delivery(entry, destination, mode, error)
            raise
        finally:
            client.close()
        if records:
            self.store.registry.set_delivery(entry.id, Delivery(
                status=report.status, mode=report.mode, destination=report.destination,
                delivered_at=report.delivered_at, added=report.added, removed=report.removed,
                invalid=report.invalid, requests=report.requests))
            self.store.log_access("deliver", entry, f"{destination} +{report.added}/-{report.removed}")
        return report

    def preview_delivery(self, job: ExportJob) -> DeliveryReport:
        """A dry run's delivery: the run's members rendered to staging, compared with the last delivered
        set; nothing is sent, published or recorded."""
        assert job.audience.delivery is not None
        self.render(job)
        staging = self.staging(job)
        with staging.local_dir() as folder:
            members = pq.read_table(staging.get("members.parquet", folder / "members.parquet")).to_pandas()
        return deliver_members(members, job.audience_id, MemberSets(self.store.storage),
                               destination=destination_id(job.audience), mode=job.audience.delivery.mode,
                               dry_run=True)

    def _record_failed_delivery(self, entry: ExportEntry, destination: str, mode: str, error: SnaError) -> None:
        try:
            self.store.registry.set_delivery(entry.id, Delivery(status="failed", destination=destination, mode=mode))
        except SnaError:
            pass  # the registry is down too: the entry still says pending, and the error that matters propagates

    def cleanup(self, job: ExportJob) -> int:
        return self.staging(job).clear()

    # -- all stages in one go (command line, benchmark) -------------------------------------

    def run(self, job: ExportJob, *, dry_run: bool = False, deliver: bool = True) -> ExportReport:
        """Every stage in order, under the run's lease (a concurrent run of the same audience and date
        is refused); the staging area is removed whatever happens. An audience with a `delivery`
        block is then delivered (unless `deliver` is False); a failed delivery leaves the recorded
        export in place, marked failed, and raises."""
        holder = Holder(owner=f"{(job.run_id or 'sna-run')[:250]}:{uuid.uuid4().hex[:12]}", pid=os.getpid())
        with self.locks.held(job.run_key, holder):
            try:
                self.extract(job)
                stats = self.validate(job)
                if dry_run:
                    self.record_dry_run(job, stats)
                    report = self._report(job, stats, dry_run=True)
                    if deliver and job.audience.delivery is not None:
                        report.delivery = self.preview_delivery(job).to_dict()
                    return report
                self.render(job)
                self.publish(job)
                report = self.record(job)
                if deliver and job.audience.delivery is not None:
                    report.delivery = self.deliver(job).to_dict()
                return report
            except BaseException:
                if not dry_run:
                    self.drop_unrecorded_file(job)
                raise
            finally:
                try:
                    self.cleanup(job)
                except StorageError:
                    pass  # the storage failure that matters was already raised; housekeeping will sweep

    def drop_unrecorded_file(self, job: ExportJob) -> None:
        """After a failure, a published file that no entry points to must not stay."""
        try:
            staging = self.staging(job)
            if not staging.exists("publish.json"):
                return
            published = staging.get_json("publish.json")
            try:
                recorded = self.store.registry.get(published["export_id"]) is not None
            except SnaError:
                recorded = False  # the registry is unreachable: an orphan file is the worse outcome
            if not recorded:
                self.store.storage.delete(published["key"])
                self.store.storage.delete(member_set_key(job.audience_id, published["export_id"]))
        except Exception:  # noqa: BLE001 - best effort; housekeeping reconciles what is left
            pass
