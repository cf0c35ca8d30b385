"""Path traversal in names, storage URLs, prefixes, keys, suppression paths and UI paths is refused
before any storage call.

The storages are observed, not imitated: a real SeaweedFS whose every HTTP request is recorded by a
boto3 `before-send` hook (a refused call must send none), and a local folder whose parent holds a
sentinel and whose whole tree is compared before and after (a refused call must change nothing).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sna.errors import ConfigError
from sna.storage import LocalStorage, S3Storage, open_storage

pytestmark = pytest.mark.timeout(300)

HOSTILE = [
    "../escape.csv",
    "a/../../b.csv",
    "..",
    ".",
    "./a.csv",
    "/etc/passwd",
    "/",
    "a\\..\\..\\b.csv",
    "..\\b.csv",
    "C:\\Windows\\win.ini",
    "a\x00.csv",
    "a/b\x00/../../c",
    "%2e%2e/escape.csv",
    "%2E%2E%2Fescape.csv",
    "..%2fescape.csv",
    "a/%2e%2e/%2e%2e/b.csv",
    "%252e%252e%252fx.csv",
    "a%5c..%5cb.csv",
    "a%00.csv",
    "a//b.csv",
    "a\n/../b",
]


class RequestLog:
    """Every HTTP request an S3 client is about to send (a refused call must send none)."""

    def __init__(self, client: Any) -> None:
        self.requests: list[tuple[str, str]] = []
        client.meta.events.register("before-send.s3", self._record)

    def _record(self, request: Any, **_: Any) -> None:
        self.requests.append((request.method, request.url))


def _tree(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


def _key_calls(storage: Any, key: str, tmp: Path) -> list[Callable[[], Any]]:
    local = tmp / "local.csv"
    local.write_text("Email\n")
    calls = [
        lambda: storage.open_writer(key).__enter__(),
        lambda: storage.open_reader(key).__enter__(),
        lambda: storage.upload_file(local, key),
        lambda: storage.download_file(key, tmp / "download.csv"),
        lambda: storage.copy(key, "ok.csv"),
        lambda: storage.copy("ok.csv", key),
        lambda: storage.exists(key),
        lambda: storage.size(key),
        lambda: storage.delete(key),
        lambda: storage.presigned_url(key, 60),
        lambda: storage.uri(key),
    ]
    if key not in ("", "/"):
        calls += [lambda: list(storage.list(key)), lambda: storage.delete_prefix(key)]
    if isinstance(storage, S3Storage):
        calls.append(lambda: storage.abort_incomplete_uploads(key))
    return calls


def _refuse_all(calls: list[Callable[[], Any]], key: str) -> int:
    for call in calls:
        with pytest.raises(ConfigError, match="invalid storage (key|prefix)") as refused:
            call()
        assert "\n" not in str(refused.value), key
    return len(calls)


@pytest.fixture
def observed_s3(s3_server, s3_bucket) -> tuple[S3Storage, RequestLog]:
    client = s3_server.client()
    client.put_object(Bucket=s3_bucket, Key="exports/ok.csv", Body=b"Email\n", ServerSideEncryption="AES256")
    return S3Storage(s3_bucket, "exports/", client), RequestLog(client)


def test_hostile_keys_and_prefixes_never_reach_s3(observed_s3, tmp_path, figures) -> None:
    storage, log = observed_s3
    refused = sum(_refuse_all(_key_calls(storage, key, tmp_path), key) for key in HOSTILE)
    assert log.requests == []
    assert storage.exists("ok.csv") and len(log.requests) == 1, "the observer does see real calls"
    figures.add("path_traversal", hostile_values=len(HOSTILE), s3_calls_refused=refused, s3_requests_sent=0)


def test_hostile_keys_and_prefixes_never_touch_the_disk(tmp_path, figures) -> None:
    parent = tmp_path / "parent"
    root = parent / "exports"
    root.mkdir(parents=True)
    (parent / "sentinel.txt").write_text("must stay")
    (root / "ok.csv").write_text("Email\n")
    work = tmp_path / "work"
    work.mkdir()
    storage = LocalStorage(root)
    before = _tree(parent)
    refused = sum(_refuse_all(_key_calls(storage, key, work), key) for key in HOSTILE)
    assert _tree(parent) == before
    assert not (work / "download.csv").exists()
    assert not Path("/etc/passwd.csv").exists()
    figures.add("path_traversal", local_calls_refused=refused, files_changed=0)


@pytest.mark.parametrize("prefix", ["../up", "a/../../b", "/abs", "a\\..\\b", "%2e%2e/x", "x/%2E%2E%2F..",
                                    "a\x00b", "a//b"])
def test_hostile_storage_urls_are_refused_before_any_request(prefix, s3_server, s3_bucket, tmp_path,
                                                             figures) -> None:
    client = s3_server.client()
    log = RequestLog(client)
    with pytest.raises(ConfigError, match="invalid storage URL|invalid (prefix|folder) in storage URL"):
        open_storage(f"s3://{s3_bucket}/{prefix}", s3_client=client)
    folder = tmp_path / "base"
    folder.mkdir()
    with pytest.raises(ConfigError):
        open_storage(f"{folder.as_uri()}/{prefix}")
    assert log.requests == [] and list(folder.iterdir()) == []
    figures.add("path_traversal", storage_urls_refused=2)


@pytest.mark.parametrize("prefix", ["../up", "a/../../b", "./x", "x/.."])
def test_a_hostile_s3_prefix_setting_gives_no_storage(prefix, s3_server, s3_bucket) -> None:
    """`SNA_S3_PREFIX` / `s3_prefix` passes its character pattern but not the key rules."""
    from sna.settings import Settings

    settings = Settings(s3_bucket=s3_bucket, s3_prefix=prefix)
    client = s3_server.client()
    log = RequestLog(client)
    with pytest.raises(ConfigError):
        open_storage(f"s3://{settings.s3_bucket}/{settings.s3_prefix}", s3_client=client)
    assert log.requests == []


@pytest.mark.parametrize("name", ["../x", "a/b", "..", "x\x00", "a\\b", "%2e%2e", "A", "x y", "é", ""])
def test_audience_names_that_would_name_a_folder_elsewhere_are_refused(name, tmp_path) -> None:
    """The name becomes the file's key (`<name>/<platform>/...`) and the staging prefix."""
    from sna.audience import check_audience_file

    path = tmp_path / "a.yaml"
    path.write_text(f'name: "{name.encode("unicode_escape").decode()}"\nplatform: google\n', encoding="utf-8")
    audience, errors = check_audience_file(path)
    assert audience is None and errors[0].key == "name"


