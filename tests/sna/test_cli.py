"""The `sna` command line as users run it: a real process, real files, one-line errors."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.sna.filecheck import read_rows

ROOT = Path(__file__).resolve().parents[2]


def sna_env(env: dict[str, str] | None) -> dict[str, str]:
    full_env = {**os.environ, **(env or {})}
    full_env.pop("SNA_DEBUG", None)
    # this checkout's engine, not whichever one the virtualenv has installed in editable mode
    full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "plugins"), full_env.get("PYTHONPATH")]))
    return full_env


def sna(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, text: bool = True
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sna", *args],
        capture_output=True,
        text=text,
        env=sna_env(env),
        cwd=cwd or ROOT,
        timeout=300,
    )


@pytest.fixture
def locations(tmp_path) -> dict[str, str]:
    """Environment pointing the three locations at a temporary folder."""
    return {
        "SNA_HOME": str(tmp_path),
        "SNA_SOURCE_URL": f"sqlite:///{tmp_path / 'shop.db'}",
        "SNA_STORAGE_URL": (tmp_path / "exports").as_uri(),
        "SNA_REGISTRY_URL": f"sqlite:///{tmp_path / 'registry.db'}",
    }


def customers_written(result: subprocess.CompletedProcess) -> int:
    """The customer rows a `sna demo-shop` wrote (some are erased, as GDPR erasure leaves shops)."""
    match = re.search(r"demo shop written: (\d+) customers", result.stdout)
    assert match, result.stdout
    return int(match.group(1))


def audience_file(tmp_path: Path, text: str, name: str = "audience.yaml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def assert_one_line_error(result: subprocess.CompletedProcess, *needles: str) -> None:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("sna: error: ") and "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_demo_shop_run_list_download_delete(tmp_path, locations):
    created = sna(
        "demo-shop", locations["SNA_SOURCE_URL"], "--customers", "1500", "--seed", "3", env=locations
    )
    assert created.returncode == 0, created.stderr
    google = audience_file(tmp_path, "name: cli_google\nplatform: google\n")
    result = sna("run", google, "--reference-date", "2026-11-01", "--json", env=locations)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(report) >= {
        "export_id",
        "audience",
        "platform",
        "hashing",
        "file",
        "rows",
        "scanned",
        "excluded",
        "warnings",
    }
    assert report["rows"] + sum(report["excluded"].values()) == report["scanned"] == customers_written(created)
    assert "excluded:" in result.stdout and "invalid_phone" in result.stdout
    exported = Path(report["file"].removeprefix("file://"))
    header, rows = read_rows(exported.read_bytes())
    assert header[0] == "Email" and len(rows) == report["rows"]

    listed = sna("exports", "list", "--json", env=locations)
    assert listed.returncode == 0
    document = json.loads(listed.stdout.strip().splitlines()[-1])
    entries = document["exports"]
    assert [e["export_id"] for e in entries] == [report["export_id"]] and document["count"] == 1
    assert entries[0]["rows"] == report["rows"]

    dest = tmp_path / "copy.csv"
    assert sna("exports", "download", report["export_id"], str(dest), env=locations).returncode == 0
    assert dest.read_bytes() == exported.read_bytes()

    assert sna("exports", "delete", report["export_id"], "--yes", env=locations).returncode == 0
    assert not exported.exists()
    assert "no exports" in sna("exports", "list", env=locations).stdout
    assert_one_line_error(sna("exports", "delete", report["export_id"], "--yes", env=locations),
                          report["export_id"])


def test_preview_writes_nothing(tmp_path, locations):
    created = sna("demo-shop", locations["SNA_SOURCE_URL"], "--customers", "300", env=locations)
    assert created.returncode == 0, created.stderr
    meta = audience_file(tmp_path, "name: cli_meta\nplatform: meta\n")
    result = sna("preview", meta, "--json", env=locations)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["scanned"] == customers_written(created) and report["file"] is None
    assert not (tmp_path / "exports").exists() or not any((tmp_path / "exports").rglob("*.csv"))
    assert not (tmp_path / "registry.db").exists(), "a preview only reads: it makes no registry"


def test_validate_reports_every_error_of_every_file(tmp_path):
    good = audience_file(tmp_path, "name: fine\nplatform: google\n", "good.yaml")
    bad = audience_file(tmp_path, "name: bad\nplatform: tiktok\nhashing: md5\n", "bad.yaml")
    broken = audience_file(tmp_path, "name: [\n", "broken.yaml")
    result = sna("validate", good, bad, broken)
    assert result.returncode == 1
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 3
    assert any(e.startswith(f"{bad}: platform: ") for e in errors)
    assert any(e.startswith(f"{bad}: hashing: ") for e in errors)
    assert any(e.startswith(f"{broken}: YAML syntax error") for e in errors)
    assert sna("validate", good).returncode == 0


def test_broken_audience_file_is_one_line(tmp_path, locations):
    bad = audience_file(tmp_path, "name: x\nplatform: google\nfilters: {countries: [France]}\n")
    assert_one_line_error(sna("run", bad, env=locations), bad, "filters.countries")
    assert_one_line_error(sna("run", str(tmp_path / "missing.yaml"), env=locations), "missing.yaml")


def test_bad_reference_date_is_a_usage_error(tmp_path, locations):
    google = audience_file(tmp_path, "name: x\nplatform: google\n")
    for text in ("yesterday", "2026-13-45"):
        result = sna("run", google, "--reference-date", text, env=locations)
        assert result.returncode == 2
        assert_one_line_error(result, "--reference-date", text)
        assert result.stderr.count("--reference-date") == 1, result.stderr


@pytest.mark.parametrize("args", [(), ("exports",), ("exports", "list", "--platform", "tiktok"),
                                  ("run",), ("preview", "a.yaml", "--nope"), ("exports", "list", "--limit", "x"),
                                  ("exports", "list", "--limit", "0")])
def test_usage_errors_are_one_line_without_the_usage_block(args):
    result = sna(*args)
    assert result.returncode == 2
    assert_one_line_error(result)
    assert "usage:" not in result.stderr


def test_unreachable_database_leaves_nothing(tmp_path, locations):
    google = audience_file(tmp_path, "name: x\nplatform: google\n")
    env = {**locations, "SNA_SOURCE_URL": "mysql+mysqldb://root:topsecret@127.0.0.1:1/shop"}
    result = sna("run", google, env=env)
    assert_one_line_error(result, "shop database", "127.0.0.1:1")
    assert "topsecret" not in result.stderr
    assert not any((tmp_path / "exports").rglob("*")) if (tmp_path / "exports").exists() else True
    assert "no exports" in sna("exports", "list", env=env).stdout


def test_unreachable_s3_leaves_nothing(tmp_path, locations):
    assert sna("demo-shop", locations["SNA_SOURCE_URL"], "--customers", "200", env=locations).returncode == 0
    google = audience_file(tmp_path, "name: x\nplatform: google\n")
    env = {
        **locations,
        "SNA_STORAGE_URL": "s3://sna-missing/exports",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:1",
        "AWS_ACCESS_KEY_ID": "key",
        "AWS_SECRET_ACCESS_KEY": "verysecret",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    result = sna("run", google, env=env)
    assert_one_line_error(result, "s3://sna-missing/exports")
    assert "verysecret" not in result.stderr
    assert "no exports" in sna("exports", "list", env=env).stdout


def test_s3_export_end_to_end(tmp_path, locations, s3_bucket, s3_storage_url):
    assert sna("demo-shop", locations["SNA_SOURCE_URL"], "--customers", "400", env=locations).returncode == 0
    meta = audience_file(tmp_path, "name: s3_meta\nplatform: meta\nhashing: sha256\nvalue: total_spent\n")
    env = {**locations, "SNA_STORAGE_URL": s3_storage_url}
    result = sna("run", meta, "--json", env=env)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    day = datetime.now(UTC).date().isoformat()
    assert report["file"] == f"{s3_storage_url}/s3_meta/meta/s3_meta_meta_{day}_{report['export_id']}.csv"
    dest = tmp_path / "meta.csv"
    assert sna("exports", "download", report["export_id"], str(dest), env=env).returncode == 0
    header, rows = read_rows(dest.read_bytes())
    assert header[-1] == "value" and len(rows) == report["rows"]


@pytest.fixture
def exported(tmp_path, locations) -> dict:
    """A small demo shop with one recorded Google export; returns its `--json` report."""
    created = sna("demo-shop", locations["SNA_SOURCE_URL"], "--customers", "200", env=locations)
    assert created.returncode == 0, created.stderr
    google = audience_file(tmp_path, "name: cli_google\nplatform: google\n")
    result = sna("run", google, "--reference-date", "2026-11-01", "--json", env=locations)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def closed_pipe_run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """`sna ARGS | head -0`: standard output is a real pipe whose reader is gone before sna writes."""
    process = subprocess.Popen([sys.executable, "-m", "sna", *args], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=sna_env(env), cwd=ROOT)
    process.stdout.close()  # the reader stops at once (head, less quitting, a jq that failed)
    stderr = process.stderr.read().decode()
    process.stderr.close()
    return subprocess.CompletedProcess(process.args, process.wait(timeout=300), None, stderr)


def test_a_reader_that_stops_early_ends_sna_quietly(tmp_path, locations, exported):
    listed = closed_pipe_run("exports", "list", env=locations)
    assert listed.stderr == "" and listed.returncode == 1
    google = audience_file(tmp_path, "name: cli_google\nplatform: google\n")
    run = closed_pipe_run("run", google, "--reference-date", "2026-11-02", "--json", env=locations)
    assert run.stderr == "" and run.returncode == 1
    # the export itself was done: only its report had no reader
    assert "2026-11-02" in sna("exports", "list", env=locations).stdout


@pytest.mark.parametrize("args", [("exports", "list"), ("exports", "download", "20261101T000000Z-0000000000", "x.csv"),
                                  ("exports", "delete", "20261101T000000Z-0000000000", "--yes"),
                                  ("housekeeping",), ("housekeeping", "--dry-run")])
def test_read_only_commands_never_create_a_registry(tmp_path, locations, args):
    missing = tmp_path / "nonexistent" / "x.db"
    result = sna(*args, "--registry-url", f"sqlite:///{missing}", env=locations, cwd=tmp_path)
    assert result.returncode == 1
    assert_one_line_error(result, str(missing), "does not exist")
    assert not missing.parent.exists()


def test_a_registry_database_without_the_table_has_no_exports(tmp_path, locations, mariadb_url):
    import sqlite3

    sqlite3.connect(tmp_path / "empty.db").close()  # an existing database, no table yet
    for url in (f"sqlite:///{tmp_path / 'empty.db'}", mariadb_url):
        result = sna("exports", "list", "--registry-url", url, env=locations)
        assert result.returncode == 0, result.stderr
        assert "no exports" in result.stdout
        engine = sa.create_engine(url)
        assert sa.inspect(engine).get_table_names() == [], "a read-only command created a table"
        engine.dispose()
    assert_one_line_error(sna("exports", "download", "20261101T000000Z-0000000000", "x.csv",
                              "--registry-url", mariadb_url, env=locations, cwd=tmp_path),
                          "20261101T000000Z-0000000000 does not exist")


def exported_file(report: dict) -> Path:
    return Path(report["file"].removeprefix("file://"))


def test_download_needs_an_existing_folder_and_force_to_overwrite(tmp_path, locations, exported):
    export_id, content = exported["export_id"], exported_file(exported).read_bytes()
    nowhere = tmp_path / "nonexistent" / "dir" / "x.csv"
    assert_one_line_error(sna("exports", "download", export_id, str(nowhere), env=locations),
                          str(nowhere.parent), "does not exist")
    assert not (tmp_path / "nonexistent").exists()

    dest = tmp_path / "copy.csv"
    dest.write_bytes(b"mine")
    refused = sna("exports", "download", export_id, str(dest), env=locations)
    assert_one_line_error(refused, str(dest), "--force")
    assert dest.read_bytes() == b"mine"
    assert sna("exports", "download", export_id, str(dest), "--force", env=locations).returncode == 0
    assert dest.read_bytes() == content

    folder = tmp_path / "folder"
    folder.mkdir()
    assert sna("exports", "download", export_id, str(folder), env=locations).returncode == 0
    download_name = exported_file(exported).name.replace(f"_{export_id}", "")  # the name without the id
    assert (folder / download_name).read_bytes() == content
    assert_one_line_error(sna("exports", "download", export_id, str(folder), env=locations), "--force")


def test_download_to_standard_output(locations, exported):
    result = sna("exports", "download", exported["export_id"], "-", env=locations, text=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout == exported_file(exported).read_bytes() and result.stderr == b""


def delete_at_a_terminal(export_id: str, answer: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """`sna exports delete ID` typed at a terminal (a pseudo-terminal as standard input), answered."""
    import pty

    master, slave = pty.openpty()
    try:
        process = subprocess.Popen([sys.executable, "-m", "sna", "exports", "delete", export_id], stdin=slave,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=sna_env(env), cwd=ROOT,
                                   text=True)
        os.close(slave)
        os.write(master, answer.encode() + b"\n")
        stdout, stderr = process.communicate(timeout=300)
    finally:
        os.close(master)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def test_delete_asks_at_a_terminal_and_needs_yes_in_scripts(locations, exported):
    export_id, file = exported["export_id"], exported_file(exported)
    refused = sna("exports", "delete", export_id, env=locations)
    assert_one_line_error(refused, "--yes")
    assert file.exists()

    kept = delete_at_a_terminal(export_id, "n", locations)
    download_name = file.name.replace(f"_{export_id}", "")  # the name a person knows, without the id
    assert f"delete export {export_id} (file {download_name})? [y/N]" in kept.stderr
    assert kept.returncode == 1 and file.exists()
    assert export_id in sna("exports", "list", env=locations).stdout

    deleted = delete_at_a_terminal(export_id, "y", locations)
    assert deleted.returncode == 0, deleted.stderr
    assert not file.exists() and f"deleted export {export_id}" in deleted.stdout


def test_exports_list_has_a_header_and_the_filters_and_json_is_one_object(tmp_path, locations, exported):
    meta = audience_file(tmp_path, "name: cli_meta\nplatform: meta\n"
                                   "filters: {consent: newsletter, countries: [FR, BE]}\n", "meta.yaml")
    assert sna("run", meta, "--reference-date", "2026-11-01", env=locations).returncode == 0
    listed = sna("exports", "list", env=locations)
    assert listed.returncode == 0, listed.stderr
    header, *lines = listed.stdout.splitlines()
    assert header.split() == ["ID", "CREATED", "AUDIENCE", "PLATFORM", "HASHING", "REFERENCE", "ROWS/SCANNED",
                              "DELIVERY", "FILTERS", "FILE"]
    assert " none " in lines[0], "an audience without delivery: none"
    assert len(lines) == 2 and lines[1].startswith(exported["export_id"])
    assert "consent=newsletter" in lines[0] and "countries=FR,BE" in lines[0]
    assert "cli_meta" in lines[0] and "cli_google" in lines[1]

    as_json = sna("exports", "list", "--json", env=locations)
    assert len(as_json.stdout.splitlines()) == 1, as_json.stdout
    document = json.loads(as_json.stdout)
    assert document["count"] == 2 and [e["audience"] for e in document["exports"]] == ["cli_meta", "cli_google"]
    assert document["exports"][0]["filters"]["countries"] == ["FR", "BE"]
    empty = sna("exports", "list", "--json", "--audience", "nobody", env=locations)
    assert json.loads(empty.stdout) == {"exports": [], "count": 0} and len(empty.stdout.splitlines()) == 1


def test_a_folder_is_not_an_audience_file(tmp_path, locations):
    folder = tmp_path / "audiences"
    folder.mkdir()
    audience_file(folder, "name: x\nplatform: google\n")
    for command in ("preview", "run"):
        result = sna(command, str(folder), env=locations)
        assert result.returncode == 1
        assert_one_line_error(result, str(folder), "is a folder: give one audience file")


def test_errors_found_while_running_an_audience_name_its_file(tmp_path, locations):
    assert sna("demo-shop", locations["SNA_SOURCE_URL"], "--customers", "100", env=locations).returncode == 0
    unknown = audience_file(tmp_path, "name: x\nplatform: google\nfilters: {default_groups: [Platinum]}\n")
    for command in ("preview", "run"):
        result = sna(command, unknown, env=locations)
        assert result.returncode == 1
        assert_one_line_error(result, f"{unknown}: filters.default_groups: unknown group 'Platinum'")


def aged(path: Path, days: float) -> Path:
    moment = time.time() - days * 86400
    os.utime(path, (moment, moment))
    return path


def test_housekeeping_from_the_command_line_with_a_dry_run_first(tmp_path, locations):
    """`sna housekeeping` runs the DAG's engine functions: retention from the audience files of the
    settings' audiences folder, stale staging, files without entry (and entries without file)."""
    assert sna("demo-shop", locations["SNA_SOURCE_URL"], "--customers", "100", env=locations).returncode == 0
    audiences = tmp_path / "config" / "audiences"
    audiences.mkdir(parents=True)
    google = audience_file(audiences, "name: cli_google\nplatform: google\nretention_days: 7\n", "g.yaml")
    report = json.loads(sna("run", google, "--json", env=locations).stdout.splitlines()[-1])
    registry = sa.create_engine(locations["SNA_REGISTRY_URL"])
    with registry.begin() as connection:  # recorded ten days ago: past its audience's retention
        connection.execute(sa.text("UPDATE sna_exports SET created_at = :old"),
                           {"old": datetime.now(UTC).replace(tzinfo=None) - timedelta(days=10)})
    registry.dispose()
    exports = tmp_path / "exports"
    stray = exports / "stray" / "google" / "stray_google_2026-01-01.csv"  # SNA's layout, no entry
    stray.parent.mkdir(parents=True)
    stray.write_text("email\n")
    aged(stray, 2)
    staged = exports / "_staging" / "cli_google" / "2026-01-01" / "extract.parquet"
    staged.parent.mkdir(parents=True)
    staged.write_bytes(b"x")
    aged(staged, 2)

    dry = sna("housekeeping", "--dry-run", "--repair", "--json", env=locations)
    assert dry.returncode == 0, dry.stderr
    assert len(dry.stdout.splitlines()) == 1
    found = json.loads(dry.stdout)
    assert found["expired"] == [report["export_id"]] and found["staging_removed"] == ["cli_google/2026-01-01"]
    assert found["files_without_entry"] == ["stray/google/stray_google_2026-01-01.csv"] and found["entries_without_file"] == []
    assert found["dry_run"] is True and found["repaired"] is False and found["summary"].startswith("dry run: ")
    assert stray.exists() and staged.exists() and exported_file(report).exists()
    assert report["export_id"] in sna("exports", "list", env=locations).stdout

    done = sna("housekeeping", env=locations)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == (
        "1 expired export(s) deleted, 1 stale staging area(s) removed, 0 entr(ies) without file, "
        "0 entr(ies) not matching their file, 1 file(s) without entry")
    assert not exported_file(report).exists() and not staged.exists() and stray.exists()
    assert "no exports" in sna("exports", "list", env=locations).stdout

    repaired = json.loads(sna("housekeeping", "--repair", "--json", env=locations).stdout)
    assert repaired["files_without_entry"] == ["stray/google/stray_google_2026-01-01.csv"] and repaired["repaired"] is True
    assert not stray.exists()


