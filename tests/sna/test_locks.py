"""Run leases: who is refused, who takes over, and that one runner wins a race (real SQLite)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from sna.errors import PermanentError
from sna.locks import Holder, RunInProgressError, RunLocks

KEY = "vip/2026-11-01"
NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def locks(tmp_path: Path) -> RunLocks:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'registry.db'}", connect_args={"timeout": 30})
    yield RunLocks(engine)
    engine.dispose()


@pytest.fixture
def live_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield process.pid
    process.kill()
    process.wait()


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_live_lease_refuses_another_owner_with_one_line(locks: RunLocks, live_pid: int) -> None:
    locks.acquire(KEY, Holder("cli-a", pid=live_pid), now=NOW)

    with pytest.raises(RunInProgressError) as raised:
        locks.acquire(KEY, Holder("cli-b", pid=live_pid), now=NOW + timedelta(minutes=5))

    assert isinstance(raised.value, PermanentError)
    assert str(raised.value).startswith(f"run {KEY} is already in progress (held by cli-a on ")
    assert "\n" not in str(raised.value)
    assert locks.current(KEY).owner == "cli-a"


def test_the_same_owner_renews_and_an_expired_lease_is_taken_over(locks: RunLocks) -> None:
    first = locks.acquire(KEY, Holder("airflow:d:r1", series="airflow:d"), ttl=timedelta(hours=1), now=NOW)
    renewed = locks.acquire(KEY, Holder("airflow:d:r1", series="airflow:d"), ttl=timedelta(hours=1),
                            now=NOW + timedelta(minutes=30))
    assert renewed.acquired_at == first.acquired_at and renewed.expires_at == NOW + timedelta(minutes=90)
    with pytest.raises(RunInProgressError):
        locks.acquire(KEY, Holder("cli"), now=NOW + timedelta(minutes=89))

    taken = locks.acquire(KEY, Holder("cli"), now=NOW + timedelta(minutes=91))

    assert taken.owner == "cli" and locks.current(KEY).owner == "cli"


def test_another_run_of_the_same_dag_takes_over(locks: RunLocks) -> None:
    locks.acquire(KEY, Holder("airflow:sna_vip:scheduled_1", series="airflow:sna_vip"), now=NOW)
    with pytest.raises(RunInProgressError):
        locks.acquire(KEY, Holder("airflow:sna_adhoc:manual_1", series="airflow:sna_adhoc"), now=NOW)

    locks.acquire(KEY, Holder("airflow:sna_vip:manual_2", series="airflow:sna_vip"), now=NOW)

    assert locks.current(KEY).owner == "airflow:sna_vip:manual_2"


def test_a_dead_process_of_this_host_loses_its_lease_one_elsewhere_keeps_it(locks: RunLocks) -> None:
    gone = dead_pid()
    locks.acquire(KEY, Holder("cli-dead", pid=gone), now=NOW)
    locks.acquire(KEY, Holder("cli-next", pid=os.getpid()), now=NOW)
    assert locks.current(KEY).owner == "cli-next"

    locks.release(KEY, "cli-next")
    locks.acquire(KEY, Holder("cli-far", pid=gone, host="another-host"), now=NOW)
    with pytest.raises(RunInProgressError):
        locks.acquire(KEY, Holder("cli-here", pid=os.getpid()), now=NOW)


def test_a_lease_of_this_process_it_no_longer_claims_is_taken_over(locks: RunLocks) -> None:
    locks.acquire(KEY, Holder("run-1", pid=os.getpid()), now=NOW)
    with pytest.raises(RunInProgressError):
        locks.acquire(KEY, Holder("run-2", pid=os.getpid()), now=NOW)  # run-1 is still running here

    with locks.engine.begin() as connection:  # run-1's release was lost (registry down), it ended
        connection.execute(sa.update(locks.table).values(owner="run-1-gone"))
    locks.acquire(KEY, Holder("run-2", pid=os.getpid()), now=NOW)

    assert locks.current(KEY).owner == "run-2"


def test_release_only_by_the_owner_and_held_releases_on_failure(locks: RunLocks) -> None:
    locks.acquire(KEY, Holder("a", pid=os.getpid()), now=NOW)
    assert locks.release(KEY, "b") is False and locks.current(KEY) is not None
    assert locks.release(KEY, "a") is True and locks.current(KEY) is None

    with pytest.raises(ValueError), locks.held(KEY, Holder("c", pid=os.getpid())):
        assert locks.current(KEY).owner == "c"
        raise ValueError("the run failed")

    assert locks.current(KEY) is None


def test_one_of_many_runners_racing_for_a_run_wins(locks: RunLocks, live_pid: int) -> None:
    locks.ensure_schema()
    start = threading.Barrier(8)
    won: list[str] = []
    refused: list[str] = []

    def race(number: int) -> None:
        start.wait()
        try:
            locks.acquire(KEY, Holder(f"runner-{number}", pid=live_pid))
            won.append(f"runner-{number}")
        except RunInProgressError:
            refused.append(f"runner-{number}")

    threads = [threading.Thread(target=race, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(won) == 1 and len(refused) == 7
    assert locks.current(KEY).owner == won[0]


def test_the_tasks_of_one_run_renewing_at_once_all_keep_the_lease(locks: RunLocks) -> None:
    """A DAG run's mapped partition tasks share one owner and renew the lease together: none of
    them may be refused as if another run held it."""
    locks.ensure_schema()
    holder = Holder("airflow:sna_vip:manual__1", series="airflow:sna_vip")
    locks.acquire(KEY, holder)
    start = threading.Barrier(12)
    refused: list[str] = []

    def renew() -> None:
        start.wait()
        for _ in range(5):
            try:
                locks.acquire(KEY, holder)
            except RunInProgressError as error:
                refused.append(str(error))

    threads = [threading.Thread(target=renew) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert refused == []
    assert locks.current(KEY).owner == holder.owner
