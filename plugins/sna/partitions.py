"""An export as partitions of customer ids: planned, run on every core, then joined into one file.

A partition is a range of `id_customer` holding about `partition_size` customers. Each one is
self-contained: its customers, addresses and orders are read by indexed range queries, then
normalized, filtered and rendered to a part of the file (`run_partition`). The only step across
partitions is the de-duplication by normalized e-mail: each part hands back its candidates'
64-bit keys (8 bytes a row; the ranking facts and the lines' lengths stay in files beside its
part), one small pass finds the keys seen more than once and ranks only their rows' facts
(`keep_masks`, `Deduplicator`'s ranking), and each part drops its losers when the parts are
joined, in order, under one header (`join_parts`). The file is byte for byte the one the staged stages write: the same rows,
chosen by the same ranking, encoded by the same code.

Partitions run in a process pool (`workers`; 1: in the caller's process). The workers are forked
from the caller while that is safe (no thread of its own, no read with connectorx yet: a fresh `sna
run`), so they start at once with its libraries loaded; otherwise they come from a fork server (a
clean process started once, the heavy libraries and the engine preloaded), because a plain fork of
a process that has already read with connectorx crashes in connectorx's next read. Each worker
receives the run's `PartitionWork` once, pickled (the shop engine travels as its URL and is opened
again there, never shared with the caller) and holds only its partition in flight: memory is
bounded by `workers x partition` plus the caller's keys (8 bytes a candidate), not by the shop.
"""

from __future__ import annotations

import ctypes
import math
import multiprocessing
import os
import pickle
import sys
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from sqlalchemy.engine import URL, Engine
from sqlalchemy.exc import OperationalError

from sna.audience import SourceSpec
from sna.delivery.members import members_frame
from sna.errors import PermanentError, SnaError, SourceError
from sna.render import check_control_characters, encode_rows, header_line
from sna.selection import KEY, NO_KEY, RANKING_COLUMNS, Deduplicator, Selector, ranking_facts
from sna.source.assemble import ShopReference
from sna.source.extract import IdSpan, ShopReader, empty_raw_frame
from sna.staging import FrameWriter


@dataclass(frozen=True)
class Partition:
    """Customer ids `first_id` to `last_id`, both included; None: open on that side (the first and
    the last partition), so that no customer falls outside the plan."""

    index: int
    first_id: int | None
    last_id: int | None

    @property
    def span(self) -> IdSpan | None:
        return None if self.first_id is None and self.last_id is None else (self.first_id, self.last_id)


