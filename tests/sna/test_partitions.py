"""The partitioned engine (`sna run`) against the staged stages (the DAG's tasks, the engine before
partitions), kept as the oracle: the same file byte for byte and the same counts, whatever the
partition size and the number of worker processes, on the demo shops in SQLite and MariaDB."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from sna.audience import Audience
from sna.errors import DataContractError
from sna.exports import ExportStore
from sna.partitions import plan_partitions
from sna.pipeline import ExportJob, ExportPipeline
from sna.registry import Registry
from sna.source.extract import ShopReader
from sna.storage import LocalStorage
from sna_demo import write_demo_shop
from tests.fixtures.mariadb import _create_database, _database_url, _drop_database
from tests.sna.flaky import make_flaky

REFERENCE = date(2026, 11, 1)
EVERYTHING = 100_000_000
SMALL = 120
AUDIENCES = [
    Audience(name="p_google", platform="google", require_complete=False),
    Audience(name="p_meta", platform="meta", hashing="sha256", value="total_spent", require_complete=False),
]


def store_at(folder: Path) -> ExportStore:
    registry = Registry(f"sqlite:///{folder / 'registry.db'}")
    registry.ensure_schema()
    return ExportStore(LocalStorage(folder / "exports"), registry)


def staged_export(engine: sa.Engine, audience: Audience, folder: Path) -> tuple[bytes, dict, int]:
    """The oracle: extract, validate and render one after the other through the staging area."""
    pipeline = ExportPipeline(engine, store_at(folder), project_root=folder, chunk_size=1000)
    job = ExportJob(audience, REFERENCE)
    pipeline.extract(job)
    stats = pipeline.validate(job)
    pipeline.render(job)
    staging = pipeline.staging(job)
    with staging.local_dir() as local:
        content = staging.get("audience.csv", local / "audience.csv").read_bytes()
    pipeline.cleanup(job)
    return content, dict(stats.excluded), stats.scanned


def partitioned_export(engine: sa.Engine, audience: Audience, folder: Path, *, size: int, workers: int
                       ) -> tuple[bytes, dict, int]:
    store = store_at(folder)
    pipeline = ExportPipeline(engine, store, project_root=folder, chunk_size=1000, partition_size=size,
                              workers=workers)
    report = pipeline.run(ExportJob(audience, REFERENCE))
    content = (folder / "exports" / store.get(report.export_id).file_key).read_bytes()
    assert [info.key for info in store.storage.list("_staging/")] == []
    return content, report.excluded, report.scanned


@pytest.fixture(params=["sqlite", "mariadb"])
def demo_engine(request):
    url = request.getfixturevalue("demo_shop_sqlite" if request.param == "sqlite" else "demo_shop_mariadb")
    engine = sa.create_engine(url)
    yield engine
    engine.dispose()


@pytest.mark.parametrize("size, workers", [(7, 2), (1000, 1), (1000, 2), (EVERYTHING, 2)])
def test_the_partition_size_never_changes_the_file(demo_engine, size, workers, tmp_path):
    for audience in AUDIENCES:
        expected = staged_export(demo_engine, audience, tmp_path / f"oracle_{audience.name}")
        got = partitioned_export(demo_engine, audience, tmp_path / audience.name, size=size, workers=workers)
        assert got[1] == expected[1] and got[2] == expected[2], "the same counts"
        assert got[0] == expected[0], f"{audience.name}: the same file, byte for byte"
        assert expected[1]["duplicate_email"] > 0


@pytest.fixture(params=["sqlite", "mariadb"])
def small_shop(request, tmp_path):
    """A small demo shop: a partition per customer stays quick."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'small.db'}"
        write_demo_shop(url, customers=SMALL, seed=11, as_of=REFERENCE)
        engine = sa.create_engine(url)
        yield engine
        engine.dispose()
        return
    request.getfixturevalue("mariadb_server")
    name = _create_database()
    try:
        write_demo_shop(_database_url(name), customers=SMALL, seed=11, as_of=REFERENCE)
        engine = sa.create_engine(_database_url(name))
        yield engine
        engine.dispose()
    finally:
        _drop_database(name)


