"""S3-only promises, checked against a real SeaweedFS: encryption, multipart, presigned links, failures."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import botocore.exceptions
import pytest

from sna.errors import ConfigError, StorageError
from sna.storage import S3Storage, open_storage

MIB = 1024 * 1024


def _closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_writer_upload_and_copy_are_encrypted_at_rest(
    s3_storage_url, s3_bucket, boto3_s3_client, tmp_path
) -> None:
    storage = open_storage(s3_storage_url)
    with storage.open_writer("w.csv") as writer:
        writer.write(b"1")
    local = tmp_path / "u.csv"
    local.write_bytes(b"2")
    storage.upload_file(local, "u.csv")
    storage.copy("w.csv", "c.csv")

    for key in ("w.csv", "u.csv", "c.csv"):
        head = boto3_s3_client.head_object(Bucket=s3_bucket, Key=f"exports/{key}")
        assert head.get("ServerSideEncryption") == "AES256", key


def test_large_writes_use_multipart_and_stay_encrypted(s3_storage_url, s3_bucket, boto3_s3_client) -> None:
    storage = open_storage(s3_storage_url, multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB)
    data = bytes(range(256)) * (11 * MIB // 256)
    with storage.open_writer("big.csv") as writer:
        for start in range(0, len(data), MIB):
            writer.write(data[start : start + MIB])

    head = boto3_s3_client.head_object(Bucket=s3_bucket, Key="exports/big.csv")
    assert head["ETag"].strip('"').endswith("-3")
    assert head["ServerSideEncryption"] == "AES256"
    with storage.open_reader("big.csv") as reader:
        assert reader.read() == data

    small = open_storage(s3_storage_url)  # default 8 MiB threshold: a 1 KiB write is a single PUT
    with small.open_writer("small.csv") as writer:
        writer.write(b"x" * 1024)
    assert "-" not in boto3_s3_client.head_object(Bucket=s3_bucket, Key="exports/small.csv")["ETag"]


def _fail_parts_after_the_first(client, action) -> None:
    """Fault injection through botocore's own event hooks: the server stays real, one part fails."""
    seen = []

    def before_send(request, **_):
        seen.append(request.url)
        if len(seen) > 1:
            action(request)

    client.meta.events.register("before-send.s3.UploadPart", before_send)


def test_failed_multipart_upload_is_aborted_and_leaves_no_object(
    s3_server, s3_bucket, boto3_s3_client
) -> None:
    client = s3_server.client()

    def drop_connection(request):
        raise botocore.exceptions.ConnectionClosedError(endpoint_url=request.url)

    _fail_parts_after_the_first(client, drop_connection)
    storage = open_storage(
        f"s3://{s3_bucket}/exports",
        s3_client=client,
        multipart_threshold=5 * MIB,
        multipart_chunksize=5 * MIB,
    )

    with pytest.raises(StorageError) as caught, storage.open_writer("big.csv") as writer:
        writer.write(b"z" * (12 * MIB))

    message = str(caught.value)
    assert "\n" not in message and f"s3://{s3_bucket}/exports" in message and "big.csv" in message
    assert "cannot connect" in message
    assert boto3_s3_client.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", []) == []
    assert boto3_s3_client.list_objects_v2(Bucket=s3_bucket).get("KeyCount") == 0


def test_server_killed_mid_upload_leaves_no_object(s3_server, s3_bucket, boto3_s3_client) -> None:
    client = s3_server.client(connect_timeout=1)
    _fail_parts_after_the_first(client, lambda request: s3_server.stop(kill=True))
    storage = S3Storage(
        s3_bucket, "exports/", client, multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB
    )

    try:
        with pytest.raises(StorageError, match="cannot connect"), storage.open_writer("big.csv") as writer:
            writer.write(b"z" * (12 * MIB))
    finally:
        s3_server.start()

    assert boto3_s3_client.list_objects_v2(Bucket=s3_bucket).get("KeyCount") == 0
    # The abort could not reach a dead server: housekeeping removes what it left behind.
    storage.abort_incomplete_uploads()
    assert boto3_s3_client.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", []) == []


def test_presigned_url_downloads_then_expires(s3_storage_url) -> None:
    storage = open_storage(s3_storage_url)
    with storage.open_writer("p.csv") as writer:
        writer.write(b"presigned body")

    url = storage.presigned_url("p.csv", expires_in=2)
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.read() == b"presigned body"
    time.sleep(3)
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(url, timeout=5)
    assert caught.value.code == 403

    capped = storage.presigned_url("p.csv", expires_in=86400)
    assert parse_qs(urlsplit(capped).query)["X-Amz-Expires"] == ["300"]
    with pytest.raises(ConfigError):
        storage.presigned_url("p.csv", expires_in=0)