def test_demo_shop_says_replace_and_why_customers_are_fewer(locations):
    shop = locations["SNA_SOURCE_URL"]
    created = sna("demo-shop", shop, "--customers", "500", env=locations)
    assert created.returncode == 0, created.stderr
    kept = customers_written(created)
    match = re.search(r"\((\d+) generated, (\d+) hard-deleted as in a real shop", created.stdout)
    assert match, created.stdout
    assert int(match.group(1)) == 500 and int(match.group(2)) == 500 - kept > 0

    again = sna("demo-shop", shop, "--customers", "500", env=locations)
    assert_one_line_error(again, "already has customers", "--replace")
    replaced = sna("demo-shop", shop, "--customers", "300", "--replace", env=locations)
    assert replaced.returncode == 0, replaced.stderr
    assert customers_written(replaced) <= 300


def test_a_bad_setting_is_a_one_line_error(locations):
    result = sna("exports", "list", env={**locations, "SNA_CHUNK_SIZE": "5"})
    assert_one_line_error(result, "SNA_CHUNK_SIZE")


def test_downloads_deletes_and_deliveries_are_in_the_access_log(tmp_path, locations, exported):
    import getpass

    export_id = exported["export_id"]
    assert sna("exports", "download", export_id, str(tmp_path / "copy.csv"), env=locations).returncode == 0
    assert sna("exports", "download", export_id, "-", env=locations).returncode == 0
    assert sna("exports", "delete", export_id, "--yes", env=locations).returncode == 0

    log = json.loads(sna("exports", "log", "--json", env=locations).stdout)
    assert [(e["action"], e["export_id"], e["via"]) for e in log["events"]] == [
        ("delete", export_id, "cli"), ("download", export_id, "cli"), ("download", export_id, "cli")]
    assert {e["actor"] for e in log["events"]} == {getpass.getuser()}
    assert all("@" not in json.dumps(e) for e in log["events"]), "ids and names of people only"
    table = sna("exports", "log", env=locations).stdout.splitlines()
    assert table[0].split()[:3] == ["AT", "ACTION", "EXPORT"] and len(table) == 4