def duplicated_across(engine: sa.Engine) -> int:
    """E-mails shared by a guest and an account (in different partitions when a partition is one customer)."""
    with engine.connect() as connection:
        return int(connection.exec_driver_sql(
            "SELECT COUNT(*) FROM (SELECT LOWER(TRIM(email)) e FROM ps_customer GROUP BY LOWER(TRIM(email)) "
            "HAVING SUM(is_guest = 1) > 0 AND SUM(is_guest = 0) > 0) d").scalar())


def test_one_customer_per_partition_keeps_the_duplicates_across_partitions_apart(small_shop, tmp_path):
    assert duplicated_across(small_shop) > 0, "the shop has a guest and an account with the same e-mail"
    reader = ShopReader(small_shop)
    partitions, counted = plan_partitions(reader, 1)
    assert len(partitions) == counted > SMALL * 0.9, "one customer a partition"
    for audience in AUDIENCES:
        expected = staged_export(small_shop, audience, tmp_path / f"oracle_{audience.name}")
        for workers in (1, 2):
            got = partitioned_export(small_shop, audience, tmp_path / f"{audience.name}_{workers}", size=1,
                                     workers=workers)
            assert got == expected
        if audience.value:  # as mapped tasks too (one audience: 120 partitions' staging round trips)
            mapped = mapped_export(small_shop, audience, tmp_path / f"{audience.name}_mapped", size=1,
                                   order=lambda ids: ids[1::2] + ids[::2])  # the tasks finish out of order
            assert mapped == expected, "as mapped tasks"


def reshaped(url: str, statements: list[str]) -> sa.Engine:
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        for statement in statements:
            connection.exec_driver_sql(statement)
    return engine


MOVE_IDS = [  # customers 1..40 become 1, 1001, 2001, ... and the last one 10**9: large gaps
    f"UPDATE ps_{table} SET id_customer = CASE WHEN id_customer = 40 THEN 1000000000 "
    "ELSE (id_customer - 1) * 1000 + 1 END WHERE id_customer > 0"
    for table in ("customer", "address", "orders", "customer_group")
]


@pytest.mark.parametrize("shape, statements, customers", [
    ("gaps", MOVE_IDS, 40),
    ("one", [], 1),
    ("none", ["DELETE FROM ps_customer"], 0),
])
def test_shops_with_gaps_one_customer_or_none(shape, statements, customers, tmp_path):
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    write_demo_shop(url, customers=max(customers, 1) if shape != "gaps" else 40, seed=3, as_of=REFERENCE)
    engine = reshaped(url, statements)
    partitions, counted = plan_partitions(ShopReader(engine), 7)
    assert counted == customers
    assert len(partitions) == max(1, -(-customers // 7))
    if shape == "gaps":
        assert partitions[1].first_id is not None and partitions[1].first_id > 1000, "cut by an id scan"
    for audience in AUDIENCES:
        expected = staged_export(engine, audience, tmp_path / f"oracle_{audience.name}")
        for size, workers in ((1, 2), (7, 2), (EVERYTHING, 1)):
            got = partitioned_export(engine, audience, tmp_path / f"{audience.name}_{size}", size=size,
                                     workers=workers)
            assert got == expected
            assert got[2] == customers
    engine.dispose()


def test_preview_counts_what_the_run_exports(demo_shop_sqlite, tmp_path):
    engine = sa.create_engine(demo_shop_sqlite)
    pipeline = ExportPipeline(engine, None, project_root=tmp_path, chunk_size=1000, partition_size=500, workers=2)
    job = ExportJob(AUDIENCES[0], REFERENCE)
    preview = pipeline.preview(job)
    expected = staged_export(engine, AUDIENCES[0], tmp_path / "oracle")
    assert (preview.excluded, preview.scanned) == (expected[1], expected[2])
    assert preview.rows == expected[0].count(b"\n") - 1
    engine.dispose()


def fresh_python(script: str, *args: str, timeout: float = 300) -> str:
    """What `script` prints when run by a fresh interpreter (the engine on its path, glibc's
    arenas at their default): for what only a process's first pool or first read shows."""
    import os
    import subprocess
    import sys

    plugins = Path(__file__).resolve().parents[2] / "plugins"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(plugins), os.environ.get("PYTHONPATH", "")])}
    env.pop("MALLOC_ARENA_MAX", None)
    done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, env=env,
                          timeout=timeout)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


