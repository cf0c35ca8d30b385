"""What every file storage offers, and the key rules they all enforce.

Exports are written once, read by people and platforms, then expired; the storage interface
is therefore small (write atomically, read, list, delete) and identical for a local folder
and S3, so the engine and its tests never care which one they have.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from sna.errors import ConfigError

MAX_PRESIGNED_SECONDS = 300
"""Presigned links hand customer files to whoever holds them: keep them short-lived."""

_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")
_PERCENT_ENCODED = re.compile(r"%[0-9a-f]{2}", re.IGNORECASE)
"""`%2e%2e%2f` is `../` to whatever decodes a key again (a proxy, a web server); SNA's keys never need one."""


@dataclass(frozen=True)
class ObjectInfo:
    """One stored file, as a listing sees it."""

    key: str
    uri: str
    size: int
    last_modified: datetime | None


@dataclass(frozen=True)
class WrittenObject:
    """A file that has just been stored, with the checksum computed while it was written."""

    key: str
    uri: str
    size: int
    sha256: str


def validate_key(key: str, *, what: str = "storage key") -> str:
    """Reject keys that could escape the storage's folder or mean different things on different stores.

    Checked before any storage call so that a hostile or mistaken key never reaches the disk or S3.
    """
    if not isinstance(key, str) or not key:
        raise ConfigError(f"invalid {what} {key!r}: must be a non-empty string")
    _check_segments(key, what=what, allow_trailing_slash=False)
    return key


def validate_prefix(prefix: str, *, what: str = "storage prefix") -> str:
    """Like `validate_key`, but the empty prefix (everything) and a trailing slash are allowed."""
    if not isinstance(prefix, str):
        raise ConfigError(f"invalid {what} {prefix!r}: must be a string")
    if prefix:
        _check_segments(prefix, what=what, allow_trailing_slash=True)
    return prefix


def _check_segments(value: str, *, what: str, allow_trailing_slash: bool) -> None:
    if _CONTROL_CHARS.search(value):
        raise ConfigError(f"invalid {what} {value!r}: control characters are not allowed")
    if "\\" in value:
        raise ConfigError(f"invalid {what} {value!r}: backslashes are not allowed")
    if _PERCENT_ENCODED.search(value):
        raise ConfigError(f"invalid {what} {value!r}: percent-encoded characters are not allowed")
    if value.startswith("/"):
        raise ConfigError(f"invalid {what} {value!r}: must be relative (no leading '/')")
    body = value[:-1] if allow_trailing_slash and value.endswith("/") else value
    for segment in body.split("/"):
        if segment == "":
            raise ConfigError(f"invalid {what} {value!r}: empty path segment")
        if segment in (".", ".."):
            raise ConfigError(f"invalid {what} {value!r}: '.' and '..' segments are not allowed")


def check_expiry(expires_in: int) -> int:
    """Presigned links last at most `MAX_PRESIGNED_SECONDS`; longer requests are shortened."""
    if not isinstance(expires_in, int) or expires_in <= 0:
        raise ConfigError(
            f"invalid presigned URL expiry {expires_in!r}: must be a positive number of seconds"
        )
    return min(expires_in, MAX_PRESIGNED_SECONDS)


def is_temp_name(name: str) -> bool:
    """Temporary files of atomic writes (`.name.tmp-xxxx`) are never part of the storage's content."""
    return name.startswith(".") and ".tmp-" in name


def temp_name(final_name: str) -> str:
    """Prefix for a hidden temporary sibling of `final_name` (see `is_temp_name`)."""
    return f".{final_name}.tmp-"


class HashingWriter(io.RawIOBase):
    """Write-only stream that counts and hashes bytes on their way to `target`.

    The checksum and size of an export are therefore known when the write ends, without reading
    the file again. After a successful `open_writer` block, `result` holds the `WrittenObject`.
    """

    def __init__(self, target: BinaryIO) -> None:
        super().__init__()
        self._target = target
        self._sha256 = hashlib.sha256()
        self._size = 0
        self.result: WrittenObject | None = None

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:  # type: ignore[override]
        if self.closed:
            raise ValueError("write to a closed storage writer")
        view = memoryview(data).cast("B")
        self._target.write(view)
        self._sha256.update(view)
        self._size += view.nbytes
        return view.nbytes

    @property
    def size(self) -> int:
        return self._size

    @property
    def sha256(self) -> str:
        return self._sha256.hexdigest()

    def close(self) -> None:
        """Closing only stops further writes (a TextIOWrapper on top may close it); the storage
        finishes or discards the object when the `open_writer` block ends."""
        super().close()


def remove_quietly(path: str | os.PathLike) -> None:
    """Remove a temporary file if it is still there: cleanup must never hide the original error."""
    try:
        os.unlink(path)
    except OSError:
        pass


class Storage(ABC):
    """A place for export files: a local folder or an S3 bucket and prefix.

    Keys are relative to the storage's own location, use '/' as separator and are checked by
    `validate_key` before anything touches the store.
    """

    url: str
    """Where the storage points, without secrets (`file:///abs/dir`, `s3://bucket/prefix`)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"

    @abstractmethod
    def uri(self, key: str) -> str:
        """The full address of `key` (for entries and messages)."""

    @abstractmethod
    def open_writer(self, key: str) -> AbstractContextManager[HashingWriter]:
        """Write `key` atomically: the object appears only if the block exits without error;
        afterwards `writer.result` is the `WrittenObject` (size and sha256)."""

    @abstractmethod
    def upload_file(self, local_path: Path, key: str) -> WrittenObject:
        """Store a local file under `key` (atomically)."""

    @abstractmethod
    def copy(self, source_key: str, dest_key: str) -> None:
        """Copy an object inside the storage (atomically)."""

    @abstractmethod
    def download_file(self, key: str, local_path: Path) -> None:
        """Copy `key` to `local_path`; the local file appears only when complete."""

    @abstractmethod
    def open_reader(self, key: str) -> AbstractContextManager[BinaryIO]:
        """Stream `key`; raises NotFoundError when it does not exist."""

    @abstractmethod
    def exists(self, key: str) -> bool:
        """Whether `key` is stored."""

    @abstractmethod
    def size(self, key: str) -> int:
        """Size of `key` in bytes; raises NotFoundError when it does not exist."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Delete `key`; deleting a missing key is not an error."""

    @abstractmethod
    def delete_prefix(self, prefix: str) -> int:
        """Delete every object whose key starts with `prefix`; returns how many were deleted."""

    @abstractmethod
    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Objects whose key starts with `prefix`, in key order."""

    @abstractmethod
    def presigned_url(self, key: str, expires_in: int = MAX_PRESIGNED_SECONDS) -> str | None:
        """A temporary download link (S3 only; None where the store cannot make one)."""

    @abstractmethod
    def remove_abandoned_writes(self, started_before: datetime, *, dry_run: bool = False) -> int:
        """Removes what writers that died mid-write left (local temporary files, S3 multipart
        uploads) begun before `started_before`; returns how many (`dry_run`: counts only). Such
        leftovers hold customer rows and are invisible to `list`."""
