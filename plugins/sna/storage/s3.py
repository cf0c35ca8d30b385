"""Exports in S3 or any S3-compatible store (SeaweedFS, MinIO, ...).

Every write is encrypted at rest (AES256) because the files hold customer data. Writes are
spooled to a local temporary file first, then handed to boto3's transfer manager, which uses
multipart above a threshold and aborts the multipart upload when a part fails: an object only
ever appears complete.
"""

from __future__ import annotations

import hashlib
import io
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

import boto3
import botocore.config
import botocore.exceptions
from boto3.s3.transfer import TransferConfig

from sna.errors import ConfigError, NotFoundError, StorageError
from sna.storage.base import (
    MAX_PRESIGNED_SECONDS,
    HashingWriter,
    ObjectInfo,
    Storage,
    WrittenObject,
    check_expiry,
    validate_key,
    validate_prefix,
)
from sna.storage.local import write_local_atomically

DEFAULT_MULTIPART_THRESHOLD = 8 * 1024 * 1024
DEFAULT_MULTIPART_CHUNKSIZE = 8 * 1024 * 1024
ENCRYPTION_MODES = ("AES256", "aws:kms", "none")


def encryption_args(mode: str = "AES256", kms_key_id: str | None = None) -> dict[str, str]:
    """The write arguments of an encryption mode: SSE-S3 (`AES256`, the default), SSE-KMS
    (`aws:kms` with a key id) or `none` for stores without a key service (a MinIO without KMS refuses
    every write that asks for encryption)."""
    if mode not in ENCRYPTION_MODES:
        raise ConfigError(f"s3_encryption {mode!r}: expected one of {', '.join(ENCRYPTION_MODES)}")
    if mode == "none":
        return {}
    if mode == "aws:kms":
        if not kms_key_id:
            raise ConfigError("s3_encryption aws:kms needs s3_kms_key_id (SNA_S3_KMS_KEY_ID): the key to use")
        return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key_id}
    return {"ServerSideEncryption": "AES256"}

_BUCKET_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789.-")


def default_client() -> Any:
    """An S3 client from the standard AWS environment, failing fast when the endpoint is unreachable
    (a task should not hang for minutes on a wrong endpoint)."""
    config = botocore.config.Config(
        connect_timeout=5,
        read_timeout=60,
        retries={"max_attempts": 2, "mode": "standard"},
        signature_version="s3v4",  # presigned links carry X-Amz-Expires (SigV2 links are deprecated)
    )
    try:
        return boto3.session.Session().client("s3", config=config)
    except botocore.exceptions.BotoCoreError as error:
        raise ConfigError(f"cannot configure the S3 client: {type(error).__name__}") from error


def parse_s3_url(url: str) -> tuple[str, str]:
    """`s3://bucket/some/prefix` -> ('bucket', 'some/prefix/'); the prefix is checked like a key."""
    parts = urlsplit(url)
    bucket = parts.netloc
    if parts.scheme != "s3" or not bucket or parts.query or parts.fragment:
        raise ConfigError(f"invalid storage URL {url!r}: expected s3://bucket[/prefix]")
    if not (3 <= len(bucket) <= 63) or not set(bucket) <= _BUCKET_CHARS or bucket[0] in ".-":
        raise ConfigError(f"invalid storage URL {url!r}: {bucket!r} is not a valid bucket name")
    prefix = parts.path.removeprefix("/")
    validate_prefix(prefix, what=f"prefix in storage URL {url!r}")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return bucket, prefix


