"""The first night: many runners meet a registry that does not exist yet, at the same instant.

Each process creates the registry's tables (exports and leases) as a run or a read-only command
would, all released at the same moment; on every backend every one of them must succeed, and the
schema must end up exactly once, at the newest version.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.sna.registry.test_entries import MARIADB_ADMIN, POSTGRES_ADMIN, _throwaway_database

PROJECT = Path(__file__).resolve().parents[3]
PROCESSES = 8
ROUNDS = 3

_RUNNER = """
import sys, time
from sna.registry import Registry
from sna.locks import RunLocks
url, start = sys.argv[1], float(sys.argv[2])
registry = Registry(url)
while time.time() < start:
    time.sleep(0.001)
registry.ensure_schema()
RunLocks(registry.engine).ensure_schema()
print(registry.count())
"""


def _fresh_url(backend: str, tmp_path: Path, round_: int) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / f'round{round_}' / 'registry.db'}"
    elif backend == "mariadb":
        yield from _throwaway_database(MARIADB_ADMIN, "mariadb")
    else:
        yield from _throwaway_database(POSTGRES_ADMIN, "postgresql")


@pytest.mark.parametrize("backend", ["sqlite", "mariadb", "postgresql"])
def test_many_processes_create_a_fresh_registry_at_the_same_instant(backend: str, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": f"{PROJECT / 'plugins'}{os.pathsep}{PROJECT}"}
    failures: list[str] = []
    for round_ in range(ROUNDS):
        for url in _fresh_url(backend, tmp_path, round_):
            start = time.time() + 4.0  # every process is imported and waiting by then
            runners = [
                subprocess.Popen([sys.executable, "-c", _RUNNER, url, str(start)], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for _ in range(PROCESSES)
            ]
            for runner in runners:
                out, err = runner.communicate(timeout=120)
                if runner.returncode != 0 or out.strip() != "0":
                    failures.append(f"round {round_}: exit {runner.returncode}: {err.strip().splitlines()[-1:]}")
            assert failures == []
            engine = sa.create_engine(url)
            try:
                tables = set(sa.inspect(engine).get_table_names())
                with engine.connect() as connection:
                    versions = connection.execute(sa.text("SELECT version_num FROM sna_registry_version")).all()
            finally:
                engine.dispose()
            assert {"sna_exports", "sna_exports_leases", "sna_registry_version"} <= tables
            assert len(versions) == 1, versions
