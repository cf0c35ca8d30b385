"""`sna run` / `sna deliver` as a contract: the `delivery` object of `--json`, against the fakes.

The command line runs as a separate process that reaches the contract fakes over HTTP, with the
credentials and endpoints in the environment only (never in the audience file).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fakes import meta_graph
from tests.sna.test_cli import assert_one_line_error, sna

META = f"""name: cli_meta
platform: meta
require_complete: false
delivery:
  meta: {{custom_audience_id: "{meta_graph.DEFAULT_AUDIENCE_ID}"}}
"""
GOOGLE = """name: cli_google
platform: google
require_complete: false
delivery:
  google:
    operating_account_id: "1234567890"
    user_list_id: "4455667788"
    consent: {ad_user_data: granted, ad_personalization: granted}
"""
DELIVERY_KEYS = {"status", "added", "removed", "invalid", "requests"}


def last_json(result) -> dict:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture
def shop(tmp_path: Path) -> dict[str, str]:
    audiences = tmp_path / "audiences"
    audiences.mkdir()
    env = {
        "SNA_HOME": str(tmp_path), "SNA_SOURCE_URL": f"sqlite:///{tmp_path / 'shop.db'}",
        "SNA_STORAGE_URL": (tmp_path / "exports").as_uri(), "SNA_REGISTRY_URL": f"sqlite:///{tmp_path / 'r.db'}",
        "SNA_AUDIENCES_DIR": str(audiences),
    }
    assert sna("demo-shop", env["SNA_SOURCE_URL"], "--customers", "300", env=env).returncode == 0
    return env


def test_run_delivers_and_deliver_redelivers_nothing_new(shop, meta_fake, tmp_path: Path) -> None:
    audience = Path(shop["SNA_AUDIENCES_DIR"]) / "cli_meta.yaml"
    audience.write_text(META, encoding="utf-8")
    env = {**shop, "SNA_META_GRAPH_URL": meta_fake.url, "SNA_META_ACCESS_TOKEN": meta_graph.DEFAULT_TOKEN}

    preview = last_json(sna("run", str(audience), "--dry-run", "--json", env=env))
    assert preview["delivery"]["status"] == "none" and preview["delivery"]["added"] == preview["rows"] > 0
    assert preview["delivery"]["requests"] == 0 and meta_fake.requests == [], "a dry run sends nothing"

    skipped = last_json(sna("run", str(audience), "--no-deliver", "--json", env=env))
    assert DELIVERY_KEYS <= set(skipped["delivery"]) and skipped["delivery"]["status"] == "none"
    assert meta_fake.requests == []

    delivered = last_json(sna("deliver", skipped["export_id"], "--json", env=env))["delivery"]
    assert delivered["status"] == "delivered" and delivered["added"] == skipped["rows"]
    assert delivered["removed"] == 0 and delivered["requests"] == len(meta_fake.requests) >= 1
    assert len(meta_fake.members()) == skipped["rows"]

    again = last_json(sna("deliver", skipped["export_id"], "--json", env=env))["delivery"]
    assert (again["status"], again["added"], again["removed"], again["requests"]) == ("delivered", 0, 0, 0)

    listed = last_json(sna("exports", "list", "--json", env=env))
    assert listed["exports"][0]["delivery"]["status"] == "delivered"
    output = " ".join(sna("exports", "list", env=env).stdout.split())
    assert "delivered +0/-0" in output
    assert meta_graph.DEFAULT_TOKEN not in output


def test_deliver_validate_only_and_errors(shop, google_fake) -> None:
    audience = Path(shop["SNA_AUDIENCES_DIR"]) / "cli_google.yaml"
    audience.write_text(GOOGLE, encoding="utf-8")
    env = {**shop, "SNA_GOOGLE_DATAMANAGER_URL": google_fake.endpoint, "SNA_GOOGLE_POLL_SECONDS": "0.01"}
    report = last_json(sna("run", str(audience), "--no-deliver", "--json", env=env))

    assert_one_line_error(sna("deliver", report["export_id"], env=env), "google delivery: no credentials")
    env["SNA_GOOGLE_CREDENTIALS"] = "anonymous"
    checked = last_json(sna("deliver", report["export_id"], "--validate-only", "--json", env=env))["delivery"]
    assert checked["status"] == "none" and checked["requests"] >= 1
    assert google_fake.members("1234567890", "4455667788") == set(), "validateOnly changes nothing"
    assert all(request.validate_only for request in google_fake.of_kind("ingest"))

    done = last_json(sna("deliver", report["export_id"], "--json", env=env))["delivery"]
    assert done["status"] == "delivered" and len(google_fake.members("1234567890", "4455667788")) == report["rows"]
    assert_one_line_error(sna("deliver", "20990101T000000Z-0000000000", env=env), "does not exist")