def test_audiences_of_several_shops_read_each_its_own_shop(tmp_path, locations):
    """`source.connection` names the shop: `SNA_SOURCE_URL_<NAME>` on the command line."""
    shops = {}
    for name, customers in (("shop_a", 120), ("shop_b", 260)):
        url = f"sqlite:///{tmp_path / f'{name}.db'}"
        assert sna("demo-shop", url, "--customers", str(customers), "--seed", "3", env=locations).returncode == 0
        shops[name] = url
    env = {**locations, "SNA_SOURCE_URL_SHOP_A": shops["shop_a"], "SNA_SOURCE_URL_SHOP_B": shops["shop_b"]}
    scanned = {}
    for name in shops:
        audience = audience_file(tmp_path, f"name: aud_{name}\nplatform: google\nsource: {{connection: {name}}}\n",
                                 f"{name}.yaml")
        result = sna("run", audience, "--json", env=env)
        assert result.returncode == 0, result.stderr
        scanned[name] = json.loads(result.stdout.strip().splitlines()[-1])["scanned"]
    assert scanned["shop_a"] < scanned["shop_b"] <= 260 and scanned["shop_a"] <= 120

    missing = audience_file(tmp_path, "name: aud_c\nplatform: google\nsource: {connection: shop_c}\n", "c.yaml")
    assert_one_line_error(sna("run", missing, env=env), "source.connection shop_c", "SNA_SOURCE_URL_SHOP_C")


def test_the_progress_bar_starts_no_thread() -> None:
    """tqdm's monitor thread made every `sna run` unsafe to fork, so its workers came from the fork
    server (about a second more a run): the bar runs without it."""
    import threading

    from sna.cli import _TqdmProgress

    before = threading.active_count()
    progress = _TqdmProgress()
    progress.start("exporting", 10)
    try:
        progress.advance(5)
        assert threading.active_count() == before
    finally:
        progress.finish()