def test_unreachable_endpoint_fails_fast_with_one_line(s3_bucket, monkeypatch, s3_server) -> None:
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    storage = open_storage(f"s3://{s3_bucket}/exports")

    started = time.monotonic()
    with pytest.raises(StorageError) as caught, storage.open_writer("a.csv") as writer:
        writer.write(b"data")
    elapsed = time.monotonic() - started

    message = str(caught.value)
    assert elapsed < 10
    assert "\n" not in message
    assert f"s3://{s3_bucket}/exports" in message and endpoint in message and "cannot connect" in message
    assert s3_server.secret_key not in message and s3_server.access_key not in message


def test_stopped_server_is_reported_then_recovers(s3_server, s3_storage_url) -> None:
    storage = open_storage(s3_storage_url)
    s3_server.stop()
    try:
        with pytest.raises(StorageError, match="cannot connect"):
            storage.exists("a.csv")
    finally:
        s3_server.start()
    assert storage.exists("a.csv") is False


def test_missing_bucket_and_bad_credentials_are_named(s3_bucket, monkeypatch, s3_server) -> None:
    missing = open_storage("s3://sna-no-such-bucket/x")
    with (
        pytest.raises(StorageError, match="bucket does not exist") as caught,
        missing.open_writer("a.csv") as writer,
    ):
        writer.write(b"1")
    assert "s3://sna-no-such-bucket/x" in str(caught.value)

    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret-value")
    with pytest.raises(StorageError, match="access denied") as caught:
        list(open_storage(f"s3://{s3_bucket}/exports").list())
    assert "wrong-secret-value" not in str(caught.value)
    assert s3_server.access_key not in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "s3://",
        "s3://ab/x",
        "s3://Upper/x",
        "s3://bucket/../x",
        "s3://bucket//x",
        "s3://bucket/a\\b",
        "ftp://x/y",
        "file://relative/x",
        "file:///a/../b",
        "",
    ],
)
def test_invalid_storage_urls_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError, match="invalid"):
        open_storage(url)


def test_urls_and_uris_carry_no_secrets(s3_bucket, s3_server) -> None:
    storage = open_storage(f"s3://{s3_bucket}/exports/")
    assert storage.url == f"s3://{s3_bucket}/exports"
    assert storage.uri("a/b.csv") == f"s3://{s3_bucket}/exports/a/b.csv"
    assert open_storage(f"s3://{s3_bucket}").uri("b.csv") == f"s3://{s3_bucket}/b.csv"
    assert s3_server.secret_key not in repr(storage)


def test_local_storage_never_lists_temporary_files(tmp_path: Path) -> None:
    storage = open_storage((tmp_path / "store").as_uri())
    with storage.open_writer("a/x.csv") as writer:
        writer.write(b"1")
        temps = list((tmp_path / "store" / "a").glob(".x.csv.tmp-*"))
        assert len(temps) == 1
        assert list(storage.list()) == []
    assert [info.key for info in storage.list()] == ["a/x.csv"]
    assert storage.presigned_url("a/x.csv") is None
    storage.delete("a/x.csv")
    assert not (tmp_path / "store" / "a").exists()


def test_a_dry_run_counts_abandoned_uploads_and_aborts_none(s3_server, s3_bucket, boto3_s3_client) -> None:
    storage = S3Storage(s3_bucket, "exports/", s3_server.client())
    boto3_s3_client.create_multipart_upload(Bucket=s3_bucket, Key="exports/_staging/a/2026-01-01/x.parquet")

    assert storage.abort_incomplete_uploads(dry_run=True) == 1
    assert len(boto3_s3_client.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", [])) == 1
    assert storage.abort_incomplete_uploads() == 1
    assert boto3_s3_client.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", []) == []


@pytest.mark.parametrize(("encryption", "expected"), [("AES256", "AES256"), ("none", None)])
def test_the_encryption_is_a_setting_of_the_storage(encryption, expected, s3_storage_url, s3_bucket,
                                                   boto3_s3_client, tmp_path: Path) -> None:
    """AES256 (SSE-S3) by default; `none` for stores that cannot encrypt (they refuse every write
    that asks); `aws:kms` needs a key id."""
    storage = open_storage(s3_storage_url, s3_encryption=encryption)
    with storage.open_writer("a/written.csv") as writer:
        writer.write(b"email\n")
    local = tmp_path / "up.csv"
    local.write_bytes(b"email\n")
    storage.upload_file(local, "a/uploaded.csv")
    storage.copy("a/uploaded.csv", "a/copied.csv")
    for key in ("a/written.csv", "a/uploaded.csv", "a/copied.csv"):
        head = boto3_s3_client.head_object(Bucket=s3_bucket, Key=f"exports/{key}")
        assert head.get("ServerSideEncryption") == expected, key


def test_kms_encryption_needs_a_key_and_unknown_modes_are_refused(s3_storage_url) -> None:
    with pytest.raises(ConfigError, match="s3_kms_key_id"):
        open_storage(s3_storage_url, s3_encryption="aws:kms")
    with pytest.raises(ConfigError, match="s3_encryption"):
        open_storage(s3_storage_url, s3_encryption="rot13")
    kms = open_storage(s3_storage_url, s3_encryption="aws:kms", s3_kms_key_id="alias/sna")
    assert kms.encryption == {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "alias/sna"}