def plan_partitions(reader: ShopReader, size: int) -> tuple[list[Partition], int]:
    """Partitions of about `size` customers each, and the number of customers counted.

    Cut by arithmetic on the lowest and highest id when the ids are dense (at most one id in ten
    unused), else by an id scan (every `size`-th id), so that a shop with gaps in its ids still
    gets partitions of the size asked for."""
    low, high, count = reader.id_span()
    if count <= size or low is None or high is None:
        return [Partition(0, None, None)], count
    parts = math.ceil(count / size)
    if (high - low + 1) * 10 <= count * 11:
        starts = [low + (high - low + 1) * i // parts for i in range(parts)]  # distinct: ids >= parts
    else:
        starts = reader.every_nth_id(size)
    return [
        Partition(index, None if index == 0 else first, starts[index + 1] - 1 if index + 1 < len(starts) else None)
        for index, first in enumerate(starts)
    ], count


@dataclass(frozen=True)
class PartitionWork:
    """What every partition of one run shares (sent to each worker once, when it starts)."""

    engine: Engine
    source: SourceSpec
    reader: str
    chunk_size: int
    groups_any_ids: tuple[int, ...] | None
    reference: ShopReference | None
    """The shop's small tables, read once for every partition of a run in one process (None: each
    partition reads them, as a DAG's partition tasks do)."""
    selector: Selector
    folder: Path | None
    """Where the parts are written; None: select only, nothing written (a preview)."""
    hashing: str = "none"
    members: bool = False
    """Write each part's delivery members too (an audience with a `delivery` block)."""

    @property
    def with_value(self) -> bool:
        return self.selector.with_value

    def __getstate__(self) -> dict:
        return {**self.__dict__, "engine": self.engine.url}  # an engine does not cross processes; its URL does

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update({**state, "engine": _engine_of(state["engine"])})

    def csv_part(self, partition: Partition) -> Path:
        return self.folder / f"part-{partition.index:06d}.csv"

    def members_part(self, partition: Partition) -> Path:
        return self.folder / f"part-{partition.index:06d}.members.parquet"

    def spilled(self, partition: Partition, name: str) -> Path:
        return spilled_array(self.folder, partition, name)


def spilled_array(folder: Path, partition: Partition, name: str) -> Path:
    """A part's array (`facts`, `lengths`, `control`, `filled`) kept in a file beside the part."""
    return folder / f"part-{partition.index:06d}.{name}.npy"


@dataclass
class PartResult:
    """What a partition hands back to the join: counts, ranking facts, and how to cut its part.

    A rendering run's parts keep their arrays in files (`spill`: the run's folder, see
    `PartitionWork.spilled`) and only the candidates' `keys` in memory, so that the caller holds 8
    bytes a candidate, not 60; `array` reads either."""

    partition: Partition
    scanned: int = 0
    excluded: Counter[str] = field(default_factory=Counter)
    facts: np.ndarray | None = None
    lengths: np.ndarray | None = None
    control: np.ndarray | None = None
    filled: np.ndarray | None = None
    used_reader: str | None = None
    warnings: list[str] = field(default_factory=list)
    """The reader's warnings (a subscriber table that is absent): names and counts only."""
    peak_rss_kb: int = 0
    """The peak resident memory of the process that ran the partition (Linux; 0 elsewhere)."""
    keys: np.ndarray | None = None
    """The candidates' e-mail keys when `facts` is in a file (else they are `facts`' KEY)."""
    spill: Path | None = None

    SPILLED = ("facts", "lengths", "control", "filled")

    @property
    def candidates(self) -> int:
        return len(self.key_array())

    def key_array(self) -> np.ndarray:
        return self.keys if self.keys is not None else self.facts[KEY]

    def array(self, name: str) -> np.ndarray:
        """`facts`, `lengths`, `control` or `filled`: in memory, or mapped from the part's file."""
        value = getattr(self, name)
        if value is not None or self.spill is None:
            return value
        return np.load(spilled_array(self.spill, self.partition, name), mmap_mode="r")

    def drop_spilled(self) -> None:
        if self.spill is not None:
            for name in self.SPILLED:
                spilled_array(self.spill, self.partition, name).unlink(missing_ok=True)


def run_partition(work: PartitionWork, partition: Partition, advance: Callable[[int], None] | None = None
                  ) -> PartResult:
    """One partition read, selected and (with a folder) rendered to its part, chunk by chunk."""
    reader = ShopReader(work.engine, work.source, reader=work.reader)
    selector, profile = work.selector, work.selector.profile
    result = PartResult(partition)
    facts, lengths, control, filled = [], [], [], []
    stream = work.csv_part(partition).open("wb") if work.folder is not None else None
    members = FrameWriter(work.members_part(partition)) if work.folder is not None and work.members else None
    try:
        for raw in reader.iter_chunks(work.chunk_size, work.groups_any_ids, span=partition.span,
                                      reference=work.reference):
            if advance is not None:
                advance(len(raw))  # as soon as read: the rows the run has read so far
            selection = selector.select(raw)
            result.scanned += len(raw)
            result.excluded.update(selection.excluded)
            facts.append(ranking_facts(selection.candidates))
            if stream is not None:
                rows = selection.candidates.drop(columns=list(RANKING_COLUMNS))
                encoded = encode_rows(rows, profile, hashing=work.hashing, with_value=work.with_value)
                stream.write(encoded.data)
                lengths.append(encoded.lengths)
                control.append(encoded.control)
                filled.append(encoded.filled)
                if members is not None:
                    members.write(members_frame(profile.platform, rows, with_value=work.with_value))
    finally:
        if stream is not None:
            stream.close()
    if members is not None:
        members.close(members_frame(profile.platform, _no_rows(work), with_value=work.with_value))
    # a partition with no chunk at all still hands back facts of the right shape (selecting nothing
    # costs as much as a small chunk: only then)
    result.facts = np.concatenate(facts) if facts else ranking_facts(selector.select(empty_raw_frame()).candidates)
    if work.folder is not None:
        columns = len(profile.file_header(with_value=work.with_value))
        result.lengths = np.concatenate(lengths) if lengths else np.zeros(0, dtype=np.int64)
        result.control = np.concatenate(control) if control else np.zeros(0, dtype=np.int16)
        result.filled = np.concatenate(filled) if filled else np.zeros((0, columns), dtype=bool)
        result.keys = np.array(result.facts[KEY])
        for name in PartResult.SPILLED:
            np.save(work.spilled(partition, name), getattr(result, name))
            setattr(result, name, None)
        result.spill = work.folder
    result.used_reader = reader.used_reader
    result.warnings = list(reader.warnings)
    result.peak_rss_kb = _peak_rss_kb()
    return result


def _peak_rss_kb() -> int:
    try:
        with open("/proc/self/status") as status:
            return next((int(line.split()[1]) for line in status if line.startswith("VmHWM:")), 0)
    except OSError:
        return 0


WORKERS_PEAK: dict[str, int | str] = {"workers": 0, "kb": 0, "start_method": ""}
"""The last pool of this process: its size, the highest peak memory a worker reported (the
benchmark adds `workers x kb` to the caller's own peak) and how its workers started (`fork` or
`forkserver`)."""


def _no_rows(work: PartitionWork) -> pd.DataFrame:
    header = work.selector.profile.file_header(with_value=work.with_value)
    return pd.DataFrame({c: pd.Series(dtype="str") for c in header})


# -- the pool -------------------------------------------------------------------------------------

PRELOADED = ("numpy", "pandas", "pyarrow", "pyarrow.compute", "pyarrow.parquet", "sqlalchemy", "phonenumbers",
             "connectorx", "sna.pipeline")
"""What the fork server imports once for every worker: the heavy libraries and the engine (each worker
importing `sna` itself cost it 0.5 to 1 s), from the caller's `sys.path` (`_server_path`)."""


@contextmanager
def _server_path() -> Iterator[None]:
    """The caller's own `sys.path` entries (a source tree, pytest's `pythonpath`) as the PYTHONPATH of
    the fork server it starts: Python 3.11 passes the caller's `sys.path` to the server and ignores it,
    so the server would import `sna` from the installed copy, or not at all, while the caller runs
    another tree (a worktree beside an editable install)."""
    own = [entry for entry in sys.path
           if entry and not entry.startswith((sys.prefix, sys.base_prefix, sys.exec_prefix))]
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([*own, *([saved] if saved else [])])
    try:
        yield
    finally:
        if saved is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = saved


_WORK: PartitionWork | None = None
"""In a worker: the run's shared work, received once (`_start_worker`)."""
_ENGINES: dict[str, Engine] = {}


def _engine_of(url: URL) -> Engine:
    """The shop engine of a worker, opened as `sna run` opens it (one per URL and process)."""
    from sna.runtime import create_source_engine

    key = url.render_as_string(hide_password=False)
    if key not in _ENGINES:
        _ENGINES[key] = create_source_engine(key)
    return _ENGINES[key]


M_ARENA_MAX = -8
"""glibc's `mallopt` parameter: how many malloc arenas the process may create."""


def _limit_malloc_arenas(arenas: int = 2) -> None:
    """connectorx leaves its connection pool's three threads behind after every read (never joined),
    and glibc gives each thread that allocates an arena of its own, up to eight a core: a worker's
    memory grew with the partitions it read. A no-op where the C library is not glibc."""
    try:
        ctypes.CDLL(None).mallopt(M_ARENA_MAX, arenas)
    except (OSError, AttributeError):
        pass


def _start_worker(pickled_work: bytes) -> None:
    """The run's work, pickled by the caller whatever the start method: even a forked worker opens
    its own shop engine (`PartitionWork.__setstate__`) instead of sharing the caller's connections."""
    global _WORK
    _limit_malloc_arenas()
    _WORK = pickle.loads(pickled_work)


def _run_in_worker(partition: Partition) -> PartResult:
    return run_partition(_WORK, partition)


def _fork_is_safe() -> bool:
    """A plain fork copies a process as it is: safe while it runs no Python thread and has never read
    with connectorx (whose runtime's threads a child does not get back; `arrow.READ_HERE`). The other
    threads of a fresh process (OpenBLAS's, jemalloc's) reset themselves after a fork."""
    from sna.source.arrow import READ_HERE

    return ("fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1
            and os.getpid() not in READ_HERE)


def _pool_context() -> multiprocessing.context.BaseContext | None:
    """How the workers start: forked from this process while that is safe (at once, sharing its loaded
    libraries: `sna run` of a fresh process), else from the fork server, the heavy libraries preloaded
    (its start costs about a second, once per process); None where neither exists (in process)."""
    if _fork_is_safe():
        return multiprocessing.get_context("fork")
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return None
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(PRELOADED))
    return context


