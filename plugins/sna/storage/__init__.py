"""Where export files live: a local folder (`file:///abs/dir`) or S3 (`s3://bucket/prefix`).

`open_storage` picks the implementation from the URL, so settings, the command line and the DAGs
only ever pass a string around.
"""

from __future__ import annotations

from typing import Any

from sna.errors import ConfigError
from sna.storage.base import MAX_PRESIGNED_SECONDS, ObjectInfo, Storage, WrittenObject, validate_key
from sna.storage.local import LocalStorage
from sna.storage.s3 import (
    DEFAULT_MULTIPART_CHUNKSIZE,
    DEFAULT_MULTIPART_THRESHOLD,
    S3Storage,
    encryption_args,
)

__all__ = [
    "MAX_PRESIGNED_SECONDS",
    "LocalStorage",
    "ObjectInfo",
    "S3Storage",
    "Storage",
    "WrittenObject",
    "open_storage",
    "validate_key",
]


def open_storage(
    url: str,
    *,
    s3_client: Any = None,
    multipart_threshold: int = DEFAULT_MULTIPART_THRESHOLD,
    multipart_chunksize: int = DEFAULT_MULTIPART_CHUNKSIZE,
    s3_encryption: str = "AES256",
    s3_kms_key_id: str | None = None,
) -> Storage:
    """The storage a URL names.

    `s3_client` lets Airflow pass a boto3 client built from its `sna_s3` connection; without it the
    client comes from the standard AWS environment (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, ...).
    """
    if not isinstance(url, str) or not url:
        raise ConfigError("invalid storage URL: empty (expected file:///abs/dir or s3://bucket/prefix)")
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme == "file":
        return LocalStorage.from_url(url)
    if scheme == "s3":
        return S3Storage.from_url(
            url,
            client=s3_client,
            multipart_threshold=multipart_threshold,
            multipart_chunksize=multipart_chunksize,
            encryption=encryption_args(s3_encryption, s3_kms_key_id),
        )
    raise ConfigError(f"invalid storage URL {url!r}: expected file:///abs/dir or s3://bucket/prefix")
