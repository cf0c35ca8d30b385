"""Alerts through Airflow notifiers: real `dag.test()` runs of a failing audience, an ad-hoc run and the
housekeeping DAG's staleness check, with a recording notifier named in `SNA_NOTIFIERS`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.airflow.conftest import GOOGLE_AUDIENCE, META_AUDIENCE, run_dag, task_states, write_audience
from tests.airflow.notifiers import calls

DAY = datetime(2026, 11, 2, tzinfo=UTC)
RECORDER = "tests.airflow.notifiers.RecordingNotifier"


@pytest.fixture
def notified(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The recording notifier in the settings; returns the file it writes its calls to."""
    path = tmp_path / "alerts.jsonl"
    monkeypatch.setenv("SNA_NOTIFIERS", json.dumps([{"path": RECORDER, "kwargs": {
        "path": str(path), "note": "{{ sna_alert.kind }} of {{ sna_alert.audience }}"}}]))
    return path


def _no_customer_data(recorded: list[dict[str, Any]]) -> None:
    text = json.dumps(recorded)
    assert "@" not in text, "no e-mail in what the notifier got"
    for key in ("firstname", "lastname", "email", "phone"):
        assert key not in text.lower()


@pytest.mark.slow
def test_a_failing_audience_run_fires_the_notifier_once(airflow_db, production_connections, notified) -> None:
    """A source that refuses: the shop has no tables with the audience's prefix (a permanent error)."""
    write_audience(production_connections["audiences"], GOOGLE_AUDIENCE + "source: {table_prefix: nope_}\n")

    dag_run, _ = run_dag("sna_vip_test", DAY)

    assert dag_run.state == "failed", task_states(dag_run)
    (call,) = calls(notified)
    alert = call["context"]["sna_alert"]
    assert {key: alert[key] for key in ("kind", "audience", "dag_id", "run_id", "failed_task")} == {
        "kind": "run_failed", "audience": "vip_test", "dag_id": "sna_vip_test", "run_id": dag_run.run_id,
        "failed_task": "plan"}
    assert call["subject"] == f"SNA: audience vip_test: run {dag_run.run_id} of sna_vip_test failed"
    assert call["note"] == "run_failed of vip_test", "the notifier's own templates see the alert"
    assert set(call["context"]) == {"sna_alert", "subject", "note"}, "not Airflow's task context"
    _no_customer_data(calls(notified))


@pytest.mark.slow
def test_a_failing_adhoc_run_names_its_export(airflow_db, production_connections, notified) -> None:
    form = {"name": "fr_vip", "platform": "google", "table_prefix": "nope_"}

    dag_run, _ = run_dag("sna_adhoc_export", conf=form)

    assert dag_run.state == "failed", task_states(dag_run)
    (call,) = calls(notified)
    alert = call["context"]["sna_alert"]
    assert (alert["audience"], alert["dag_id"], alert["run_id"]) == (
        "adhoc_export/fr_vip", "sna_adhoc_export", dag_run.run_id)
    _no_customer_data(calls(notified))


@pytest.mark.slow
def test_a_successful_run_fires_nothing(airflow_db, production_connections, notified) -> None:
    write_audience(production_connections["audiences"], GOOGLE_AUDIENCE)

    dag_run, _ = run_dag("sna_vip_test", DAY)

    assert dag_run.state == "success", task_states(dag_run)
    assert calls(notified) == []