def _uses_fork_server(context: multiprocessing.context.BaseContext | None) -> bool:
    return context is not None and context.get_start_method() == "forkserver"


def _start_fork_server() -> None:
    """The fork server, started once per process, with the caller's sys.path (`_server_path`)."""
    from multiprocessing import forkserver

    with _server_path():
        forkserver.ensure_running()


def warm_up_pool() -> None:
    """Starts the fork server before the partitions are handed out, when the workers will come from it."""
    if _uses_fork_server(_pool_context()):
        _start_fork_server()


RETRIES = 2
"""How many times a partition that failed transiently runs again (alone: the others' results stay)."""


def _transient(error: BaseException) -> bool:
    """A failure that another try may not meet: a service error (not a permanent one) or a worker died."""
    if isinstance(error, PermanentError):
        return False
    return isinstance(error, (SnaError, OperationalError, BrokenProcessPool))


def _died(partition: Partition) -> SourceError:
    return SourceError(f"the worker process of partition {partition.index} died {RETRIES + 1} times "
                       "(killed or out of memory)")


def run_partitions(work: PartitionWork, partitions: Sequence[Partition], workers: int,
                   advance: Callable[[int], None]) -> Iterator[PartResult]:
    """The partitions' results in partition order. With more than one worker (and more than one
    partition) they run in a pool of the fork server's processes, at most two per worker in flight; the
    progress advances per chunk in process, per partition from a pool. A partition that fails
    transiently (a service error, its worker died) runs again alone, up to `RETRIES` times, the
    others' results kept (a dead worker breaks its pool: a new one runs what was in flight); a
    permanent error fails the run at once."""
    context = _pool_context()
    if workers <= 1 or len(partitions) <= 1 or context is None:
        for partition in partitions:
            yield _run_here(work, partition, advance)
        return
    if _uses_fork_server(context):
        _start_fork_server()  # a no-op when the caller started it earlier (warm_up_pool)
    size = min(workers, len(partitions))
    WORKERS_PEAK.update(workers=size, kb=0, start_method=context.get_start_method())
    pool = _new_pool(work, size, context)
    try:
        queue = iter(partitions)
        flight = deque([p, pool.submit(_run_in_worker, p), 0] for p in islice(queue, 2 * workers))
        while flight:
            partition, future, tries = flight[0]
            try:
                result = future.result()
            except BrokenProcessPool:
                # every partition in flight that was not done is lost with the pool: a new pool runs them
                if tries >= RETRIES:
                    raise _died(partition) from None
                pool.shutdown(wait=True)
                pool = _new_pool(work, size, context)
                for slot in flight:
                    if slot[1].done() and not isinstance(slot[1].exception(), BrokenProcessPool):
                        continue  # a result (or its own error) that came before the pool broke
                    slot[1], slot[2] = pool.submit(_run_in_worker, slot[0]), slot[2] + 1
                continue
            except Exception as error:
                if not _transient(error) or tries >= RETRIES:
                    raise
                flight[0] = [partition, pool.submit(_run_in_worker, partition), tries + 1]
                continue
            flight.popleft()
            following = next(queue, None)
            if following is not None:
                flight.append([following, pool.submit(_run_in_worker, following), 0])
            WORKERS_PEAK["kb"] = max(WORKERS_PEAK["kb"], result.peak_rss_kb)
            advance(result.scanned)
            yield result
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _new_pool(work: PartitionWork, size: int, context: multiprocessing.context.BaseContext) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=size, mp_context=context, initializer=_start_worker,
                               initargs=(pickle.dumps(work),))