ONE_PARTITION_RUN = """
import sys
from datetime import date
from multiprocessing import forkserver
from pathlib import Path

import sqlalchemy as sa

from sna.audience import Audience
from sna.exports import ExportStore
from sna.pipeline import ExportJob, ExportPipeline
from sna.registry import Registry
from sna.storage import LocalStorage

folder = Path(sys.argv[2])
registry = Registry(f"sqlite:///{folder / 'registry.db'}")
registry.ensure_schema()
pipeline = ExportPipeline(sa.create_engine(sys.argv[1]), ExportStore(LocalStorage(folder / "exports"), registry),
                          project_root=folder, partition_size=1_000_000, workers=2)
report = pipeline.run(ExportJob(Audience(name="one", platform="google", require_complete=False), date(2026, 11, 1)))
print(report.rows > 0, forkserver._forkserver._forkserver_pid is not None)
"""


def test_a_shop_of_one_partition_starts_no_worker_pool(demo_shop_sqlite: str, tmp_path: Path) -> None:
    """A small shop is one partition, run in the caller's process: starting the fork server for it
    (its preloaded libraries) cost every small `sna run` about 0.7 s for nothing."""
    assert fresh_python(ONE_PARTITION_RUN, demo_shop_sqlite, str(tmp_path)).split() == ["True", "False"]


def mapped_export(engine: sa.Engine, audience: Audience, folder: Path, *, size: int, order=lambda ids: ids
                  ) -> tuple[bytes, dict, int]:
    """The DAG's path: plan, one call per partition (as the mapped tasks, in any order), join,
    publish, record; every hand-off through the staging area."""
    store = store_at(folder)
    pipeline = ExportPipeline(engine, store, project_root=folder, chunk_size=1000, partition_size=size)
    job = ExportJob(audience, REFERENCE)
    plan = pipeline.plan(job)
    for descriptor in order(plan.descriptors()):
        summary = pipeline.export_partition(job, descriptor["index"])
        assert summary.index == descriptor["index"]
    stats = pipeline.join(job)
    pipeline.publish(job)
    report = pipeline.record(job)
    assert (report.scanned, report.rows) == (stats.scanned, stats.exported)
    assert [info.key for info in store.storage.list("_staging/")] == [], "record removes every part"
    return (folder / "exports" / store.get(report.export_id).file_key).read_bytes(), report.excluded, report.scanned


@pytest.mark.parametrize("size", [1000, EVERYTHING])
def test_the_mapped_partitions_make_the_same_file(demo_engine, size, tmp_path):
    for audience in AUDIENCES:
        expected = staged_export(demo_engine, audience, tmp_path / f"oracle_{audience.name}")
        got = mapped_export(demo_engine, audience, tmp_path / audience.name, size=size,
                            order=lambda ids: list(reversed(ids)))  # the workers finish in any order
        assert got[1] == expected[1] and got[2] == expected[2], "the same counts"
        assert got[0] == expected[0], f"{audience.name}: the same file, byte for byte"


