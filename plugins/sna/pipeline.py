"""One export run, as five idempotent stages: extract, validate, render, publish, record.

The DAG runs each stage as its own task: stages hand data to each other through the run's
staging area in the storage (`staging.py`) and return typed hand-offs (`handoffs.py`), counts and
URIs only. `sna run` and the benchmark (`run`) do extract, validate and render in memory, as
partitions of customer ids on every core (`partitions.py`), then the same publish and record; the
files are byte for byte the same. Every stage can be rerun: its inputs and outputs have fixed
names derived from the audience and the reference date, and the published file has a fixed key,
so a rerun replaces rather than adds.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from sqlalchemy.engine import Engine

from sna.audience import (
    ADHOC_NAMESPACE as ADHOC_NAMESPACE,  # re-exported: the callers of the pipeline name it here
)
from sna.audience import Audience
from sna.delivery.base import PlatformClient
from sna.delivery.clients import destination_id
from sna.delivery.members import members_frame
from sna.delivery.sync import DeliveryReport, MemberSets, deliver_members, export_members
from sna.errors import DataContractError, NotFoundError, PermanentError, SnaError, StorageError
from sna.exports import ExportStore, member_set_key
from sna.filters import FilterPlan, SuppressionList
from sna.handoffs import (
    ExtractFacts,
    Handoff,
    PartitionPlan,
    PartSummary,
    PublishedFile,
    RenderedFile,
    SelectionStats,
)
from sna.locks import Holder, RunInProgressError, RunLocks
from sna.normalize import Profile, profile_for
from sna.partitions import (
    Partition,
    PartitionWork,
    PartResult,
    join_parts,
    keep_masks,
    plan_partitions,
    run_partition,
    run_partitions,
    warm_up_pool,
)
from sna.registry import Delivery, ExportEntry, new_export_id
from sna.render import CsvRenderer
from sna.selection import RANKING_COLUMNS, Deduplicator, Selector
from sna.settings import project_path
from sna.source.assemble import ShopReference
from sna.source.extract import ResolvedFilters, ShopReader, empty_raw_frame
from sna.staging import FrameWriter, Staging, read_frames


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


def check_accounting(scanned: int, exported: int, excluded: Mapping[str, int]) -> None:
    """`scanned = exported + sum(excluded)`, or the export is refused."""
    if scanned != exported + sum(excluded.values()):
        raise DataContractError(
            f"accounting identity broken: scanned {scanned} != exported {exported} + excluded {sum(excluded.values())}"
        )


def resumable(needs: type[Handoff], recovered: Callable[[ExportEntry], Any]) -> Callable:
    """A stage that reads the hand-off `needs` from staging. When that document is gone because the
    run already finished (a task rerun after success), the recorded export stands in for the stage's
    result (`recovered`); when nothing is recorded either, the previous stage has not run. The one
    home of the "already recorded" recovery for every stage."""

    def wrap(stage: Callable) -> Callable:
        @functools.wraps(stage)
        def run(self: ExportPipeline, job: ExportJob, *args: Any, **kwargs: Any) -> Any:
            staging = self.staging(job)
            if not staging.exists(needs.document):
                recorded = self.store.find_run(job.run_key)
                if recorded is None:
                    raise NotFoundError(f"run {job.run_key}: nothing staged by "
                                        f"{needs.document.removesuffix('.json')} (it must run first)")
                return recovered(recorded)
            return stage(self, job, staging, needs.from_json(staging.get_json(needs.document)), *args, **kwargs)
        return run
    return wrap


def report_of_entry(entry: ExportEntry) -> ExportReport:
    return ExportReport(
        audience=entry.audience, platform=entry.platform, hashing=entry.hashing, scanned=entry.scanned,
        rows=entry.rows, excluded=dict(entry.excluded), warnings=list(entry.warnings), export_id=entry.id,
        file=entry.file_uri, size=entry.size, sha256=entry.sha256, fill_rates=dict(entry.fill_rates),
    )


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
        partition_size: int = 50_000,
        workers: int = 1,
    ) -> None:
        self.source = source
        self.partition_size = partition_size
        """Customers per partition of an in-process run (`run`, `preview`; see `partitions.py`)."""
        self.workers = workers
        """Processes running partitions at once (1: in this process)."""
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

    # -- the lease: one home for both policies ------------------------------------------------

    @contextmanager
    def leased(self, job: ExportJob, holder: Holder, *, retried: bool = False, last: bool = True
               ) -> Iterator[None]:
        """Holds (takes or renews) the run's lease: a concurrent run of the same audience and date is
        refused. A whole run (`retried` False) releases it whatever happens. A task that its
        scheduler retries (`retried`: a DAG task) keeps it after a transient failure, for the retry,
        releases it when the run fails for good (a permanent error), and after success only when it
        is the `last` task (the next task takes it over otherwise)."""
        if not retried:
            with self.locks.held(job.run_key, holder):
                yield
            return
        self.locks.acquire(job.run_key, holder)
        try:
            yield
        except PermanentError as error:
            if not isinstance(error, RunInProgressError):
                self.locks.release(job.run_key, holder.owner)
            raise
        if last:
            self.locks.release(job.run_key, holder.owner)

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

    def _wants_total(self) -> bool:
        return not isinstance(self.progress, NoProgress)

    def _read(self, job: ExportJob, label: str) -> tuple[ExtractFacts, Iterator[pd.DataFrame], ShopReader]:
        """The first stage's work: the audience's groups resolved in this shop, the raw customer
        chunks (read lazily) and the reader (its warnings are known once the chunks are read)."""
        reader = self._reader(job)
        filters = job.audience.filters
        resolved = reader.resolve_filters(filters.default_groups, filters.groups_any)
        self.progress.start(label, reader.count_customers() if self._wants_total() else None)
        return ExtractFacts(scanned=0, default_group_ids=resolved.default_group_ids), \
            reader.iter_chunks(self.chunk_size, resolved.groups_any_ids), reader

    def _select_all(self, job: ExportJob, facts: ExtractFacts, chunks: Iterable[pd.DataFrame],
                    sink: FrameWriter | None) -> tuple[SelectionStats, np.ndarray]:
        """The second stage's work: every chunk selected, the duplicates found across chunks;
        returns the counts and the keep mask."""
        selector = self._selector(job, facts.default_group_ids)
        scanned, excluded, dedup = 0, Counter(), Deduplicator()
        for raw in chunks:
            selection = selector.select(raw)
            scanned += len(raw)
            excluded.update(selection.excluded)
            dedup.add(selection.candidates)
            if sink is not None:
                sink.write(selection.candidates)
            self.progress.advance(len(raw))
        if sink is not None:
            sink.close(selector.select(empty_raw_frame()).candidates)
        self.progress.finish()
        keep = dedup.keep_mask()
        duplicates = int((~keep).sum())
        if duplicates:
            excluded["duplicate_email"] += duplicates
        return self._stats(job, scanned, int(keep.sum()), excluded, facts.warnings), keep

    @staticmethod
    def _stats(job: ExportJob, scanned: int, exported: int, excluded: Mapping[str, int],
               source_warnings: Iterable[str] = ()) -> SelectionStats:
        """The counts, checked, with the reader's warnings (a missing subscriber table) before the
        platform's (too few members)."""
        check_accounting(scanned, exported, excluded)
        warnings = [*source_warnings, *profile_for(job.audience.platform).warnings(exported)]
        return SelectionStats(scanned=scanned, exported=exported, excluded=excluded, warnings=tuple(warnings))

    @staticmethod
    def _report(job: ExportJob, stats: SelectionStats, **extra: Any) -> ExportReport:
        a = job.audience
        return ExportReport(
            audience=job.audience_id, platform=a.platform, hashing=a.hashing, scanned=stats.scanned,
            rows=stats.exported, excluded=dict(stats.excluded), warnings=list(stats.warnings), **extra,
        )

    # -- in one process: partitions in memory (preview, run) -------------------------------

    def preview(self, job: ExportJob) -> ExportReport:
        """The first stages of `run` (partitions read and selected, duplicates found), nothing written."""
        _work, _results, _keeps, stats = self._partitioned(job, None, "scanning")
        return self._report(job, stats, dry_run=True)

    def _partitioned(self, job: ExportJob, folder: Path | None, label: str
                     ) -> tuple[PartitionWork, list[PartResult], list[np.ndarray], SelectionStats]:
        """Extract and validate of a run that keeps its data in memory: the shop planned into
        partitions, each read, selected and (with a folder) rendered to a part, in the pool; then
        the duplicates across partitions."""
        reader = self._reader(job)
        resolved = self._resolve(job, reader)
        partitions, counted = self._plan(job, reader)
        if self.workers > 1 and len(partitions) > 1:
            warm_up_pool()  # a shop of one partition runs in this process: no fork server for it
        work = self._work(job, reader.engine, resolved.default_group_ids, resolved.groups_any_ids, folder,
                          reference=reader.reference(resolved.groups_any_ids))
        self.progress.start(label, counted if self._wants_total() else None)
        results = list(run_partitions(work, partitions, self.workers, self.progress.advance))
        self.progress.finish()
        keeps, stats = self._tally(job, results)
        return work, results, keeps, stats

    @staticmethod
    def _resolve(job: ExportJob, reader: ShopReader) -> ResolvedFilters:
        filters = job.audience.filters
        return reader.resolve_filters(filters.default_groups, filters.groups_any)

    def _plan(self, job: ExportJob, reader: ShopReader) -> tuple[list[Partition], int]:
        if job.audience.source.include_subscribers:
            # subscribers follow every customer (the account wins over a subscription): one partition,
            # whose reader looks for the subscriber table itself (and warns, once, when it is absent)
            return [Partition(0, None, None)], reader.id_span()[2]
        return plan_partitions(reader, self.partition_size)

    def _work(self, job: ExportJob, engine: Engine, default_group_ids: Iterable[int] | None,
              groups_any_ids: Iterable[int] | None, folder: Path | None, *,
              reference: ShopReference | None = None) -> PartitionWork:
        return PartitionWork(
            engine=engine, source=job.audience.source, reader=self.source_reader, chunk_size=self.chunk_size,
            groups_any_ids=tuple(groups_any_ids) if groups_any_ids is not None else None, reference=reference,
            selector=self._selector(job, default_group_ids), folder=folder, hashing=job.audience.hashing,
            members=job.audience.delivery is not None,
        )

    def _tally(self, job: ExportJob, results: list[PartResult]) -> tuple[list[np.ndarray], SelectionStats]:
        """The one step across partitions: the duplicates by e-mail, then the run's counts."""
        keeps = keep_masks(results)
        excluded: Counter[str] = Counter()
        for result in results:
            excluded.update(result.excluded)
        exported = int(sum(int(keep.sum()) for keep in keeps))
        duplicates = sum(result.candidates for result in results) - exported
        if duplicates:
            excluded["duplicate_email"] += duplicates
        warnings = dict.fromkeys(warning for result in results for warning in result.warnings)
        stats = self._stats(job, sum(result.scanned for result in results), exported, excluded, warnings)
        return keeps, stats

    def _produce(self, job: ExportJob, staging: Staging, folder: Path, *, dry_run: bool) -> SelectionStats:
        """Extract, validate and render of `run` without a staged round trip: the joined file (and
        the members) staged with the documents `publish` and `record` read. A dry run renders only
        when it has a delivery to preview, and stages nothing."""
        renders = not dry_run or job.audience.delivery is not None
        work, results, keeps, stats = self._partitioned(job, folder if renders else None, "exporting")
        if dry_run:
            if renders:
                join_parts(work, results, keeps, folder / job.file_name)
            return stats
        staging.put_json(SelectionStats.document, stats.to_json())
        self._stage_joined(job, staging, work, results, keeps, stats, folder)
        return stats

    @staticmethod
    def _stage_joined(job: ExportJob, staging: Staging, work: PartitionWork, results: list[PartResult],
                      keeps: list[np.ndarray], stats: SelectionStats, folder: Path,
                      fetch: Callable[[Partition], None] | None = None) -> RenderedFile:
        """The parts joined into the file (and the members), staged with the document `publish` reads."""
        joined = join_parts(work, results, keeps, folder / job.file_name, fetch=fetch)
        if joined.rows != stats.exported:
            raise DataContractError(f"rendered {joined.rows} rows, {stats.exported} were selected")
        written = staging.put(folder / job.file_name, "audience.csv")
        if joined.members is not None:
            staging.put(joined.members, "members.parquet")
        rendered = RenderedFile(rows=joined.rows, size=written.size, sha256=written.sha256, staged=written.uri,
                                filled=joined.filled)
        staging.put_json(RenderedFile.document, rendered.to_json())
        return rendered

    # -- as mapped tasks (the DAG): plan, one task per partition, join -----------------------

    def plan(self, job: ExportJob) -> PartitionPlan:
        """The audience's groups resolved in this shop and its partitions, staged (`plan.json`):
        what every partition task and the join read. Counts and id ranges only."""
        reader = self._reader(job)
        resolved = self._resolve(job, reader)
        partitions, counted = self._plan(job, reader)
        plan = PartitionPlan(counted=counted, partitions=tuple((p.index, p.first_id, p.last_id) for p in partitions),
                             default_group_ids=resolved.default_group_ids, groups_any_ids=resolved.groups_any_ids)
        self.staging(job).put_json(PartitionPlan.document, plan.to_json())
        return plan

    @resumable(needs=PartitionPlan, recovered=lambda entry: None)
    def export_partition(self, job: ExportJob, staging: Staging, plan: PartitionPlan, index: int, *,
                         render: bool = True) -> PartSummary | None:
        """One partition of the plan read, selected and (`render`) rendered to its part; the part,
        its ranking facts and its counts staged under `parts/part-<index>`. A rerun replaces them.
        None when the run was already recorded (a task rerun after success)."""
        index, first_id, last_id = next(p for p in plan.partitions if p[0] == index)
        partition = Partition(index, first_id, last_id)
        stem = PartSummary.stem(index)
        with staging.local_dir() as folder:
            work = self._work(job, self.source_for(job.audience), plan.default_group_ids, plan.groups_any_ids,
                              folder if render else None)
            result = run_partition(work, partition)
            arrays = {name: result.array(name) for name in (PartResult.SPILLED if render else ("facts",))}
            if render:
                staging.put(work.csv_part(partition), f"{stem}.csv")
                if work.members:
                    staging.put(work.members_part(partition), f"{stem}.members.parquet")
            np.savez(folder / "arrays.npz", **arrays)
            staging.put(folder / "arrays.npz", f"{stem}.npz")
        summary = PartSummary(index=index, scanned=result.scanned, candidates=result.candidates,
                              excluded=result.excluded, warnings=tuple(result.warnings),
                              used_reader=result.used_reader, rendered=render)
        staging.put_json(PartSummary.document_of(index), summary.to_json())
        return summary

    @resumable(needs=PartitionPlan, recovered=SelectionStats.of_entry)
    def join(self, job: ExportJob, staging: Staging, plan: PartitionPlan, *, render: bool = True
             ) -> SelectionStats:
        """Every partition's ranking facts -> the duplicates across partitions and the run's counts
        (`validate.json`); with `render`, the parts without their losers joined into the file, in
        order, under one header (`render.json`), each part fetched from staging when its turn comes."""
        with staging.local_dir() as folder:
            results = [self._staged_result(staging, index, first, last, folder, render=render)
                       for index, first, last in plan.partitions]
            keeps, stats = self._tally(job, results)
            staging.put_json(SelectionStats.document, stats.to_json())
            if render:
                work = self._work(job, self.source_for(job.audience), plan.default_group_ids, plan.groups_any_ids,
                                  folder)

                def fetch(partition: Partition) -> None:
                    stem = PartSummary.stem(partition.index)
                    staging.get(f"{stem}.csv", work.csv_part(partition))
                    if work.members:
                        staging.get(f"{stem}.members.parquet", work.members_part(partition))

                self._stage_joined(job, staging, work, results, keeps, stats, folder, fetch=fetch)
        return stats

    @staticmethod
    def _staged_result(staging: Staging, index: int, first_id: int | None, last_id: int | None, folder: Path, *,
                       render: bool) -> PartResult:
        """A partition task's result, read back from staging (its counts and arrays, not its part)."""
        document = PartSummary.document_of(index)
        if not staging.exists(document):
            raise NotFoundError(f"run staging: partition {index} was not exported (its task must run first)")
        summary = PartSummary.from_json(staging.get_json(document))
        if render and not summary.rendered:
            raise NotFoundError(f"run staging: partition {index} was exported as a dry run (no part of the file)")
        with np.load(staging.get(f"{PartSummary.stem(index)}.npz", folder / f"part-{index:06d}.npz")) as arrays:
            loaded = {name: arrays[name] for name in arrays.files}
        return PartResult(Partition(index, first_id, last_id), scanned=summary.scanned,
                          excluded=Counter(summary.excluded), facts=loaded["facts"], lengths=loaded.get("lengths"),
                          control=loaded.get("control"), filled=loaded.get("filled"),
                          used_reader=summary.used_reader, warnings=list(summary.warnings))

    # -- the five stages --------------------------------------------------------------------

    def extract(self, job: ExportJob) -> ExtractFacts:
        """Shop database -> staged raw customers (`extract.parquet`)."""
        facts, chunks, reader = self._read(job, "extracting")
        staging = self.staging(job)
        with staging.local_dir() as folder:
            writer = FrameWriter(folder / "extract.parquet")
            for chunk in chunks:
                writer.write(chunk)
                self.progress.advance(len(chunk))
            writer.close(empty_raw_frame())
            staging.put(writer.path, "extract.parquet")
        self.progress.finish()
        facts = replace(facts, scanned=writer.rows, staged=staging.uri("extract.parquet"),
                        warnings=tuple(reader.warnings))
        staging.put_json(ExtractFacts.document, facts.to_json())
        return facts

    @resumable(needs=ExtractFacts, recovered=SelectionStats.of_entry)
    def validate(self, job: ExportJob, staging: Staging, facts: ExtractFacts) -> SelectionStats:
        """Staged raw customers -> staged candidate rows, the de-duplication mask and the counts."""
        self.progress.start("validating", facts.scanned)
        with staging.local_dir() as folder:
            raw = staging.get("extract.parquet", folder / "extract.parquet")
            sink = FrameWriter(folder / "candidates.parquet")
            stats, keep = self._select_all(job, facts, read_frames(raw, batch_rows=self.chunk_size), sink)
            np.save(folder / "keep.npy", keep)
            staging.put(sink.path, "candidates.parquet")
            staging.put(folder / "keep.npy", "keep.npy")
        if stats.scanned != facts.scanned:
            raise DataContractError(f"staged extract holds {stats.scanned} rows, {facts.scanned} were extracted")
        staging.put_json(SelectionStats.document, stats.to_json())
        return stats

    @resumable(needs=SelectionStats, recovered=RenderedFile.of_entry)
    def render(self, job: ExportJob, staging: Staging, stats: SelectionStats) -> RenderedFile:
        """Candidate rows -> the platform CSV (header, hashing, exact columns), staged."""
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
            if renderer.rows != stats.exported:
                raise DataContractError(f"rendered {renderer.rows} rows, {stats.exported} were selected")
            written = staging.put(output, "audience.csv")
            if members is not None:
                no_rows = pd.DataFrame({c: pd.Series(dtype="str") for c in profile.file_header(with_value=with_value)})
                members.close(members_frame(job.audience.platform, no_rows, with_value=with_value))
                staging.put(members.path, "members.parquet")
        rendered = RenderedFile(rows=renderer.rows, size=written.size, sha256=written.sha256, staged=written.uri,
                                filled=filled)
        staging.put_json(RenderedFile.document, rendered.to_json())
        return rendered

    @resumable(needs=RenderedFile, recovered=PublishedFile.of_entry)
    def publish(self, job: ExportJob, staging: Staging, rendered: RenderedFile) -> PublishedFile:
        """The staged CSV -> a key of its own (a server-side copy, encrypted on S3).

        The key carries the export id, so the file an earlier entry of the same run describes is
        never touched here: it is replaced only when `record` swaps the entries in one transaction.
        A retried publish reuses its own unrecorded key."""
        earlier = PublishedFile.from_json(staging.get_json(PublishedFile.document)) \
            if staging.exists(PublishedFile.document) else None
        export_id = earlier.export_id if earlier else new_export_id()
        key = job.file_key(export_id)
        storage = self.store.storage
        published = PublishedFile.of_rendered(rendered, file=storage.uri(key), key=key, export_id=export_id)
        staging.put_json(PublishedFile.document, published.to_json())  # written before the file: a crash
        # after the copy leaves a file that the run's next try reuses (or its clean-up deletes), never an unknown key
        if staging.exists("members.parquet"):
            storage.copy(staging.key("members.parquet"), member_set_key(job.audience_id, export_id))
        storage.copy(staging.key("audience.csv"), key)
        if storage.size(key) != rendered.size:
            raise StorageError(f"published file {storage.uri(key)} is incomplete")
        return published

    @resumable(needs=PublishedFile, recovered=report_of_entry)
    def record(self, job: ExportJob, staging: Staging, published: PublishedFile) -> ExportReport:
        """The export entry, once its file is complete; then the staging area is removed."""
        stats = SelectionStats.from_json(staging.get_json(SelectionStats.document))
        if not self.store.storage.exists(published.key) or self.store.storage.size(published.key) != published.size:
            raise StorageError(f"published file {published.file} is missing or incomplete")
        a = job.audience
        entry = ExportEntry(
            id=published.export_id,
            run_key=job.run_key,
            audience=job.audience_id,
            platform=a.platform,
            hashing=a.hashing,
            filters=a.applied_filters(),
            reference_date=job.reference_date,
            created_at=datetime.now(UTC),
            file_uri=published.file,
            file_key=published.key,
            size=published.size,
            sha256=published.sha256,
            rows=stats.exported,
            scanned=stats.scanned,
            excluded=dict(stats.excluded),
            warnings=list(stats.warnings),
            dag_run_id=job.run_id,
            fill_rates=published.fill_rates(stats.exported),
        )
        self.store.commit(entry, discard_on_failure=False)  # kept for a retry; `run` or the DAG drops it
        staging.clear()
        return report_of_entry(entry)

    def record_dry_run(self, job: ExportJob, stats: SelectionStats) -> None:
        """A dry run's counts (`validate`'s), recorded so the page can show it: no file, no export entry.
        It replaces the dry run of the same audience and date; its audience's dry runs older than the
        audience's retention are dropped."""
        from sna.registry.dry_runs import DryRun

        now = datetime.now(UTC)
        a = job.audience
        self.store.record_dry_run(DryRun(
            id=new_export_id(now), run_key=job.run_key, audience=job.audience_id, platform=a.platform,
            hashing=a.hashing, filters=a.applied_filters(), reference_date=job.reference_date, created_at=now,
            scanned=stats.scanned, rows=stats.exported, excluded=dict(stats.excluded),
            warnings=list(stats.warnings), dag_run_id=job.run_id,
        ), keep_after=now - timedelta(days=a.retention_days))

    # -- deliver: the recorded export -> the platform ---------------------------------------

    def deliver(self, job: ExportJob, *, dry_run: bool = False, validate_only: bool = False) -> DeliveryReport:
        """The run's recorded export to its platform, sending only what changed (`sna.delivery.sync`)."""
        entry = self.store.find_run(job.run_key)
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
                self.store.set_delivery(entry.id, Delivery(status="pending", destination=destination, mode=mode))
            report = deliver_members(members, entry.audience, sets, destination=destination, client=client,
                                     mode=mode, validate_only=validate_only)
        except SnaError as error:
            if records:
                self._record_failed_delivery(entry, destination, mode, error)
            raise
        finally:
            client.close()
        if records:
            self.store.set_delivery(entry.id, Delivery(
                status=report.status, mode=report.mode, destination=report.destination,
                delivered_at=report.delivered_at, added=report.added, removed=report.removed,
                invalid=report.invalid, requests=report.requests))
            self.store.log_access("deliver", entry, f"{destination} +{report.added}/-{report.removed}")
        return report

    def preview_delivery(self, job: ExportJob, members_file: Path) -> DeliveryReport:
        """A dry run's delivery: the run's members (rendered by `run`), compared with the last delivered
        set; nothing is sent, published or recorded."""
        assert job.audience.delivery is not None
        members = pq.read_table(members_file).to_pandas()
        return deliver_members(members, job.audience_id, MemberSets(self.store.storage),
                               destination=destination_id(job.audience), mode=job.audience.delivery.mode,
                               dry_run=True)

    def _record_failed_delivery(self, entry: ExportEntry, destination: str, mode: str, error: SnaError) -> None:
        try:
            self.store.set_delivery(entry.id, Delivery(status="failed", destination=destination, mode=mode))
        except SnaError:
            pass  # the registry is down too: the entry still says pending, and the error that matters propagates

    def cleanup(self, job: ExportJob) -> int:
        return self.staging(job).clear()

    # -- all stages in one go (command line, benchmark) -------------------------------------

    def run(self, job: ExportJob, *, dry_run: bool = False, deliver: bool = True) -> ExportReport:
        """Every stage in order, under the run's lease (a concurrent run of the same audience and date
        is refused): extract, validate and render as partitions in memory (`_produce`), then
        publish and record; the staging area is removed whatever happens. An audience with a `delivery`
        block is then delivered (unless `deliver` is False); a failed delivery leaves the recorded
        export in place, marked failed, and raises."""
        holder = Holder(owner=f"{(job.run_id or 'sna-run')[:250]}:{uuid.uuid4().hex[:12]}", pid=os.getpid())
        with self.leased(job, holder):
            try:
                staging = self.staging(job)
                with staging.local_dir() as folder:
                    stats = self._produce(job, staging, folder, dry_run=dry_run)
                    if dry_run:
                        self.record_dry_run(job, stats)
                        report = self._report(job, stats, dry_run=True)
                        if deliver and job.audience.delivery is not None:
                            report.delivery = self.preview_delivery(job, folder / "members.parquet").to_dict()
                        return report
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
            if not staging.exists(PublishedFile.document):
                return
            published = PublishedFile.from_json(staging.get_json(PublishedFile.document))
            try:
                recorded = self.store.find(published.export_id) is not None
            except SnaError:
                recorded = False  # the registry is unreachable: an orphan file is the worse outcome
            if not recorded:
                self.store.storage.delete(published.key)
                self.store.storage.delete(member_set_key(job.audience_id, published.export_id))
        except Exception:  # noqa: BLE001 - best effort; housekeeping reconciles what is left
            pass
