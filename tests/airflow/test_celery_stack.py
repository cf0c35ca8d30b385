"""A real distributed run: CeleryExecutor with a Redis broker (Debian's `redis-server`), Airflow's
metadata on PostgreSQL, an `api-server`, a `scheduler`, a `dag-processor` and two
`airflow celery worker` processes named `worker-a` and `worker-b`, as docker-compose.yaml runs them.

Three shops (a MariaDB demo shop, the default `sna_prestashop`, and two SQLite ones named by
`source.connection`), files on a shared `file://` folder, entries in a PostgreSQL registry. One
stack for the module; every process is stopped by its pid, even when a test fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import sqlalchemy as sa

from tests.airflow.conftest import PROJECT
from tests.fixtures.celery_stack import SHOPS, audience_text, fleet, sna_celery_stack

pytestmark = [pytest.mark.slow, pytest.mark.timeout(720)]

WORKERS = ("worker-a", "worker-b")
REFERENCE_DATE = date(2026, 11, 15)
FLEET = 20
PARTITION_SIZE = 1000
"""The MariaDB shop (3,000 customers) is three partitions, the SQLite shops (1,000 generated) one each."""
COMPARED = {  # the audiences of the first test, each compared with `sna run`
    "celery_vip": "platform: google\nfilters:\n  default_groups: [VIP]\n",
    "celery_newsletter": "platform: meta\nsource:\n  connection: sna_shop_b\nfilters:\n  consent: newsletter\n"
                         "value: total_spent\n",
}


@pytest.fixture(scope="module")
def shops(tmp_path_factory, demo_shop_mariadb) -> dict[str | None, str]:
    """The three shops' SQLAlchemy URLs: the session's MariaDB demo shop and two SQLite demo shops
    of other seeds (other customers)."""
    from sna_demo import write_demo_shop
    from tests.fixtures.mariadb import DEMO_AS_OF

    folder = tmp_path_factory.mktemp("celery-shops")
    urls: dict[str | None, str] = {None: demo_shop_mariadb}
    for seed, name in enumerate(SHOPS[1:], start=11):
        urls[name] = f"sqlite:///{folder / name}.db"
        write_demo_shop(urls[name], customers=1000, seed=seed, as_of=DEMO_AS_OF)
    return urls


@pytest.fixture(scope="module")
def stack(tmp_path_factory, shops):
    audiences = {**dict(audience_text(name, body) for name, body in COMPARED.items()), **fleet(FLEET)}
    with sna_celery_stack(tmp_path_factory.mktemp("celery-stack"), shops, audiences, WORKERS,
                          partition_size=PARTITION_SIZE) as running:
        yield running


def succeeded(stack, runs: dict[str, str], timeout: float) -> dict[str, list[dict[str, Any]]]:
    """Waits for every run, asserts each succeeded; the task instances of each DAG."""
    instances = {}
    for dag_id, run in stack.finish(runs, timeout).items():
        instances[dag_id] = stack.task_instances(dag_id, runs[dag_id])
        assert run["state"] == "success", (dag_id, {ti["task_id"]: ti["state"] for ti in instances[dag_id]})
    return instances


def sna_run(stack, tmp_path: Path, name: str, shops: dict[str | None, str]) -> Path:
    """The same audience and date exported by `sna run`, on the same shop, to a folder of its own
    (the shops by environment: `--source-url` would serve every audience, whatever its connection)."""
    audience = stack.audiences / f"{name}.yaml"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "SNA_"))}
    env.update(PYTHONPATH=f"{PROJECT / 'plugins'}:{PROJECT}", SNA_HOME=str(tmp_path),
               **{f"SNA_SOURCE_URL_{shop.upper()}" if shop else "SNA_SOURCE_URL": url for shop, url in shops.items()})
    result = subprocess.run(
        [sys.executable, "-m", "sna", "run", str(audience), "--json", "--reference-date", REFERENCE_DATE.isoformat(),
         "--storage-url", (tmp_path / f"cli-{name}").as_uri(),
         "--registry-url", f"sqlite:///{tmp_path / f'cli-{name}.db'}"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return Path(urlparse(json.loads(result.stdout.splitlines()[-1])["file"]).path)


def test_two_workers_share_the_runs_and_the_files_equal_sna_run(stack, shops, tmp_path) -> None:
    runs = {f"sna_{name}": stack.trigger(f"sna_{name}") for name in COMPARED}
    instances = succeeded(stack, runs, timeout=180)

    hostnames = Counter(ti["hostname"] for tis in instances.values() for ti in tis)
    assert set(hostnames) == set(WORKERS), hostnames
    partitions = sorted(ti["map_index"] for ti in instances["sna_celery_vip"] if ti["task_id"] == "partition")
    assert partitions == [0, 1, 2], "the large shop ran as three mapped partition tasks"
    assert len([ti for ti in instances["sna_celery_newsletter"] if ti["task_id"] == "partition"]) == 1, \
        "a small shop is one partition"
    for name in COMPARED:
        produced = stack.recorded_file(f"sna_{name}", runs[f"sna_{name}"])
        assert produced.is_relative_to(stack.exports) and REFERENCE_DATE.isoformat() in produced.name
        expected = sna_run(stack, tmp_path, name, shops)
        assert produced.read_bytes() == expected.read_bytes(), name
        assert produced.stat().st_size > 100, "a file with customers in it"


def test_twenty_audiences_of_three_shops_at_once(stack) -> None:
    names = list(fleet(FLEET))
    runs = {f"sna_{name}": stack.trigger(f"sna_{name}") for name in names}
    instances = succeeded(stack, runs, timeout=600)

    assert {ti["hostname"] for tis in instances.values() for ti in tis} == set(WORKERS)
    files = {name: stack.recorded_file(f"sna_{name}", runs[f"sna_{name}"]) for name in names}
    assert all(path.is_file() for path in files.values())
    on_disk = sorted(path for name in names for path in (stack.exports / name).rglob(f"{name}_*.csv"))
    assert on_disk == sorted(files.values()), "one file per audience, no other"

    engine = sa.create_engine(stack.registry_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(sa.text(
                "SELECT audience, run_key, file_key, dag_run_id FROM sna_exports WHERE audience LIKE 'fleet_%'")).all()
    finally:
        engine.dispose()
    assert sorted(row.audience for row in rows) == sorted(names), "one entry per audience"
    assert len({row.run_key for row in rows}) == len({row.file_key for row in rows}) == FLEET
    assert {row.dag_run_id for row in rows} == set(runs.values())
    assert {Path(row.file_key).name for row in rows} == {path.name for path in files.values()}
