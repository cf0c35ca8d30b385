"""No personal data in logs: full runs on a shop whose customers carry marker values, then every task
log, output, message and Airflow record is scanned for any e-mail, name, phone, postcode or city of
the shop (and their SHA-256). The export files hold them by design and are the positive control."""

from __future__ import annotations

import pytest

from tests.security.observed import DAG_RUNS
from tests.security.scan import scan

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def test_the_runs_did_what_a_merchant_runs(observed_runs) -> None:
    runs = observed_runs
    for label, _dag_id, _date, _conf, expected in DAG_RUNS:
        assert runs.states[label] == expected, (label, runs.task_states[label])
    assert runs.task_states["dag google dry run"]["publish"] == "skipped"
    assert runs.states["dag google, S3 stopped"] == "failed"
    assert runs.task_states["dag google, S3 stopped"]["plan"] == "failed"
    codes = {label: command.returncode for label, command in runs.commands.items()}
    assert codes == {
        "preview google": 0, "preview meta --json": 0, "run google": 0, "run meta sha256 --json": 0,
        "run google --dry-run --json": 0, "exports list --json": 0, "error: unknown group": 1,
        "error: S3 stopped": 1, "error: wrong database password": 1, "error: registry unreachable": 1,
        "run meta delivery --json": 0, "run google delivery --dry-run --json": 0, "error: expired meta token": 1,
    }, {label: runs.commands[label].stderr[-500:] for label in codes}
    assert "meta" in runs.commands["error: expired meta token"].stderr
    assert "190" in runs.commands["error: expired meta token"].stderr
    assert "storage" in runs.commands["error: S3 stopped"].stderr or "s3://" in runs.commands["error: S3 stopped"].stderr
    assert set(runs.exceptions) == {"engine: S3 killed while publishing"}
    task_logs = [source for source in runs.texts if "/task_id=" in source]
    assert len(task_logs) >= 5 * 4 + 2, "one log file per task of every executed run"


def test_the_customer_values_flowed_into_the_files(observed_runs) -> None:
    """Positive control: the markers reached the exported files, in clear and hashed form, so the
    scan below looks for values that really went through every stage."""
    runs = observed_runs
    dated = [key for key in runs.exported if not key.endswith("/latest.csv")]
    google = [key for key in dated if key.startswith("exports/pii_google/")]
    meta = [key for key in dated if key.startswith("exports/pii_meta/")]
    assert len(google) == 2 and len(meta) == 2
    files = {key: content.decode("utf-8") for key, content in runs.exported.items() if key.endswith(".csv")}
    found = scan(files, runs.shop.markers)
    kinds = {kind for _source, kind, _value in found.hits}
    assert kinds >= {"email", "name", "phone", "postcode", "city", "sha256"}
    clear_emails = {value for source, kind, value in found.hits if kind == "email" and "2026-11-02" in source}
    assert len(clear_emails) > 50
    assert runs.delivered["google"] > 50 and runs.delivered["meta"] > 50, "the delivery runs sent members"


def test_no_marker_in_any_log_output_message_or_airflow_record(observed_runs, figures) -> None:
    runs = observed_runs
    result = scan(runs.texts, runs.shop.markers)
    task_log_bytes = sum(len(text) for source, text in runs.texts.items() if "/task_id=" in source)
    figures.add(
        "no_pii_in_logs",
        shop_customers=runs.shop.customers,
        marker_values=len(runs.shop.markers),
        dag_runs=len(runs.states),
        cli_commands=len(runs.commands),
        exceptions=len(runs.exceptions),
        sources_scanned=result.sources,
        bytes_scanned=result.bytes,
        task_log_files=sum(1 for source in runs.texts if "/task_id=" in source),
        task_log_bytes=task_log_bytes,
        markers_found=len(result.hits),
        seconds=round(runs.seconds, 1),
    )
    assert result.bytes > 200_000, "the scan must have read real logs"
    assert result.hits == []


def test_the_scanner_sees_a_leak(observed_runs) -> None:
    """The scan is not blind: one marker in any of the forms the engine produces is a hit."""
    markers = observed_runs.shop.markers
    email = min(markers.values["email"])
    phone = min(p for p in markers.values["phone"] if p.startswith("+31"))
    postcode = min(p for p in markers.values["postcode"] if " " in p).upper()
    name = min(markers.values["name"]).capitalize()
    digest = min(markers.values["sha256"])
    for leak in (f"user {email.upper()} failed", f"phone={phone}", f"zip '{postcode}'", f"[{name}]", digest):
        assert scan({"log": leak}, markers).hits, leak
