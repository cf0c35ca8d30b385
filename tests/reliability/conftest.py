"""Fixtures of the reliability tests: services the tests own (and kill), and the figures they record.

The shared MariaDB and SeaweedFS of the suite must survive for the other tests, so the fault tests
start their own: a private `mariadbd` on a free port with its own data folder, and a private
`weed mini`. Each test that passes records what it tried into `test-artifacts/guarantees-reliability.json`
(cases tried, faults survived, rows checked, data lost), the source of the README's figures.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.airflow.conftest import (  # noqa: F401 - the DAG tests' fixtures, for a DAG run under fault
    airflow_db,
    export_bucket,
    postgres_registry_url,
    production_connections,
    sna_env,
)
from tests.fixtures.mariadb import server_answers
from tests.fixtures.processes import free_port
from tests.fixtures.s3 import SeaweedS3

PROJECT = Path(__file__).resolve().parents[2]
ARTIFACT = PROJECT / "test-artifacts" / "guarantees-reliability.json"
MARIADBD = "/usr/sbin/mariadbd"
INSTALL_DB = "mariadb-install-db"


# -- figures --------------------------------------------------------------------------------------


class Guarantees:
    """Counters per theme; a test adds its figures only once its assertions passed."""

    def __init__(self) -> None:
        self.figures: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.faults: list[dict[str, Any]] = []

    def add(self, theme: str, **counts: int) -> None:
        for name, value in counts.items():
            self.figures[theme][name] += int(value)

    def fault(self, name: str, **facts: Any) -> None:
        self.faults.append({"fault": name, "survived": True, **facts})
        self.add("faults", injected=1, survived=1, orphans=facts.get("orphans", 0),
                 duplicates=facts.get("duplicates", 0), data_lost=facts.get("data_lost", 0))

    def document(self) -> dict[str, Any]:
        return {
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "figures": {theme: dict(values) for theme, values in sorted(self.figures.items())},
            "faults": self.faults,
        }


@pytest.fixture(scope="session")
def guarantees() -> Iterator[Guarantees]:
    recorder = Guarantees()
    yield recorder
    if recorder.figures:
        ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
        ARTIFACT.write_text(json.dumps(recorder.document(), indent=2) + "\n", encoding="utf-8")


# -- a private MariaDB ----------------------------------------------------------------------------


class PrivateMariaDB:
    """A `mariadbd` of the test's own (data folder, socket, free port) that a test may kill."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.datadir = folder / "data"
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        subprocess.run(
            [INSTALL_DB, "--no-defaults", f"--datadir={self.datadir}", "--auth-root-authentication-method=normal",
             "--user=root", "--skip-test-db"],
            check=True, capture_output=True, timeout=120,
        )

    @property
    def base_url(self) -> str:
        return f"mysql+mysqldb://root@127.0.0.1:{self.port}"

    def url(self, database: str) -> str:
        return f"{self.base_url}/{database}?charset=utf8mb4"

    def start(self) -> None:
        if self.process is not None and self.process.poll() is None:
            return
        log = open(self.folder / "mariadbd.log", "ab")  # noqa: SIM115 - kept by the child process
        self.process = subprocess.Popen(
            [MARIADBD, "--no-defaults", f"--datadir={self.datadir}", f"--socket={self.folder / 'mysqld.sock'}",
             f"--port={self.port}", "--bind-address=127.0.0.1", "--user=root", "--skip-grant-tables",
             "--skip-log-bin", "--innodb-buffer-pool-size=64M", f"--pid-file={self.folder / 'mysqld.pid'}"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + 60
        while not self.answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"private mariadbd did not start: {self.log_tail()}")
            time.sleep(0.1)

    def answers(self) -> bool:
        return server_answers(self.base_url)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush, connections cut mid-query (the fault under test)."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=30)

    def create_database(self) -> str:
        name = f"sna_r_{uuid.uuid4().hex[:10]}"
        engine = sa.create_engine(self.base_url)
        try:
            with engine.begin() as connection:
                connection.exec_driver_sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        finally:
            engine.dispose()
        return name

    def log_tail(self) -> str:
        try:
            return (self.folder / "mariadbd.log").read_text(errors="replace")[-2000:]
        except OSError:
            return "(no log)"


@pytest.fixture(scope="session")
def private_mariadb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateMariaDB]:
    server = PrivateMariaDB(tmp_path_factory.mktemp("private-mariadb"))
    try:
        server.start()
        yield server
    finally:
        server.kill()
        shutil.rmtree(server.folder, ignore_errors=True)


@pytest.fixture
def mariadb(private_mariadb: PrivateMariaDB) -> PrivateMariaDB:
    """The private server, running (a previous fault test may have killed it)."""
    private_mariadb.start()
    return private_mariadb


# -- a private S3 ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def private_s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    server = SeaweedS3(tmp_path_factory.mktemp("private-seaweedfs"))
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def private_s3(private_s3_server: SeaweedS3, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[SeaweedS3, str]]:
    """The private S3 running, a fresh bucket, and the AWS environment pointing at it."""
    private_s3_server.start()
    bucket = f"sna-rel-{uuid.uuid4().hex[:12]}"
    private_s3_server.client().create_bucket(Bucket=bucket)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", private_s3_server.endpoint_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", private_s3_server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", private_s3_server.secret_key)
    monkeypatch.setenv("AWS_DEFAULT_REGION", private_s3_server.region)
    yield private_s3_server, bucket
