"""Fault: the shop database stops in the middle of an extraction (a private `mariadbd`, SIGKILLed
while the customers stream in). The run fails with a one-line, retryable SourceError; nothing is
published, recorded or left in staging; once the server is back the next run exports everyone."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from sna.audience import Audience
from sna.errors import SourceError, TransientError
from sna.exports import ExportStore
from sna.pipeline import ExportJob, ExportPipeline
from sna.registry import Registry
from sna.storage import open_storage
from sna_demo import write_demo_shop
from tests.reliability.faults import assert_consistent, assert_same_export, one_line

REFERENCE = date(2026, 11, 1)
WIDE_CUSTOMERS = 60_000  # ~50 MB of customer rows: far more than the sockets can buffer


class KillOnFirstChunk:
    """A progress watcher that kills the database once the first chunk has been read."""

    def __init__(self, kill) -> None:
        self.kill = kill
        self.rows_before_kill: int | None = None
        self.rows = 0

    def start(self, label: str, total: int | None) -> None:
        pass

    def advance(self, rows: int) -> None:
        self.rows += rows
        if self.rows_before_kill is None:
            self.rows_before_kill = self.rows
            self.kill()

    def finish(self) -> None:
        pass


def add_wide_customers(url: str, count: int) -> None:
    """Customers with long names and e-mails (MariaDB's sequence engine writes them in one statement)."""
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO ps_customer (id_customer, id_gender, firstname, lastname, email, passwd, date_add, date_upd,"
            " active, birthday) SELECT 100000 + seq, 1, CONCAT('Jean', REPEAT('e', 200)),"
            " CONCAT('Dupont', REPEAT('t', 200)), CONCAT(REPEAT('x', 200), seq, '@example.com'), 'x',"
            f" '2024-01-01 00:00:00', '2024-01-01 00:00:00', 1, '1980-01-01' FROM seq_1_to_{count}"
        )
    engine.dispose()


@pytest.fixture
def shop_on_private_server(mariadb) -> str:
    url = mariadb.url(mariadb.create_database())
    write_demo_shop(url, customers=1500, seed=5, as_of=REFERENCE)
    add_wide_customers(url, WIDE_CUSTOMERS)
    return url


@pytest.mark.timeout(180)
def test_the_shop_database_dies_in_the_middle_of_an_extraction(mariadb, shop_on_private_server, private_s3,
                                                                 tmp_path: Path, guarantees) -> None:
    _server, bucket = private_s3
    registry = Registry(f"sqlite:///{tmp_path / 'registry.db'}")
    registry.ensure_schema()
    store = ExportStore(open_storage(f"s3://{bucket}/exports"), registry)
    job = ExportJob(Audience(name="shop_fault", platform="google", require_complete=False), REFERENCE)
    engine = sa.create_engine(shop_on_private_server, pool_pre_ping=True)
    reference = ExportPipeline(engine, store, project_root=tmp_path, chunk_size=2000).preview(job)
    watcher = KillOnFirstChunk(mariadb.kill)
    faulty = ExportPipeline(engine, store, project_root=tmp_path, chunk_size=2000, progress=watcher)

    with pytest.raises(SourceError) as raised:
        faulty.run(job)

    assert isinstance(raised.value, TransientError), "a retry may succeed: Airflow retries it"
    one_line(raised.value, names="shop database mysql+mysqldb://root@127.0.0.1")
    assert watcher.rows_before_kill is not None and watcher.rows < reference.scanned, "killed mid-extraction"
    assert registry.count() == 0
    figures = assert_consistent(store, faulty.locks, (job.run_key,))

    mariadb.start()  # InnoDB recovers from the crash
    engine.dispose()
    report = ExportPipeline(engine, store, project_root=tmp_path, chunk_size=2000).run(job)

    lost = assert_same_export(report, reference)
    assert report.scanned > WIDE_CUSTOMERS and report.rows > WIDE_CUSTOMERS
    assert_consistent(store, faulty.locks, (job.run_key,))
    assert registry.count() == 1
    engine.dispose()
    guarantees.fault("shop database killed mid-extraction", rows_read_before_kill=watcher.rows,
                     customers=reference.scanned, data_lost=lost, **figures)