@pytest.fixture
def local_store(airflow_db, sna_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The export store the housekeeping DAG finds through SNA_STORAGE_URL and SNA_REGISTRY_URL."""
    from sna.exports import ExportStore
    from sna.runtime import create_registry
    from sna.storage import LocalStorage

    files, registry_url = tmp_path / "files", f"sqlite:///{tmp_path / 'registry.db'}"
    files.mkdir()
    monkeypatch.setenv("SNA_STORAGE_URL", files.as_uri())
    monkeypatch.setenv("SNA_REGISTRY_URL", registry_url)
    registry = create_registry(registry_url)
    yield ExportStore(LocalStorage(files), registry)
    registry.dispose()


def _recorded(store, audience: str, age: timedelta, rows: int) -> None:
    """An export of `audience` made `age` ago, with its file."""
    import hashlib

    from sna.registry import ExportEntry

    created = datetime.now(UTC) - age
    key = f"{audience}/meta/{audience}_meta_{created.date().isoformat()}.csv"
    content = b"email,phone\n"
    with store.storage.open_writer(key) as writer:
        writer.write(content)
    store.registry.record(ExportEntry(
        id=f"{audience}-1", run_key=f"{audience}/{created.date().isoformat()}", audience=audience, platform="meta",
        hashing="none", filters={}, reference_date=created.date(), created_at=created,
        file_uri=store.storage.uri(key), file_key=key, size=len(content),
        sha256=hashlib.sha256(content).hexdigest(), rows=rows, scanned=rows))


@pytest.mark.slow
def test_housekeeping_alerts_about_a_stale_audience_and_not_a_fresh_one(local_store, sna_env, notified) -> None:
    write_audience(sna_env, META_AUDIENCE)  # daily: stale after 3 days
    write_audience(sna_env, "name: fresh_one\nplatform: meta\n")
    _recorded(local_store, "newsletter_test", timedelta(days=5, hours=2), rows=558)
    _recorded(local_store, "fresh_one", timedelta(days=1), rows=12)

    dag_run, values = run_dag("sna_housekeeping")

    assert dag_run.state == "success", task_states(dag_run)
    (call,) = calls(notified)
    alert = call["context"]["sna_alert"]
    assert {key: alert[key] for key in ("kind", "audience", "dag_id", "days_since_export", "stale_after_days",
                                        "last_export_rows", "run_id")} == {
        "kind": "stale", "audience": "newsletter_test", "dag_id": "sna_newsletter_test", "days_since_export": 5,
        "stale_after_days": 3, "last_export_rows": 558, "run_id": None}
    assert call["subject"] == "SNA: audience newsletter_test is stale: 5 days since its last export"
    assert values["check_staleness"]["notifications"] == 1
    assert [found["audience"] for found in values["check_staleness"]["stale"]] == ["newsletter_test"]
    _no_customer_data(calls(notified))


@pytest.mark.slow
def test_a_bad_notifier_path_fails_the_staleness_check_in_one_line(local_store, sna_env, monkeypatch,
                                                                    capfd) -> None:
    write_audience(sna_env, META_AUDIENCE)
    monkeypatch.setenv("SNA_NOTIFIERS", json.dumps([{"path": "tests.airflow.notifiers.NoSuchNotifier"}]))

    dag_run, _ = run_dag("sna_housekeeping")

    assert task_states(dag_run)["check_staleness"] == "failed"
    assert task_states(dag_run)["reconcile"] == "success", "the other tasks do not depend on it"
    assert "notifiers[0] (SNA_NOTIFIERS): tests.airflow.notifiers.NoSuchNotifier: module " \
           "tests.airflow.notifiers has no NoSuchNotifier" in "".join(capfd.readouterr()), "the task log says it"


ALERT_FIELDS = {"kind": "run_failed", "audience": "vip_test", "dag_id": "sna_vip_test",
                "run_id": "manual__2026-11-02T00:00:00+00:00", "failed_task": "plan"}


def _spec(import_path: str, **kwargs: Any):
    from sna.settings import NotifierSpec

    return NotifierSpec(path=import_path, kwargs=kwargs)


@pytest.mark.parametrize("path, message", [
    ("no_such_package.Notifier", "notifiers[0] (SNA_NOTIFIERS): no_such_package.Notifier: module no_such_package "
                                 "cannot be imported (ModuleNotFoundError)"),
    ("tests.airflow.notifiers.calls", "notifiers[0] (SNA_NOTIFIERS): tests.airflow.notifiers.calls: not an Airflow "
                                      "notifier (a subclass of airflow.sdk.BaseNotifier)"),
])
def test_a_bad_notifier_path_is_one_line(path: str, message: str) -> None:
    from sna.errors import ConfigError
    from sna_airflow.alerts import notifier_class

    with pytest.raises(ConfigError) as raised:
        notifier_class(_spec(path))
    assert str(raised.value) == message


def test_refused_notifier_arguments_are_one_line() -> None:
    from sna.errors import ConfigError
    from sna_airflow.alerts import Alert, build_notifier

    with pytest.raises(ConfigError, match=r"^notifiers\[0\] \(SNA_NOTIFIERS\): tests.airflow.notifiers."
                                          r"RecordingNotifier: its arguments are refused: .*unexpected"):
        build_notifier(_spec(RECORDER, path="x", colour="red"), Alert(**ALERT_FIELDS))


def test_a_malformed_notifiers_setting_is_one_line(monkeypatch) -> None:
    from sna.errors import ConfigError
    from sna.settings import load_settings

    monkeypatch.setenv("SNA_NOTIFIERS", "[{")
    with pytest.raises(ConfigError, match=r"^SNA_NOTIFIERS: not valid JSON$"):
        load_settings()
    monkeypatch.setenv("SNA_NOTIFIERS", json.dumps([{"path": "SmtpNotifier"}]))
    with pytest.raises(ConfigError, match=r"notifiers.0.path \(or SNA_NOTIFIERS\): .*module.Class"):
        load_settings()


def test_smtp_notifier_needs_only_its_recipient_and_gets_the_alerts_words() -> None:
    from sna_airflow.alerts import Alert, build_notifier

    alert = Alert(**ALERT_FIELDS)
    notifier = build_notifier(_spec("airflow.providers.smtp.notifications.smtp.SmtpNotifier", to="ops@example.com",
                                    smtp_conn_id="smtp_default"), alert)
    assert notifier.to == "ops@example.com" and notifier.smtp_conn_id == "smtp_default"
    assert notifier.subject == alert.subject
    assert notifier.html_content == f"<p>{alert.text}</p>" and "Its task logs in Airflow say why." in alert.text
    own = build_notifier(_spec("airflow.providers.smtp.notifications.smtp.SmtpNotifier", to="ops@example.com",
                               subject="[shop] {{ sna_alert.subject }}"), alert)
    assert own.subject == "[shop] {{ sna_alert.subject }}", "the settings' own arguments win"


def test_a_failing_notifier_does_not_stop_the_others_and_its_message_is_not_repeated(tmp_path) -> None:
    from sna_airflow.alerts import Alert, AlertNotSent, send_alert

    path = tmp_path / "alerts.jsonl"
    alert = Alert(**ALERT_FIELDS)
    with pytest.raises(AlertNotSent) as raised:
        send_alert(alert, [_spec("tests.airflow.notifiers.FailingNotifier"), _spec(RECORDER, path=str(path))])
    assert str(raised.value) == (f"alert '{alert.subject}' not sent by tests.airflow.notifiers.FailingNotifier "
                                 "(ConnectionError)")
    assert "SECRET" not in str(raised.value)
    assert [call["context"]["sna_alert"]["kind"] for call in calls(path)] == ["run_failed"]


def test_the_failure_callback_with_the_dag_processors_smallest_context(monkeypatch, tmp_path) -> None:
    """Without a last task instance the DAG processor gives only the DAG, the run id and the reason."""
    from types import SimpleNamespace

    from sna_airflow.alerts import FailedRunAlert

    path = tmp_path / "alerts.jsonl"
    monkeypatch.setenv("SNA_NOTIFIERS", json.dumps([{"path": RECORDER, "kwargs": {"path": str(path)}}]))
    context = {"dag": SimpleNamespace(dag_id="sna_adhoc_export"), "run_id": "manual__x", "reason": "task_failure"}
    FailedRunAlert()(context)
    FailedRunAlert("vip_test")({**context, "dag": SimpleNamespace(dag_id="sna_vip_test")})
    assert [(c["context"]["sna_alert"]["audience"], c["context"]["sna_alert"]["dag_id"],
             c["context"]["sna_alert"]["failed_task"]) for c in calls(path)] == [
        ("adhoc_export", "sna_adhoc_export", None), ("vip_test", "sna_vip_test", None)]


def test_the_failure_callback_logs_one_line_when_it_cannot_alert(monkeypatch, caplog) -> None:
    from types import SimpleNamespace

    from sna_airflow.alerts import FailedRunAlert

    context = {"dag": SimpleNamespace(dag_id="sna_vip_test"), "run_id": "manual__x"}
    monkeypatch.delenv("SNA_NOTIFIERS", raising=False)
    with caplog.at_level("WARNING", logger="sna_airflow.alerts"):
        FailedRunAlert("vip_test")(context)
    assert "SNA: audience vip_test: run manual__x of sna_vip_test failed (no notifier in the settings" in caplog.text
    monkeypatch.setenv("SNA_NOTIFIERS", json.dumps([{"path": "no_such_package.Notifier"}]))
    caplog.clear()
    with caplog.at_level("WARNING", logger="sna_airflow.alerts"):
        FailedRunAlert("vip_test")(context)  # does not raise: the run's failure stands, the log says why
    (record,) = caplog.records
    assert record.getMessage() == ("SNA: audience vip_test: run manual__x of sna_vip_test failed; alert not sent: "
                                   "notifiers[0] (SNA_NOTIFIERS): no_such_package.Notifier: module no_such_package "
                                   "cannot be imported (ModuleNotFoundError)")
