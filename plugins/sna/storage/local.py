"""Exports in a local folder: the embedded default, so a demo needs nothing but Python."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

from sna.errors import ConfigError, NotFoundError, StorageError
from sna.storage.base import (
    MAX_PRESIGNED_SECONDS,
    HashingWriter,
    ObjectInfo,
    Storage,
    WrittenObject,
    check_expiry,
    is_temp_name,
    remove_quietly,
    temp_name,
    validate_key,
    validate_prefix,
)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return float("inf")  # gone meanwhile: nothing to remove


def parse_file_url(url: str) -> Path:
    """`file:///abs/dir` -> Path('/abs/dir'), checked like a key (no '..', no control characters)."""
    parts = urlsplit(url)
    if parts.scheme != "file" or parts.netloc not in ("", "localhost") or parts.query or parts.fragment:
        raise ConfigError(f"invalid storage URL {url!r}: expected file:///absolute/folder")
    path = unquote(parts.path)
    if not path.startswith("/"):
        raise ConfigError(f"invalid storage URL {url!r}: the folder must be an absolute path")
    validate_prefix(path.lstrip("/"), what=f"folder in storage URL {url!r}")
    return Path(path)


class LocalStorage(Storage):
    """Files under one folder; writes go to a hidden temporary sibling, then `os.replace`."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.url = self.root.as_uri()

    @classmethod
    def from_url(cls, url: str) -> LocalStorage:
        return cls(parse_file_url(url))

    def uri(self, key: str) -> str:
        return self._path(key).as_uri()

    def _path(self, key: str) -> Path:
        return self.root / validate_key(key)

    @contextmanager
    def _errors(self, action: str, key: str) -> Iterator[None]:
        """Turn operating-system errors into one-line StorageError/NotFoundError naming the key."""
        try:
            yield
        except FileNotFoundError as error:
            raise NotFoundError(f"{self.uri(key)}: no such file") from error
        except OSError as error:
            raise StorageError(f"{self.url}: cannot {action} {key}: {error.strerror or error}") from error

    @contextmanager
    def open_writer(self, key: str) -> Iterator[HashingWriter]:
        path = self._path(key)
        with self._errors("write", key):
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=temp_name(path.name))
        try:
            with os.fdopen(fd, "wb") as handle:
                writer = _LocalWriter(handle, self, key)
                yield writer
                with self._errors("write", key):
                    handle.flush()
                    os.fsync(handle.fileno())
            with self._errors("write", key):
                os.replace(tmp, path)
        except BaseException:
            remove_quietly(tmp)
            raise
        writer.close()
        writer.result = WrittenObject(key=key, uri=self.uri(key), size=writer.size, sha256=writer.sha256)

    def upload_file(self, local_path: Path, key: str) -> WrittenObject:
        validate_key(key)
        with self._open_local(local_path) as source, self.open_writer(key) as writer:
            shutil.copyfileobj(source, writer, length=1024 * 1024)
        assert writer.result is not None
        return writer.result

    @contextmanager
    def _open_local(self, local_path: Path) -> Iterator[BinaryIO]:
        try:
            handle = open(local_path, "rb")  # noqa: SIM115 - closed below, after error mapping
        except OSError as error:
            raise StorageError(f"cannot read local file {local_path}: {error.strerror or error}") from error
        with handle:
            yield handle

    def copy(self, source_key: str, dest_key: str) -> None:
        validate_key(source_key)
        validate_key(dest_key)
        with self.open_reader(source_key) as source, self.open_writer(dest_key) as writer:
            shutil.copyfileobj(source, writer, length=1024 * 1024)

    def download_file(self, key: str, local_path: Path) -> None:
        validate_key(key)
        with self.open_reader(key) as source:
            write_local_atomically(source, Path(local_path))

    @contextmanager
    def open_reader(self, key: str) -> Iterator[BinaryIO]:
        path = self._path(key)
        with self._errors("read", key):
            handle = open(path, "rb")  # noqa: SIM115 - closed below, after error mapping
        with handle:
            yield handle

    def exists(self, key: str) -> bool:
        path = self._path(key)
        with self._errors("check", key):
            return path.is_file()

    def size(self, key: str) -> int:
        path = self._path(key)
        with self._errors("stat", key):
            return path.stat().st_size

    def delete(self, key: str) -> None:
        path = self._path(key)
        with self._errors("delete", key):
            try:
                path.unlink()
            except FileNotFoundError:
                return
            self._prune_empty_folders(path.parent)

    def _prune_empty_folders(self, folder: Path) -> None:
        """Remove folders emptied by deletes, up to (not including) the root, so expiry leaves no husks."""
        while folder != self.root and self.root in folder.parents:
            try:
                folder.rmdir()
            except OSError:
                return
            folder = folder.parent

    def delete_prefix(self, prefix: str) -> int:
        keys = [info.key for info in self.list(prefix)]
        for key in keys:
            self.delete(key)
        return len(keys)

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        validate_prefix(prefix)
        start = self.root / prefix.rsplit("/", 1)[0] if "/" in prefix else self.root
        with self._errors("list", prefix or "(all)"):
            if not start.is_dir():
                return
            found: list[ObjectInfo] = []
            for folder, _subfolders, names in os.walk(start):
                for name in names:
                    if is_temp_name(name):
                        continue
                    path = Path(folder, name)
                    key = path.relative_to(self.root).as_posix()
                    if not key.startswith(prefix):
                        continue
                    try:
                        stat = path.stat()
                    except FileNotFoundError:
                        continue  # deleted while listing
                    modified = datetime.fromtimestamp(stat.st_mtime, tz=UTC)
                    found.append(
                        ObjectInfo(key=key, uri=path.as_uri(), size=stat.st_size, last_modified=modified)
                    )
        yield from sorted(found, key=lambda info: info.key)

    def remove_abandoned_writes(self, started_before: datetime, *, dry_run: bool = False) -> int:
        """Temporary files of atomic writes (`.name.tmp-*`) older than `started_before`."""
        removed = 0
        if not self.root.is_dir():
            return 0
        cutoff = started_before.timestamp()
        for folder, _dirs, names in os.walk(self.root):
            for name in names:
                path = Path(folder) / name
                if is_temp_name(name) and _mtime(path) < cutoff:
                    if not dry_run:
                        remove_quietly(path)
                    removed += 1
        return removed

    def presigned_url(self, key: str, expires_in: int = MAX_PRESIGNED_SECONDS) -> str | None:
        validate_key(key)
        check_expiry(expires_in)
        return None


class _LocalWriter(HashingWriter):
    """HashingWriter whose disk errors (disk full...) become StorageError naming the key."""

    def __init__(self, target: BinaryIO, storage: LocalStorage, key: str) -> None:
        super().__init__(target)
        self._storage = storage
        self._key = key

    def write(self, data) -> int:  # type: ignore[override]
        with self._storage._errors("write", self._key):
            return super().write(data)


def write_local_atomically(source: BinaryIO, dest: Path) -> None:
    """Copy a stream to `dest` through a hidden temporary sibling, so `dest` is complete or absent."""
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=temp_name(dest.name))
    except OSError as error:
        raise StorageError(f"cannot write local file {dest}: {error.strerror or error}") from error
    try:
        with os.fdopen(fd, "wb") as handle:
            try:
                shutil.copyfileobj(source, handle, length=1024 * 1024)
                handle.flush()
                os.fsync(handle.fileno())
            except OSError as error:
                raise StorageError(f"cannot write local file {dest}: {error.strerror or error}") from error
        os.replace(tmp, dest)
    except BaseException:
        remove_quietly(tmp)
        raise