class S3Storage(Storage):
    """Objects under `s3://bucket/prefix/`; keys are relative to the prefix."""

    def __init__(
        self,
        bucket: str,
        prefix: str,
        client: Any,
        *,
        multipart_threshold: int = DEFAULT_MULTIPART_THRESHOLD,
        multipart_chunksize: int = DEFAULT_MULTIPART_CHUNKSIZE,
        encryption: dict[str, str] | None = None,
    ) -> None:
        self.bucket = bucket
        self.encryption = dict(encryption if encryption is not None else encryption_args())
        self.prefix = prefix
        self.client = client
        self.url = f"s3://{bucket}/{prefix.rstrip('/')}" if prefix else f"s3://{bucket}"
        self.transfer_config = TransferConfig(
            multipart_threshold=multipart_threshold,
            multipart_chunksize=multipart_chunksize,
            preferred_transfer_client="classic",
        )

    @classmethod
    def from_url(cls, url: str, *, client: Any = None, **options: Any) -> S3Storage:
        bucket, prefix = parse_s3_url(url)
        return cls(bucket, prefix, client if client is not None else default_client(), **options)

    @property
    def endpoint(self) -> str:
        return str(getattr(self.client.meta, "endpoint_url", "") or "default AWS endpoint")

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._full_key(key)}"

    def _full_key(self, key: str) -> str:
        return self.prefix + validate_key(key)

    def _relative_key(self, full_key: str) -> str:
        return full_key[len(self.prefix) :]

    @contextmanager
    def _errors(self, action: str, key: str) -> Iterator[None]:
        """One-line StorageError naming the storage, endpoint and what failed; never credentials."""
        try:
            yield
        except (
            botocore.exceptions.BotoCoreError,
            botocore.exceptions.ClientError,
            boto3.exceptions.Boto3Error,
        ) as error:
            reason = describe_s3_error(error)
            if reason == "not found":
                raise NotFoundError(f"{self.uri(key)}: no such object") from error
            raise StorageError(
                f"{self.url} (endpoint {self.endpoint}): cannot {action} {key}: {reason}"
            ) from error

    @contextmanager
    def open_writer(self, key: str) -> Iterator[HashingWriter]:
        full_key = self._full_key(key)
        with tempfile.TemporaryFile(prefix="sna-s3-spool-") as spool:
            writer = HashingWriter(spool)
            yield writer
            spool.flush()
            spool.seek(0)
            with self._errors("upload", key):
                self.client.upload_fileobj(
                    spool, self.bucket, full_key, ExtraArgs=dict(self.encryption), Config=self.transfer_config
                )
        writer.close()
        writer.result = WrittenObject(key=key, uri=self.uri(key), size=writer.size, sha256=writer.sha256)

    def upload_file(self, local_path: Path, key: str) -> WrittenObject:
        full_key = self._full_key(key)
        try:
            handle = open(local_path, "rb")  # noqa: SIM115 - closed below, after error mapping
        except OSError as error:
            raise StorageError(f"cannot read local file {local_path}: {error.strerror or error}") from error
        with handle:
            digest = hashlib.file_digest(handle, "sha256")
            size = handle.tell()
            handle.seek(0)
            with self._errors("upload", key):
                self.client.upload_fileobj(
                    handle, self.bucket, full_key, ExtraArgs=dict(self.encryption), Config=self.transfer_config
                )
        return WrittenObject(key=key, uri=self.uri(key), size=size, sha256=digest.hexdigest())

    def copy(self, source_key: str, dest_key: str) -> None:
        source = {"Bucket": self.bucket, "Key": self._full_key(source_key)}
        dest = self._full_key(dest_key)
        with self._errors("copy to", dest_key):
            self.client.copy(
                source, self.bucket, dest, ExtraArgs=dict(self.encryption), Config=self.transfer_config
            )

    def download_file(self, key: str, local_path: Path) -> None:
        with self.open_reader(key) as source:
            write_local_atomically(source, Path(local_path))

    @contextmanager
    def open_reader(self, key: str) -> Iterator[BinaryIO]:
        full_key = self._full_key(key)
        with self._errors("read", key):
            response = self.client.get_object(Bucket=self.bucket, Key=full_key)
        body = response["Body"]
        try:
            yield io.BufferedReader(_BodyReader(body, self, key), buffer_size=1024 * 1024)
        finally:
            body.close()

    def exists(self, key: str) -> bool:
        try:
            self.size(key)
        except NotFoundError:
            return False
        return True

    def size(self, key: str) -> int:
        full_key = self._full_key(key)
        with self._errors("stat", key):
            return int(self.client.head_object(Bucket=self.bucket, Key=full_key)["ContentLength"])

    def delete(self, key: str) -> None:
        full_key = self._full_key(key)
        with self._errors("delete", key):
            self.client.delete_object(Bucket=self.bucket, Key=full_key)

    def delete_prefix(self, prefix: str) -> int:
        keys = [info.key for info in self.list(prefix)]
        for start in range(0, len(keys), 1000):
            batch = keys[start : start + 1000]
            with self._errors("delete under", prefix or "(all)"):
                response = self.client.delete_objects(
                    Bucket=self.bucket,
                    Delete={"Objects": [{"Key": self.prefix + key} for key in batch], "Quiet": True},
                )
            if response.get("Errors"):
                failed = response["Errors"][0]
                raise StorageError(
                    f"{self.url} (endpoint {self.endpoint}): cannot delete "
                    f"{self._relative_key(failed.get('Key', ''))}: {failed.get('Code', 'error')}"
                    f" ({len(response['Errors'])} objects not deleted)"
                )
        return len(keys)

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        validate_prefix(prefix)
        paginator = self.client.get_paginator("list_objects_v2")
        with self._errors("list", prefix or "(all)"):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
                for item in page.get("Contents", []):
                    key = self._relative_key(item["Key"])
                    yield ObjectInfo(
                        key=key,
                        uri=f"s3://{self.bucket}/{item['Key']}",
                        size=int(item["Size"]),
                        last_modified=item.get("LastModified"),
                    )

    def presigned_url(self, key: str, expires_in: int = MAX_PRESIGNED_SECONDS) -> str | None:
        full_key = self._full_key(key)
        seconds = check_expiry(expires_in)
        with self._errors("sign", key):
            return self.client.generate_presigned_url(
                "get_object", Params={"Bucket": self.bucket, "Key": full_key}, ExpiresIn=seconds
            )

    def remove_abandoned_writes(self, started_before: datetime, *, dry_run: bool = False) -> int:
        return self.abort_incomplete_uploads(initiated_before=started_before, dry_run=dry_run)

    def abort_incomplete_uploads(
        self, prefix: str = "", initiated_before: datetime | None = None, *, dry_run: bool = False
    ) -> int:
        """Abort multipart uploads left under `prefix` by writers that died before they could abort
        (for example when the endpoint vanished mid-upload); returns how many were aborted. With
        `initiated_before`, younger uploads (a run still writing) are left alone. `dry_run` counts
        them and aborts nothing."""
        validate_prefix(prefix)
        aborted = 0
        paginator = self.client.get_paginator("list_multipart_uploads")
        with self._errors("clean uploads under", prefix or "(all)"):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
                for upload in page.get("Uploads", []) or []:
                    started = upload.get("Initiated")
                    if initiated_before is not None and started is not None and started >= initiated_before:
                        continue
                    if not dry_run:
                        self.client.abort_multipart_upload(
                            Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                        )
                    aborted += 1
        return aborted


