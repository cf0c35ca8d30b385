"""ExportStore keeps files and entries consistent, on a local folder and on real S3 (SeaweedFS)."""

from __future__ import annotations

import hashlib
import socket
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from sna.errors import NotFoundError, RegistryError
from sna.exports import ExportStore
from sna.registry import ExportEntry, Registry
from sna.storage import Storage, open_storage

NOW = datetime(2024, 6, 30, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "local":
        return open_storage((tmp_path / "store").as_uri())
    return open_storage(request.getfixturevalue("s3_storage_url"))


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    registry = Registry(f"sqlite:///{tmp_path / 'registry.db'}")
    registry.ensure_schema()
    yield registry
    registry.dispose()


@pytest.fixture
def store(storage: Storage, registry: Registry) -> ExportStore:
    return ExportStore(storage, registry)


def layout_key(audience: str, n: int) -> str:
    """A key of SNA's export layout (the only keys reconcile considers)."""
    return f"{audience}/google/{audience}_google_2024-06-01_20240601T{n:06d}Z-{n:010x}.csv"


def stored_entry(storage: Storage, n: int, *, key: str | None = None, **changes) -> ExportEntry:
    """Write a file like an export run would, and return the entry describing it (not yet committed)."""
    key = key or layout_key(changes.get("audience", "vip"), n)
    with storage.open_writer(key) as writer:
        writer.write(f"email\nrow-{n}\n".encode())
    written = writer.result
    entry = ExportEntry(
        id=f"exp-{n:04d}",
        run_key=f"run-{n}",
        audience="vip",
        platform="google",
        hashing="none",
        filters={},
        reference_date=date(2024, 6, 1),
        created_at=NOW - timedelta(days=n),
        file_uri=written.uri,
        file_key=written.key,
        size=written.size,
        sha256=written.sha256,
        rows=1,
        scanned=2,
        excluded={},
        warnings=[],
    )
    return replace(entry, **changes)


def _block(registry: Registry, statement: str) -> None:
    """Make one kind of write fail inside the real database (a trigger), while reads keep working."""
    with registry.engine.begin() as connection:
        connection.execute(
            sa.text(
                f"CREATE TRIGGER block_{statement.lower()} BEFORE {statement} ON sna_exports "
                "BEGIN SELECT RAISE(ABORT, 'blocked by test'); END"
            )
        )


def test_commit_then_get_download_and_open(store: ExportStore, storage: Storage, tmp_path: Path) -> None:
    entry = store.commit(stored_entry(storage, 1))

    assert store.get(entry.id) == entry
    assert [e.id for e in store.list(audience="vip")] == [entry.id]

    as_file = store.download(entry.id, tmp_path / "out" / "mine.csv")
    folder = tmp_path / "folder"
    folder.mkdir()
    into_folder = store.download(entry.id, folder)
    assert into_folder == folder / "vip_google_2024-06-01.csv"
    for path in (as_file, into_folder):
        assert hashlib.sha256(path.read_bytes()).hexdigest() == entry.sha256

    name, stream = store.open(entry.id)
    with stream as reader:
        assert (name, reader.read()) == ("vip_google_2024-06-01.csv", b"email\nrow-1\n")

    with pytest.raises(NotFoundError, match="exp-9999"):
        store.get("exp-9999")


def test_delete_removes_the_file_then_the_entry(
    store: ExportStore, storage: Storage, registry: Registry
) -> None:
    entry = store.commit(stored_entry(storage, 1))
    assert store.delete(entry.id) == entry
    assert not storage.exists(entry.file_key) and registry.get(entry.id) is None
    with pytest.raises(NotFoundError):
        store.delete(entry.id)


def test_delete_order_leaves_an_entry_without_file_never_a_hidden_file(
    store: ExportStore, storage: Storage, registry: Registry
) -> None:
    entry = store.commit(stored_entry(storage, 1))
    _block(registry, "DELETE")

    with pytest.raises(RegistryError, match="blocked by test"):
        store.delete(entry.id)

    assert not storage.exists(entry.file_key)
    assert [e.id for e in store.reconcile().missing_files] == [entry.id]


def test_registry_failure_after_upload_leaves_no_file(storage: Storage, tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    unreachable = Registry(f"mysql+mysqldb://sna:pw@127.0.0.1:{port}/registry")
    entry = stored_entry(storage, 1)

    with pytest.raises(RegistryError, match="cannot record"):
        ExportStore(storage, unreachable).commit(entry)

    assert list(storage.list()) == []


def test_failed_commit_keeps_a_file_the_previous_entry_still_uses(
    store: ExportStore, storage: Storage, registry: Registry
) -> None:
    first = store.commit(stored_entry(storage, 1, key="vip/latest.csv"))
    _block(registry, "INSERT")
    rerun = stored_entry(storage, 2, key="vip/latest.csv", run_key=first.run_key)

    with pytest.raises(RegistryError):
        store.commit(rerun)

    assert registry.get(first.id) == first
    assert storage.exists("vip/latest.csv")


def test_rerun_replaces_the_entry_and_deletes_the_old_file(
    store: ExportStore, storage: Storage, registry: Registry
) -> None:
    first = store.commit(stored_entry(storage, 1))
    second = store.commit(stored_entry(storage, 2, run_key=first.run_key))
    assert registry.count() == 1 and registry.get(second.id) == second
    assert not storage.exists(first.file_key) and storage.exists(second.file_key)

    same_key = store.commit(stored_entry(storage, 3, key=second.file_key, run_key=first.run_key))
    assert storage.exists(same_key.file_key)
    assert [e.id for e in registry.list()] == [same_key.id]


def test_reconcile_finds_and_repairs_both_kinds_of_mismatch(store: ExportStore, storage: Storage) -> None:
    kept = store.commit(stored_entry(storage, 1))
    lost = store.commit(stored_entry(storage, 2))
    storage.delete(lost.file_key)
    stored_entry(storage, 3)  # written, never committed: an orphan
    stored_entry(storage, 4, key="_staging/in-progress.csv")
    stored_entry(storage, 5, key="registry.db")  # not SNA's layout: never an orphan, never deleted
    stored_entry(storage, 6, key="vip/google/notes.csv")

    fresh = store.reconcile(
        now=datetime.now(UTC)
    )  # default grace: a just-written file may still be committing
    assert fresh.orphan_files == [] and [e.id for e in fresh.missing_files] == [lost.id]

    report = store.reconcile(grace=timedelta(0))
    assert [e.id for e in report.missing_files] == [lost.id]
    assert report.orphan_files == [layout_key("vip", 3)]
    assert not report.repaired and storage.exists(layout_key("vip", 3)) and store.registry.get(lost.id)

    repaired = store.reconcile(repair=True, grace=timedelta(0))
    assert repaired.repaired
    assert not storage.exists(layout_key("vip", 3)) and store.registry.get(lost.id) is None
    assert storage.exists("_staging/in-progress.csv") and store.get(kept.id) == kept
    assert storage.exists("registry.db") and storage.exists("vip/google/notes.csv")
    assert store.reconcile(grace=timedelta(0)).consistent


def test_expire_deletes_old_exports_of_audiences_with_a_retention(
    store: ExportStore, storage: Storage, registry: Registry
) -> None:
    old_vip = store.commit(stored_entry(storage, 40))
    new_vip = store.commit(stored_entry(storage, 5))
    old_other = store.commit(stored_entry(storage, 41, audience="other"))
    old_kept = store.commit(stored_entry(storage, 400, audience="forever"))

    expired = store.expire(now=NOW, retention_days={"vip": 30, "other": 10})

    assert sorted(e.id for e in expired) == sorted([old_vip.id, old_other.id])
    assert {e.id for e in registry.list()} == {new_vip.id, old_kept.id}
    assert not storage.exists(old_vip.file_key) and not storage.exists(old_other.file_key)
    assert storage.exists(new_vip.file_key) and storage.exists(old_kept.file_key)
    assert store.expire(now=NOW, retention_days={"vip": 30}) == []
    assert store.expire(now=NOW, retention_days={"vip": 1}, dry_run=True) == [new_vip]
    assert store.get(new_vip.id) == new_vip and storage.exists(new_vip.file_key)
    with pytest.raises(ValueError):
        store.expire(now=NOW.replace(tzinfo=None), retention_days={"vip": 30})


def test_delete_is_refused_while_a_run_of_the_same_audience_and_date_holds_its_lease(
    store: ExportStore, storage: Storage, registry: Registry
) -> None:
    from sna.locks import Holder, RunInProgressError

    entry = store.commit(stored_entry(storage, 1))
    running = Holder(owner="airflow:sna_vip:manual__rerun", series="airflow:sna_vip")
    store.locks.acquire(entry.run_key, running)

    with pytest.raises(RunInProgressError, match=f"export {entry.id} cannot be deleted now"):
        store.delete(entry.id)
    assert store.get(entry.id) == entry and storage.exists(entry.file_key)

    store.locks.release(entry.run_key, running.owner)
    store.delete(entry.id)
    assert registry.get(entry.id) is None and not storage.exists(entry.file_key)
    assert store.locks.current(entry.run_key) is None, "the delete released its lease"


def test_latest_follows_the_newest_export_through_runs_deletes_and_expiry(
    store: ExportStore, storage: Storage, registry: Registry
) -> None:
    older = store.commit(stored_entry(storage, 2, run_key="vip/2024-05-30", reference_date=date(2024, 5, 30)))
    newer = store.commit(stored_entry(storage, 1, run_key="vip/2024-05-31", reference_date=date(2024, 5, 31)))
    latest = "vip/google/latest.csv"

    def content(key: str) -> bytes:
        with storage.open_reader(key) as stream:
            return stream.read()

    assert content(latest) == content(newer.file_key)
    store.commit(stored_entry(storage, 3, run_key="vip/2024-05-29", reference_date=date(2024, 5, 29)))
    assert content(latest) == content(newer.file_key), "a rerun of an older date does not move latest"

    store.delete(newer.id)
    assert content(latest) == content(older.file_key), "deleting the newest points latest at the previous"
    store.expire(now=NOW + timedelta(days=3650), retention_days={"vip": 1})
    assert not storage.exists(latest), "no export left: no latest"
    assert store.reconcile(grace=timedelta(0)).consistent, "latest is not an orphan"


def test_the_access_log_is_kept_as_long_as_the_exports(store: ExportStore, storage: Storage, tmp_path: Path) -> None:
    from sna.registry.access import Actor

    entry = store.commit(stored_entry(storage, 40))
    person = store.as_actor(Actor("jane.marketer", "ui"))
    person.download(entry.id, tmp_path / "copy.csv")
    assert [(e.action, e.actor, e.via) for e in store.access.list()] == [("download", "jane.marketer", "ui")]
    now = store.access.list()[0].at
    store.access.record("download", audience="vip", export_id="old-one", actor=Actor("joe", "cli"),
                        now=now - timedelta(days=31))

    store.expire(now=now, retention_days={"vip": 30})
    events = store.access.list()
    assert [(e.action, e.export_id) for e in events] == [("delete", entry.id), ("download", entry.id)], \
        "a row older than the audience's retention is gone, the recent ones stay"


def test_the_reads_the_pages_and_housekeeping_ask_for(store: ExportStore, storage: Storage) -> None:
    from sna.registry import Delivery
    from sna.registry.dry_runs import DryRun

    last = store.commit(stored_entry(storage, 1, run_key="vip/a"))
    newest_date = store.commit(stored_entry(storage, 2, run_key="vip/b", reference_date=date(2024, 6, 20)))
    meta = store.commit(stored_entry(storage, 3, audience="other", run_key="other/a", platform="meta"))
    dry = DryRun(id="dry-1", run_key="dry_only/2024-06-01", audience="dry_only", platform="google",
                 hashing="none", filters={}, reference_date=date(2024, 6, 1), created_at=NOW, scanned=5, rows=3)
    store.record_dry_run(dry)
    store.record_dry_run(replace(dry, id="dry-2", rows=4))  # the same run key: replaces the first

    assert store.audiences() == ["other", "vip"]
    assert store.known_audiences() == ["dry_only", "other", "vip"]
    assert [d.id for d in store.dry_runs()] == ["dry-2"]
    assert store.dry_runs(audiences={"vip"}) == [] and store.dry_runs(audiences=set()) == []
    assert store.dry_runs(audiences={"dry_only"}, platform="meta") == []
    assert store.page(audiences={"vip"}, platform=None, limit=1, offset=1) == ([newest_date], 2)
    assert store.page(audiences=None, platform="meta", limit=10, offset=0) == ([meta], 1)
    assert store.page(audiences=set(), platform=None, limit=10, offset=0) == ([], 0), "may read none: none"
    assert store.last_export("vip") == last, "created last, whatever its reference date"
    assert store.newest("vip", "google") == newest_date
    assert store.last_export("never") is None
    assert store.find_run("vip/b") == newest_date and store.find_run("vip/zzz") is None
    assert store.find(last.id) == last and store.find("exp-9999") is None

    assert store.set_delivery(last.id, Delivery(status="delivered", destination="list-1", added=1))
    assert store.get(last.id).delivery.status == "delivered"
    assert not store.set_delivery("exp-9999", Delivery(status="failed"))


def test_a_presigned_link_on_s3_is_logged_as_a_download_and_a_folder_has_none(
    store: ExportStore, storage: Storage
) -> None:
    entry = store.commit(stored_entry(storage, 1))

    link = store.presigned_link(entry)

    events = [(e.action, e.export_id, e.detail) for e in store.access.list()]
    if storage.url.startswith("s3://"):
        assert store.links_presigned and link is not None and link.startswith(("http://", "https://"))
        assert events == [("download", entry.id, "presigned link")]
    else:
        assert not store.links_presigned and link is None
        assert events == [], "no link handed out: nothing downloaded"


def test_a_registry_without_its_tables_is_one_line_naming_it(tmp_path: Path) -> None:
    empty = Registry(f"sqlite:///{tmp_path / 'empty.db'}")
    store = ExportStore(open_storage((tmp_path / "files").as_uri()), empty)
    try:
        with pytest.raises(NotFoundError, match=r"empty\.db: no export was recorded there yet \(no table sna_exports"):
            store.require_entries_table()
        empty.ensure_schema()
        store.require_entries_table()
    finally:
        empty.dispose()
