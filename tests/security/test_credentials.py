"""Credentials never appear in logs, outputs, error messages or the UI.

The connections of the observed runs carry distinctive passwords (a MariaDB user created for the
test, the PostgreSQL registry's password, the S3 secret key); the failures are real: a wrong
password, an unreachable database, S3 refusing a bad secret.
"""

from __future__ import annotations

import secrets
import traceback
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from sna.errors import SnaError
from tests.fixtures.processes import free_port
from tests.security.scan import find_secrets, scan

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def _message_and_chain(call: Callable[[], Any]) -> tuple[SnaError, str]:
    with pytest.raises(SnaError) as caught:
        call()
    error = caught.value
    return error, "".join(traceback.format_exception(error))


def test_no_secret_in_task_logs_outputs_messages_or_airflow_records(observed_runs, figures) -> None:
    runs = observed_runs
    assert find_secrets(runs.texts, runs.secrets) == []
    wrong = runs.commands["error: wrong database password"].stderr
    assert wrong.startswith("sna: error: shop database mysql+mysqldb://") and "***" in wrong
    assert "Access denied" in wrong and len(wrong.strip().splitlines()) == 1
    unreachable = runs.commands["error: registry unreachable"].stderr
    assert "registry postgresql+psycopg2://postgres:***@" in unreachable
    figures.add("credentials", secrets=len(runs.secrets), log_and_output_sources=len(runs.texts),
                secrets_found_in_logs=0)


def _bad_secret_client(s3_server, secret: str):
    return boto3.session.Session().client(
        "s3", endpoint_url=s3_server.endpoint_url, aws_access_key_id=s3_server.access_key,
        aws_secret_access_key=secret, region_name=s3_server.region,
    )


def test_error_messages_and_their_causes_carry_no_password(observed_runs, s3_server, figures) -> None:
    from sna.registry import Registry
    from sna.runtime import create_source_engine
    from sna.source.extract import ShopReader
    from sna.storage.s3 import S3Storage

    password = f"Unreach-{secrets.token_hex(8)}"
    shop = observed_runs.shop
    bad_secret = f"BadS3Secret-{secrets.token_hex(8)}"
    cases = {
        "shop unreachable": lambda: ShopReader(create_source_engine(
            f"mysql+mysqldb://u:{password}@127.0.0.1:{free_port()}/shop")).count_customers(),
        "shop wrong password": lambda: ShopReader(create_source_engine(
            shop.url.replace(shop.password, password))).count_customers(),
        "registry unreachable": lambda: Registry(
            f"postgresql+psycopg2://postgres:{password}@127.0.0.1:{free_port()}/x").ensure_schema(),
        "registry wrong password": lambda: Registry(
            f"mysql+mysqldb://{shop.user}:{password}@127.0.0.1:3306/{shop.database}").ensure_schema(),
        "S3 bad secret, read": lambda: S3Storage(observed_runs.bucket, "exports/",
                                                 _bad_secret_client(s3_server, bad_secret)).size("x.csv"),
        "S3 bad secret, write": lambda: S3Storage(observed_runs.bucket, "exports/",
                                                  _bad_secret_client(s3_server, bad_secret)).delete("x.csv"),
    }
    texts = {}
    for label, call in cases.items():
        error, chain = _message_and_chain(call)
        assert "\n" not in str(error), label
        texts[f"{label}: message"] = str(error)
        texts[f"{label}: traceback with causes"] = chain
    assert "access denied" in texts["S3 bad secret, read: message"]
    assert "***" in texts["registry unreachable: message"]
    found = find_secrets(texts, {"password": password, "S3 secret": bad_secret, **observed_runs.secrets})
    figures.add("credentials", error_cases=len(cases), secrets_found_in_errors=len(found))
    assert found == []


def test_ui_pages_and_error_pages_show_no_credential_nor_customer(observed_runs, s3_server, make_client,
                                                                  tokens, figures) -> None:
    from sna.exports import ExportStore
    from sna.registry import Registry
    from sna.storage.s3 import S3Storage

    runs = observed_runs
    registry = Registry(runs.registry_url)
    storage = S3Storage(runs.bucket, "exports/", s3_server.client())
    entries = registry.list(limit=100)
    assert len(entries) >= 4
    client = make_client(ExportStore(storage, registry), tokens["admin"])
    pages = {"/": client.get("/")}
    for entry in entries:
        base = f"/audiences/sna_{entry.audience}"
        pages[base] = client.get(base)
        pages[f"{base}/exports/{entry.id}"] = client.get(f"{base}/exports/{entry.id}")
        pages[f"{base}/exports/{entry.id}/download?link=true"] = client.get(
            f"{base}/exports/{entry.id}/download?link=true")
    assert all(response.status_code in (200, 303) for response in pages.values())

    bad_secret = f"BadS3Secret-{secrets.token_hex(8)}"
    down_password = f"Down-{secrets.token_hex(8)}"
    broken_storage = S3Storage(runs.bucket, "exports/", _bad_secret_client(s3_server, bad_secret))
    broken = make_client(ExportStore(broken_storage, registry), tokens["admin"])
    entry = entries[0]
    pages["download with a bad S3 secret"] = broken.get(
        f"/audiences/sna_{entry.audience}/exports/{entry.id}/download")
    unreachable = Registry(f"postgresql+psycopg2://postgres:{down_password}@127.0.0.1:{free_port()}/x")
    pages["registry unreachable"] = make_client(ExportStore(storage, unreachable), tokens["admin"]).get("/")
    assert pages["download with a bad S3 secret"].status_code == 503
    assert pages["registry unreachable"].status_code == 503 and "***" in pages["registry unreachable"].text

    texts = {f"{url}: body": response.text for url, response in pages.items()}
    texts |= {f"{url}: headers": repr(dict(response.headers)) for url, response in pages.items()}
    found = find_secrets(texts, {**runs.secrets, "bad S3 secret": bad_secret, "registry password": down_password})
    customers = scan(texts, runs.shop.markers)
    figures.add("credentials", ui_pages=len(pages), secrets_found_in_ui=len(found),
                markers_found_in_ui=len(customers.hits))
    assert found == []
    assert customers.hits == []
