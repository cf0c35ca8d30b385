"""The behaviour both storages promise, run against a local folder and a real SeaweedFS S3."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from sna.errors import ConfigError, NotFoundError
from sna.storage import LocalStorage, Storage, open_storage


class Boom(Exception):
    """Raised inside a writer block to simulate the export failing half-way."""


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "local":
        return open_storage((tmp_path / "store").as_uri())
    return open_storage(request.getfixturevalue("s3_storage_url"))


def _write(storage: Storage, key: str, data: bytes):
    with storage.open_writer(key) as writer:
        writer.write(data)
    return writer.result


def _read(storage: Storage, key: str) -> bytes:
    with storage.open_reader(key) as reader:
        return reader.read()


def test_writer_stores_the_bytes_and_reports_size_and_sha256(storage: Storage) -> None:
    data = b"email,phone\n" + b"x" * 100_000
    result = _write(storage, "vip/2024-01-01/export.csv", data)

    assert result.key == "vip/2024-01-01/export.csv"
    assert result.size == len(data)
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    assert result.uri == storage.uri("vip/2024-01-01/export.csv")
    assert result.uri.startswith(storage.url + "/")
    assert _read(storage, "vip/2024-01-01/export.csv") == data
    assert storage.exists("vip/2024-01-01/export.csv")
    assert storage.size("vip/2024-01-01/export.csv") == len(data)


def test_text_wrapper_on_the_writer_works_and_is_counted(storage: Storage) -> None:
    with storage.open_writer("a.csv") as writer:
        text = io.TextIOWrapper(writer, encoding="utf-8", newline="")
        text.write("é,1\r\n")
        text.flush()
        text.detach()
    assert writer.result.size == len("é,1\r\n".encode())
    assert _read(storage, "a.csv") == "é,1\r\n".encode()


def test_error_inside_the_writer_leaves_nothing(storage: Storage, tmp_path: Path) -> None:
    with pytest.raises(Boom), storage.open_writer("vip/broken.csv") as writer:
        writer.write(b"partial data" * 1000)
        raise Boom()

    assert not storage.exists("vip/broken.csv")
    assert list(storage.list()) == []
    if isinstance(storage, LocalStorage):
        assert [p for p in storage.root.rglob("*") if p.is_file()] == []


def test_failed_rewrite_keeps_the_previous_object(storage: Storage) -> None:
    _write(storage, "k.csv", b"old")
    with pytest.raises(Boom), storage.open_writer("k.csv") as writer:
        writer.write(b"new but broken")
        raise Boom()
    assert _read(storage, "k.csv") == b"old"


def test_list_is_ordered_filtered_by_prefix_and_gives_sizes(storage: Storage) -> None:
    for key, data in {"b/2.csv": b"22", "a/1.csv": b"1", "ab/3.csv": b"333", "a/sub/4.csv": b"4444"}.items():
        _write(storage, key, data)

    everything = list(storage.list())
    assert [info.key for info in everything] == ["a/1.csv", "a/sub/4.csv", "ab/3.csv", "b/2.csv"]
    assert [info.size for info in everything] == [1, 4, 3, 2]
    assert all(info.uri == storage.uri(info.key) for info in everything)
    assert all(info.last_modified is not None and info.last_modified.tzinfo for info in everything)
    assert [info.key for info in storage.list("a/")] == ["a/1.csv", "a/sub/4.csv"]
    assert [info.key for info in storage.list("a")] == ["a/1.csv", "a/sub/4.csv", "ab/3.csv"]
    assert list(storage.list("nothing/")) == []


def test_delete_is_idempotent_and_delete_prefix_counts(storage: Storage) -> None:
    for key in ("x/1.csv", "x/2.csv", "y/3.csv"):
        _write(storage, key, b"data")

    storage.delete("x/1.csv")
    storage.delete("x/1.csv")
    storage.delete("never/there.csv")
    assert not storage.exists("x/1.csv")

    assert storage.delete_prefix("x/") == 1
    assert [info.key for info in storage.list()] == ["y/3.csv"]
    assert storage.delete_prefix("x/") == 0


def test_upload_download_and_copy_round_trip(storage: Storage, tmp_path: Path) -> None:
    source = tmp_path / "source.csv"
    source.write_bytes(b"a,b\n1,2\n" * 5000)

    written = storage.upload_file(source, "up/file.csv")
    assert written.size == source.stat().st_size
    assert written.sha256 == hashlib.sha256(source.read_bytes()).hexdigest()

    storage.copy("up/file.csv", "copied/file.csv")
    dest = tmp_path / "down" / "deeper" / "file.csv"
    storage.download_file("copied/file.csv", dest)
    assert dest.read_bytes() == source.read_bytes()
    assert sorted(p.name for p in dest.parent.iterdir()) == ["file.csv"]


def test_missing_objects_raise_not_found(storage: Storage, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="missing.csv"), storage.open_reader("missing.csv"):
        pass
    with pytest.raises(NotFoundError):
        storage.size("missing.csv")
    with pytest.raises(NotFoundError):
        storage.download_file("missing.csv", tmp_path / "out.csv")
    assert not (tmp_path / "out.csv").exists()
    assert list(tmp_path.glob(".out.csv*")) == []
    assert storage.exists("missing.csv") is False


BAD_KEYS = [
    "",
    "/etc/passwd",
    "../escape.csv",
    "a/../../b",
    "a/./b",
    "a//b",
    "a\\b",
    "a/b/",
    "tab\there",
    "nl\n",
]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_unsafe_keys_are_rejected_before_touching_the_store(
    storage: Storage, key: str, tmp_path: Path
) -> None:
    calls = [
        lambda: storage.open_writer(key).__enter__(),
        lambda: storage.open_reader(key).__enter__(),
        lambda: storage.upload_file(tmp_path / "does-not-matter", key),
        lambda: storage.download_file(key, tmp_path / "x"),
        lambda: storage.copy(key, "ok.csv"),
        lambda: storage.copy("ok.csv", key),
        lambda: storage.exists(key),
        lambda: storage.size(key),
        lambda: storage.delete(key),
        lambda: storage.presigned_url(key),
        lambda: storage.uri(key),
    ]
    for call in calls:
        with pytest.raises(ConfigError, match="invalid storage key"):
            call()
    assert list(storage.list()) == []


@pytest.mark.parametrize("prefix", ["/abs", "../up", "a//", "a/../b/"])
def test_unsafe_prefixes_are_rejected(storage: Storage, prefix: str) -> None:
    with pytest.raises(ConfigError, match="invalid storage prefix"):
        list(storage.list(prefix))
    with pytest.raises(ConfigError, match="invalid storage prefix"):
        storage.delete_prefix(prefix)