class _BodyReader(io.RawIOBase):
    """A botocore streaming body as a standard binary stream, with read failures as StorageError."""

    def __init__(self, body: Any, storage: S3Storage, key: str) -> None:
        super().__init__()
        self._body = body
        self._storage = storage
        self._key = key

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        with self._storage._errors("read", self._key):
            data = self._body.read(len(view))
        view[: len(data)] = data
        return len(data)


def describe_s3_error(error: BaseException) -> str:
    """A short, credential-free reason for an S3 failure, following wrapped causes."""
    for cause in _causes(error):
        if isinstance(
            cause,
            (
                botocore.exceptions.EndpointConnectionError,
                botocore.exceptions.ConnectTimeoutError,
                botocore.exceptions.ConnectionClosedError,
            ),
        ):
            return "cannot connect"
        if isinstance(cause, botocore.exceptions.ReadTimeoutError):
            return "timed out"
        if isinstance(
            cause, (botocore.exceptions.NoCredentialsError, botocore.exceptions.PartialCredentialsError)
        ):
            return "no credentials configured"
        if isinstance(cause, botocore.exceptions.ClientError):
            return _describe_client_error(cause)
        if isinstance(cause, botocore.exceptions.BotoCoreError):
            return type(cause).__name__
    return type(error).__name__


def _describe_client_error(error: botocore.exceptions.ClientError) -> str:
    details = error.response.get("Error", {})
    code = str(details.get("Code", ""))
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if code == "NoSuchBucket":
        return "bucket does not exist"
    if code in ("NoSuchKey", "NotFound") or (code == "404" and not _is_bucket_operation(error)):
        return "not found"
    if code == "404":
        return "bucket does not exist"
    if (
        code in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403", "Forbidden")
        or status == 403
    ):
        return "access denied"
    return f"{code or 'error'} (HTTP {status})" if status else code or "error"


def _is_bucket_operation(error: botocore.exceptions.ClientError) -> bool:
    return getattr(error, "operation_name", "") in ("HeadBucket", "ListObjectsV2", "ListObjects")


def _causes(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__