def _run_here(work: PartitionWork, partition: Partition, advance: Callable[[int], None]) -> PartResult:
    """One partition in this process, tried again like a pool's; a try advances the progress only
    past the rows the tries before it reported."""
    reported = 0
    for tries in range(RETRIES + 1):
        read = 0

        def step(rows: int) -> None:
            nonlocal read, reported
            read += rows
            if read > reported:
                advance(read - reported)
                reported = read

        try:
            return run_partition(work, partition, step)
        except Exception as error:
            if not _transient(error) or tries >= RETRIES:
                raise
    raise AssertionError("unreachable")


# -- the join -------------------------------------------------------------------------------------

def keep_masks(results: Sequence[PartResult]) -> list[np.ndarray]:
    """Per part, the candidates to keep: one row per e-mail across every partition, chosen as
    `Deduplicator` chooses. Only the rows whose key occurs more than once are ranked, their facts
    read part by part: the keys (8 bytes a candidate, sorted once) are all that scales with the shop."""
    keys = [result.key_array() for result in results]
    masks = [np.ones(len(k), dtype=bool) for k in keys]
    if not keys:
        return masks
    every = np.concatenate(keys)
    every.sort()
    repeated = np.unique(every[1:][every[1:] == every[:-1]])
    del every
    repeated = repeated[repeated != NO_KEY]
    if not len(repeated):
        return masks
    picks = []
    for k in keys:
        at = np.minimum(np.searchsorted(repeated, k), len(repeated) - 1)
        picks.append(repeated[at] == k)
    dedup = Deduplicator()
    dedup.add_facts(np.concatenate([np.asarray(result.array("facts")[pick])
                                    for result, pick in zip(results, picks, strict=True)]))
    keep = dedup.keep_mask()  # the rows in the parts' order, as the ranking over every row sees them
    start = 0
    for mask, pick in zip(masks, picks, strict=True):
        taken = int(pick.sum())
        mask[pick] = keep[start:start + taken]
        start += taken
    return masks