def test_the_plan_hands_out_id_ranges_and_staging_names_never_rows(demo_shop_sqlite, tmp_path):
    engine = sa.create_engine(demo_shop_sqlite)
    pipeline = ExportPipeline(engine, store_at(tmp_path), project_root=tmp_path, partition_size=1000)
    plan = pipeline.plan(ExportJob(AUDIENCES[0], REFERENCE))
    descriptors = plan.descriptors()
    assert len(descriptors) == -(-plan.counted // 1000) > 1
    assert descriptors[0]["first_id"] is None and descriptors[-1]["last_id"] is None, "open at both ends"
    assert all(set(d) == {"index", "first_id", "last_id", "staged"} for d in descriptors)
    assert [d["staged"] for d in descriptors[:2]] == ["parts/part-000000", "parts/part-000001"]
    for before, after in zip(descriptors, descriptors[1:], strict=False):
        assert after["first_id"] == before["last_id"] + 1, "no customer between two partitions"


def test_the_join_refuses_a_partition_that_did_not_run(demo_shop_sqlite, tmp_path):
    from sna.errors import NotFoundError

    engine = sa.create_engine(demo_shop_sqlite)
    pipeline = ExportPipeline(engine, store_at(tmp_path), project_root=tmp_path, partition_size=1000)
    job = ExportJob(AUDIENCES[0], REFERENCE)
    plan = pipeline.plan(job)
    for descriptor in plan.descriptors()[1:]:
        pipeline.export_partition(job, descriptor["index"])
    with pytest.raises(NotFoundError, match="partition 0 was not exported"):
        pipeline.join(job)
    pipeline.export_partition(job, 0)  # the missing task ran late (retried): the join now succeeds
    assert pipeline.join(job).scanned == plan.counted


def test_a_partition_rerun_after_the_run_was_recorded_changes_nothing(demo_shop_sqlite, tmp_path):
    engine = sa.create_engine(demo_shop_sqlite)
    store = store_at(tmp_path)
    pipeline = ExportPipeline(engine, store, project_root=tmp_path, partition_size=1000)
    job = ExportJob(AUDIENCES[0], REFERENCE)
    plan = pipeline.plan(job)
    for descriptor in plan.descriptors():
        pipeline.export_partition(job, descriptor["index"])
    pipeline.join(job)
    pipeline.publish(job)
    recorded = pipeline.record(job)
    assert pipeline.export_partition(job, 1) is None
    assert pipeline.join(job).exported == recorded.rows
    assert [info.key for info in store.storage.list("_staging/")] == []
def failing_export(engine: sa.Engine, folder: Path, monkeypatch, failure: str, workers: int):
    """The Meta export of `engine` in partitions of 500, its third partition failing once (`failure`);
    returns (the export, the partition, how often each chunk was selected, by its lowest id)."""
    target = plan_partitions(ShopReader(engine), 500)[0][2]
    original = ExportPipeline._selector
    monkeypatch.setattr(ExportPipeline, "_selector", lambda self, job, ids: make_flaky(
        original(self, job, ids), target.first_id, target.last_id, folder, failure))
    try:
        got = partitioned_export(engine, AUDIENCES[1], folder / "failed", size=500, workers=workers)
    finally:
        selected = Counter((folder / "selected.log").read_text().split())
    assert not (folder / "fail-once").exists(), "the failure was injected"
    return got, target, {int(first): n for first, n in selected.items()}


@pytest.mark.parametrize("workers", [1, 2])
def test_a_partition_that_fails_once_is_retried_alone(demo_shop_sqlite, workers, tmp_path, monkeypatch):
    engine = sa.create_engine(demo_shop_sqlite)
    expected = partitioned_export(engine, AUDIENCES[1], tmp_path / "unfailed", size=500, workers=workers)
    got, target, selected = failing_export(engine, tmp_path, monkeypatch, "transient", workers)
    assert got == expected, "the same file and counts as the run that did not fail"
    assert {first: n for first, n in selected.items() if n > 1} == {target.first_id: 2}, \
        "only the failed partition ran again"
    engine.dispose()


def test_a_partition_whose_worker_dies_once_runs_again_on_a_new_pool(demo_shop_sqlite, tmp_path, monkeypatch):
    engine = sa.create_engine(demo_shop_sqlite)
    expected = partitioned_export(engine, AUDIENCES[1], tmp_path / "unfailed", size=500, workers=2)
    got, target, selected = failing_export(engine, tmp_path, monkeypatch, "died", 2)
    assert got == expected
    assert selected[target.first_id] == 2
    engine.dispose()


@pytest.mark.parametrize("workers", [1, 2])
def test_a_partition_that_fails_for_good_fails_the_run_untried(demo_shop_sqlite, workers, tmp_path, monkeypatch):
    engine = sa.create_engine(demo_shop_sqlite)
    with pytest.raises(DataContractError, match="injected permanent failure"):
        failing_export(engine, tmp_path, monkeypatch, "permanent", workers)
    selected = Counter(int(first) for first in (tmp_path / "selected.log").read_text().split())
    target = plan_partitions(ShopReader(engine), 500)[0][2]
    assert selected[target.first_id] == 1, "a permanent error is not retried"
    engine.dispose()


def test_keep_masks_rank_only_repeated_keys_as_the_deduplicator_ranks_every_row(tmp_path):
    """The caller ranks only the rows whose key repeats, read from the parts' files: the masks must
    be the ones ranking every row at once gives (ties, no-key rows, parts in memory or spilled)."""
    import numpy as np

    from sna.partitions import Partition, PartResult, keep_masks
    from sna.selection import CUSTOMER_ID, KEY, RANKING_COLUMNS, Deduplicator

    rng = np.random.default_rng(5)
    parts, results = [], []
    for index in range(6):
        n = int(rng.integers(0, 400))
        columns = [rng.integers(0, 60, n).astype(np.uint64)] + [rng.integers(0, 3, n) for _ in RANKING_COLUMNS[1:]]
        facts = np.rec.fromarrays(columns, names=list(RANKING_COLUMNS))
        facts[CUSTOMER_ID][: n // 2] = 7  # ties on every fact
        parts.append(facts)
        result = PartResult(Partition(index, None, None), facts=facts)
        if index % 2:
            np.save(tmp_path / f"part-{index:06d}.facts.npy", facts)
            result.facts, result.keys, result.spill = None, np.array(facts[KEY]), tmp_path
        results.append(result)
    dedup = Deduplicator()
    for facts in parts:
        dedup.add_facts(facts)
    expected = dedup.keep_mask()
    got = np.concatenate(keep_masks(results))
    assert (got == expected).all()
    assert 0 < expected.sum() < len(expected) and (np.concatenate(parts)[KEY] == 0)[expected].any()


PRELOAD_PROBE = """
import os
import sys

sys.path.insert(0, sys.argv[1])  # the probe is found on this process's sys.path only, not in PYTHONPATH

from concurrent.futures import ProcessPoolExecutor

from sna import partitions
from sna.source import arrow

arrow.READ_HERE[:] = [os.getpid()]  # as after a read with connectorx here: the workers come from the fork server
partitions.PRELOADED = (*partitions.PRELOADED, "preload_probe")
partitions.warm_up_pool()
with ProcessPoolExecutor(1, mp_context=partitions._pool_context()) as pool:
    imported_by, worker, engine_loaded = pool.submit(__import__("preload_probe").report).result()
print(imported_by != worker, engine_loaded)
"""


def test_the_fork_server_preloads_the_engine_from_the_callers_sys_path(tmp_path: Path) -> None:
    """Each worker used to import `sna` itself (0.5 to 1 s a worker at 100k customers, in every
    `sna run`): Python 3.11's fork server ignores the caller's sys.path, so it could not preload the
    engine from where the caller has it. Now a module only the caller's sys.path finds is imported
    once, in the server (its pid differs from the worker's), and the worker has the engine loaded
    before it runs anything."""
    (tmp_path / "preload_probe.py").write_text(
        "import os\nimport sys\nIMPORTED_BY = os.getpid()\n\n"
        "def report():\n    return IMPORTED_BY, os.getpid(), 'sna.pipeline' in sys.modules\n")
    assert fresh_python(PRELOAD_PROBE, str(tmp_path)).split() == ["True", "True"]


FORKED_RUNS = """
import hashlib
import sys
from datetime import date
from pathlib import Path

import sqlalchemy as sa

from sna import partitions
from sna.audience import Audience
from sna.exports import ExportStore
from sna.pipeline import ExportJob, ExportPipeline
from sna.registry import Registry
from sna.storage import LocalStorage


def export(folder: Path, workers: int) -> str:
    folder.mkdir()
    registry = Registry(f"sqlite:///{folder / 'registry.db'}")
    registry.ensure_schema()
    store = ExportStore(LocalStorage(folder / "exports"), registry)
    pipeline = ExportPipeline(sa.create_engine(sys.argv[1]), store, project_root=folder, partition_size=1500,
                              workers=workers, source_reader="arrow")
    report = pipeline.run(ExportJob(Audience(name="forked", platform="google", require_complete=False),
                                    date(2026, 11, 1)))
    started = partitions.WORKERS_PEAK["start_method"] if workers > 1 else "here"
    digest = hashlib.sha256((folder / "exports" / store.get(report.export_id).file_key).read_bytes()).hexdigest()
    return f"{started}:{digest}"


folder = Path(sys.argv[2])
print(export(folder / "first", 2), export(folder / "here", 1), export(folder / "after", 2))
"""


def test_a_fresh_process_forks_its_workers_until_it_has_read_with_connectorx(demo_shop_sqlite: str,
                                                                             tmp_path: Path) -> None:
    """The fork server's start (its preload, about a second) was most of a 100,000-customer `sna run`.
    A fresh process is safe to fork, so its workers are forked at once; once it has read with
    connectorx itself (a shop of one partition runs here), its workers come from the fork server.
    Every way writes the same file."""
    printed = fresh_python(FORKED_RUNS, demo_shop_sqlite, str(tmp_path))
    (first, first_file), (here, here_file), (after, after_file) = (run.split(":") for run in printed.split())
    assert (first, here, after) == ("fork", "here", "forkserver")
    assert first_file == here_file == after_file


ARENAS_AFTER_READS = """
import ctypes
import os
import pickle
import sys
import tempfile

import connectorx

from sna import partitions

libc = ctypes.CDLL("libc.so.6")
libc.fopen.restype = ctypes.c_void_p


def arenas() -> int:
    path = tempfile.mktemp()
    stream = libc.fopen(path.encode(), b"w")
    libc.malloc_info(0, ctypes.c_void_p(stream))
    libc.fclose(ctypes.c_void_p(stream))
    with open(path) as info:
        count = info.read().count("<heap nr=")
    os.unlink(path)
    return count


if sys.argv[2] == "worker":
    partitions._start_worker(pickle.dumps(None))
for _ in range(10):
    connectorx.read_sql(sys.argv[1], "SELECT email FROM ps_customer LIMIT 500", return_type="arrow")
print(arenas())
"""


def test_a_workers_memory_does_not_grow_with_the_threads_connectorx_leaves_behind(demo_shop_mariadb: str) -> None:
    """connectorx leaves its connection pool's three threads behind after every read (never joined,
    9 a partition), and glibc gives each thread that allocates an arena of its own, up to 8 a core:
    a pool worker's memory grew with the partitions it read (about 60 MB over 20 partitions of
    50,000). A worker keeps to two arenas."""
    url = sa.engine.make_url(demo_shop_mariadb)
    connectorx_url = f"mysql://{url.username}@{url.host}:{url.port}/{url.database}"
    counts = {process: int(fresh_python(ARENAS_AFTER_READS, connectorx_url, process, timeout=120).split()[-1])
              for process in ("plain", "worker")}
    assert counts["plain"] > 2, "the leak this guards against: one arena per leaked thread"
    assert counts["worker"] <= 2
