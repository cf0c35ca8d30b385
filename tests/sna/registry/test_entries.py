"""The export registry on real SQLite, MariaDB and PostgreSQL databases."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from sna.errors import ConfigError, NotFoundError, RegistryError
from sna.registry import ExportEntry, Registry, new_export_id
from sna.registry.entries import _to_row

MARIADB_ADMIN = "mysql+mysqldb://root@127.0.0.1:3306/"
POSTGRES_ADMIN = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
T0 = datetime(2024, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def make_entry(n: int = 1, **changes) -> ExportEntry:
    entry = ExportEntry(
        id=f"exp-{n:05d}",
        run_key=f"vip_google/run-{n}",
        audience="vip_google",
        platform="google",
        hashing="none",
        filters={"countries": ["FR", "BE"], "min_valid_orders": 1},
        reference_date=date(2024, 3, 1),
        created_at=T0 + timedelta(minutes=n),
        file_uri=f"file:///exports/vip_google/{n}.csv",
        file_key=f"vip_google/{n}.csv",
        size=1000 + n,
        sha256="a" * 64,
        rows=10 * n,
        scanned=20 * n,
        excluded={"invalid_phone": 3, "duplicate_email": 1},
        warnings=["2 rows without country"],
        dag_run_id=f"scheduled__{n}",
    )
    return replace(entry, **changes)


def _throwaway_database(admin_url: str, backend: str) -> Iterator[str]:
    """Create a uniquely named database, yield its URL, drop it afterwards."""
    name = f"sna_reg_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f"CREATE DATABASE {name}"))
    try:
        yield sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        drop = f"DROP DATABASE IF EXISTS {name}" + (" WITH (FORCE)" if backend == "postgresql" else "")
        with admin.connect() as connection:
            connection.execute(sa.text(drop))
        admin.dispose()


@pytest.fixture(params=["sqlite", "mariadb", "postgresql"])
def registry_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'sub' / 'registry.db'}"
    elif request.param == "mariadb":
        yield from _throwaway_database(MARIADB_ADMIN, "mariadb")
    else:
        yield from _throwaway_database(POSTGRES_ADMIN, "postgresql")


@pytest.fixture
def registry(registry_url: str) -> Iterator[Registry]:
    registry = Registry(registry_url)
    registry.ensure_schema()
    yield registry
    registry.dispose()


def test_schema_is_created_once_with_its_indexes(registry: Registry) -> None:
    registry.ensure_schema()  # idempotent
    inspector = sa.inspect(registry.engine)
    indexes = {index["name"]: index["column_names"] for index in inspector.get_indexes("sna_exports")}
    assert indexes["ix_sna_exports_audience_created"] == ["audience", "created_at"]
    assert indexes["ix_sna_exports_created"] == ["created_at"]
    uniques = [u["column_names"] for u in inspector.get_unique_constraints("sna_exports")]
    unique_indexes = [i["column_names"] for i in inspector.get_indexes("sna_exports") if i.get("unique")]
    assert ["run_key"] in uniques + unique_indexes


def test_an_entry_round_trips_exactly(registry: Registry) -> None:
    entry = make_entry(1, created_at=datetime(2024, 3, 1, 14, 0, 0, 654321, tzinfo=UTC), dag_run_id=None)
    assert registry.record(entry) is None

    stored = registry.get(entry.id)
    assert stored == entry
    assert stored.created_at.tzinfo is not None
    assert registry.find_by_run_key(entry.run_key) == entry
    assert registry.get("nope") is None and registry.find_by_run_key("nope") is None


def test_non_utc_timestamps_are_stored_as_utc(registry: Registry) -> None:
    paris = datetime(2024, 6, 1, 14, 0, tzinfo=UTC).astimezone(
        __import__("zoneinfo").ZoneInfo("Europe/Paris")
    )
    registry.record(make_entry(1, created_at=paris))
    assert registry.get("exp-00001").created_at == datetime(2024, 6, 1, 14, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="timezone"):
        registry.record(make_entry(2, created_at=datetime(2024, 1, 1)))


def test_recording_the_same_run_again_replaces_and_returns_the_old_entry(registry: Registry) -> None:
    first = make_entry(1)
    registry.record(first)
    again = make_entry(2, run_key=first.run_key)

    replaced = registry.record(again)

    assert replaced == first
    assert registry.get(first.id) is None
    assert registry.get(again.id) == again
    assert registry.count() == 1


def test_list_is_newest_first_filtered_and_paginated(registry: Registry) -> None:
    for n in range(1, 8):
        registry.record(make_entry(n, audience="a" if n % 2 else "b", platform="meta" if n > 4 else "google"))
    registry.record(make_entry(8, created_at=T0 + timedelta(minutes=7)))  # ties with exp-00007: id breaks it

    assert [e.id for e in registry.list()] == [
        "exp-00007",
        "exp-00008",
        "exp-00006",
        "exp-00005",
        "exp-00004",
        "exp-00003",
        "exp-00002",
        "exp-00001",
    ]
    assert [e.id for e in registry.list(audience="a")] == ["exp-00007", "exp-00005", "exp-00003", "exp-00001"]
    assert [e.id for e in registry.list(audience="a", platform="meta")] == ["exp-00007", "exp-00005"]
    assert [e.id for e in registry.list(limit=3, offset=2)] == ["exp-00006", "exp-00005", "exp-00004"]
    assert registry.list(offset=100) == []
    assert [e.id for e in registry.list(created_before=T0 + timedelta(minutes=3))] == [
        "exp-00002",
        "exp-00001",
    ]
    assert registry.count() == 8
    assert registry.count(audience="a") == 4 and registry.count(platform="meta") == 3
    assert registry.audiences() == ["a", "b", "vip_google"]
    assert [e.id for e in registry.list(audiences={"b", "vip_google"}, limit=3)] == [
        "exp-00008",
        "exp-00006",
        "exp-00004",
    ]
    assert registry.count(audiences={"b", "vip_google"}) == 4 and registry.count(audiences=set()) == 0
    assert registry.file_keys() == {f"vip_google/{n}.csv" for n in range(1, 9)}
    with pytest.raises(ValueError):
        registry.list(limit=0)


def test_delete_and_file_key_lookup(registry: Registry) -> None:
    registry.record(make_entry(1))
    registry.record(make_entry(2, file_key="vip_google/1.csv"))
    assert registry.has_file_key("vip_google/1.csv")
    assert registry.has_file_key("vip_google/1.csv", except_id="exp-00001")
    assert registry.delete("exp-00002") is True
    assert registry.delete("exp-00002") is False
    assert not registry.has_file_key("vip_google/1.csv", except_id="exp-00001")
    assert [e.id for e in registry.iter_all()] == ["exp-00001"]


def test_listing_stays_fast_with_thousands_of_entries(registry: Registry) -> None:
    rows = [_to_row(make_entry(n, audience=f"aud{n % 10}")) for n in range(1, 5001)]
    with registry.engine.begin() as connection:
        connection.execute(sa.insert(registry.table), rows)

    started = time.perf_counter()
    for page in range(20):
        assert len(registry.list(audience="aud3", limit=20, offset=page * 20)) == 20
    assert registry.count(audience="aud3") == 500
    assert time.perf_counter() - started < 2.0
    assert sum(1 for _ in registry.iter_all(batch=700)) == 5000


def test_new_export_ids_are_unique_and_time_ordered() -> None:
    ids = [new_export_id(datetime(2024, 1, 1, tzinfo=UTC)), new_export_id(datetime(2024, 1, 2, tzinfo=UTC))]
    assert ids[0] < ids[1] and ids[0].startswith("20240101T000000Z-")
    assert len({new_export_id() for _ in range(100)}) == 100


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("scheme", ["mysql+mysqldb", "postgresql+psycopg2"])
def test_unreachable_database_is_a_one_line_error_without_password(scheme: str) -> None:
    port = _closed_port()
    registry = Registry(f"{scheme}://sna:Sup3rS3cret@127.0.0.1:{port}/registry")
    started = time.monotonic()
    with pytest.raises(RegistryError) as caught:
        registry.ensure_schema()
    message = str(caught.value)
    assert time.monotonic() - started < 10
    assert "Sup3rS3cret" not in message and "\n" not in message
    assert f"127.0.0.1:{port}/registry" in message and "***" in message
    with pytest.raises(RegistryError):
        registry.list()


@pytest.mark.parametrize("admin_url", [MARIADB_ADMIN, POSTGRES_ADMIN])
def test_rejected_login_is_not_echoed(admin_url: str) -> None:
    url = sa.make_url(admin_url).set(username="sna_nobody", password="WrongPa55word")
    with pytest.raises(RegistryError) as caught:
        Registry(url.render_as_string(hide_password=False)).count()
    message = str(caught.value)
    assert "WrongPa55word" not in message and "\n" not in message
    assert "sna_nobody:***@127.0.0.1" in message


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "not a url", "nosuchdb://x/y"])
def test_unusable_urls_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError, match="registry URL"):
        Registry(url)


def test_a_registry_opened_without_create_never_makes_its_sqlite_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "registry.db"
    with pytest.raises(NotFoundError, match=f"{missing}.*does not exist"):
        Registry(f"sqlite:///{missing}", create=False)
    assert not missing.parent.exists()
    Registry(f"sqlite:///{missing}").dispose()  # the default still makes the folder for a new registry
    assert missing.parent.is_dir()