@pytest.mark.parametrize("path", ["../../etc/passwd", "config/../../x.txt", "a\x00b.txt", "..\\..\\x.txt",
                                  "%2e%2e/x.txt", "config%2f..%2f..%2fx.txt", "a\nb.txt", ""])
def test_hostile_suppression_paths_are_refused_by_validation(path, tmp_path, figures) -> None:
    """Absolute paths stay allowed: a suppression list is a configuration file on the runner (it is
    read, never written, and never exported), not a storage key."""
    from sna.audience import check_audience_file

    file = tmp_path / "a.yaml"
    escaped = path.encode("unicode_escape").decode().replace('"', '\\"')
    file.write_text(f'name: a\nplatform: google\nsuppression_list: "{escaped}"\n', encoding="utf-8")
    audience, errors = check_audience_file(file)
    assert audience is None and errors[0].key == "suppression_list" and "\n" not in str(errors[0])
    figures.add("path_traversal", suppression_paths_refused=1)


@pytest.mark.parametrize("url", [
    "/audiences/sna_secret/exports/..%2F..%2Fetc%2Fpasswd/download",
    "/audiences/sna_secret/exports/%2e%2e%2fsecret%2fgoogle%2fx.csv/download",
    "/audiences/sna_secret/exports/../../../secret/google/x.csv/download",
    "/audiences/..%2Fsna_secret/exports/x/download",
    "/audiences/sna_..%2F..%2Fetc/exports/x/download?link=true",
    "/audiences/sna_secret/exports/x%00/download",
    "/static/..%2F..%2Fapp.py",
    "/static/%2e%2e%2fapp.py",
    "/static/..%5Capp.py",
    "/static/sna.css%00.py",
])
def test_ui_paths_never_reach_the_storage(url, s3_server, s3_bucket, make_client, tokens, store,
                                          figures) -> None:
    """The UI hands the storage only keys read from the registry, never one taken from a request."""
    from sna.exports import ExportStore

    client = s3_server.client()
    storage = S3Storage(s3_bucket, "exports/", client)
    log = RequestLog(client)
    ui = make_client(ExportStore(storage, store.registry), tokens["admin"])
    response = ui.get(url)
    assert response.status_code in (400, 403, 404), response.status_code
    assert log.requests == []
    assert b"import" not in response.content and b"root:" not in response.content
    figures.add("path_traversal", ui_requests_refused=1)


def test_download_destination_is_the_users_choice_but_ids_are_not_paths(tmp_path, store, capsys) -> None:
    """`sna exports download ID DEST`: an id is looked up in the registry, never used as a path."""
    from sna.cli import main as sna

    locations = ["--storage-url", store.storage.url, "--registry-url", str(store.registry.engine.url)]
    for export_id in ("../../etc/passwd", "/etc/passwd", "%2e%2e%2fx"):
        assert sna(["exports", "download", export_id, str(tmp_path / "out.csv"), *locations]) == 1
        error = capsys.readouterr().err
        assert error.startswith("sna: error: export") and "does not exist" in error
    assert not (tmp_path / "out.csv").exists()
    root = Path(store.storage.root)
    assert not root.exists() or os.listdir(root) == []