@dataclass(frozen=True)
class JoinedFile:
    rows: int
    filled: dict[str, int]
    members: Path | None


def join_parts(work: PartitionWork, results: Sequence[PartResult], keeps: Sequence[np.ndarray], output: Path,
               fetch: Callable[[Partition], None] | None = None) -> JoinedFile:
    """The parts in order under one header, each without its losers; each part is deleted once
    copied. With members, the parts' members the same way (`members.parquet` beside the output).
    `fetch` brings a part into the work's folder just before its turn (a DAG's parts are staged), so
    that at most one part is on disk beside the file."""
    profile = work.selector.profile
    columns = profile.file_header(with_value=work.with_value)
    filled = np.zeros(len(columns), dtype=np.int64)
    rows = 0
    members = FrameWriter(output.with_name("members.parquet")) if work.members else None
    with output.open("wb") as out:
        out.write(header_line(columns))
        for result, keep in zip(results, keeps, strict=True):
            check_control_characters(profile, columns, np.asarray(result.array("control"))[keep])
            if fetch is not None:
                fetch(result.partition)
            part = work.csv_part(result.partition)
            data = np.fromfile(part, dtype=np.uint8)
            out.write(data.tobytes() if keep.all() else data[np.repeat(keep, result.array("lengths"))].tobytes())
            part.unlink()
            filled += np.asarray(result.array("filled"))[keep].sum(axis=0)
            result.drop_spilled()
            rows += int(keep.sum())
            if members is not None:
                member_part = work.members_part(result.partition)
                members.write(pq.read_table(member_part).to_pandas()[keep].reset_index(drop=True))
                member_part.unlink()
    if members is not None:
        members.close(members_frame(profile.platform, _no_rows(work), with_value=work.with_value))
    return JoinedFile(rows, {c: int(n) for c, n in zip(columns, filled, strict=True)},
                      members.path if members is not None else None)
