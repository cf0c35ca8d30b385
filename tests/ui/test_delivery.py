"""Delivery on the page: each export's delivery, and "Deliver now" (a guarded POST calling the engine)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from sna.audience import Audience
from sna.registry import Delivery
from tests.ui.conftest import ORIGIN, add_export

DELIVERING = Audience.model_validate({"name": "newsletter_fr", "platform": "meta",
                                      "delivery": {"meta": {"custom_audience_id": "23850000000000001"}}})
PLAIN = Audience(name="newsletter_fr", platform="meta")
SECRET = "EAAB-secret-token-0123456789"


def _row_of(page: str, export_id: str) -> str:
    start = page.index(f'data-export-id="{export_id}"')
    return page[start:page.index("</tr>", start)]


def _csrf(page: str) -> str:
    marker = 'name="csrf_token" value="'
    start = page.index(marker) + len(marker)
    return page[start:page.index('"', start)]


class Recorder:
    """A stand-in for the engine's delivery: records the exports it was asked to deliver, and for whom."""

    def __init__(self, outcome=None) -> None:
        self.calls: list[str] = []
        self.actors: list[tuple[str, str]] = []
        self.outcome = outcome

    def __call__(self, entry, actor):
        from sna.delivery.sync import DeliveryReport

        self.calls.append(entry.id)
        self.actors.append((actor.name, actor.via))
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return DeliveryReport(status="delivered", added=3, removed=1, invalid=2, requests=4, mode="mirror",
                              destination="meta:23850000000000001", delivered_at=datetime(2024, 1, 2, 6, 10, tzinfo=UTC))


def test_each_export_row_shows_its_delivery(store, make_client, tokens):
    delivered = add_export(store, platform="meta", day=1, delivery=Delivery(
        status="delivered", mode="mirror", destination="meta:23850000000000001",
        delivered_at=datetime(2024, 1, 2, 6, 10, tzinfo=UTC), added=3, removed=1, invalid=2, requests=4))
    failed = add_export(store, platform="meta", day=2, delivery=Delivery(status="failed",
                                                                           destination="meta:23850000000000001"))
    never = add_export(store, platform="meta", day=3)
    page = make_client(store, tokens["viewer"], audiences=lambda: [DELIVERING]).get("/").text
    row = _row_of(page, delivered.id)
    for text in ("delivered", "+3", "\u22121", "2 invalid", "2024-01-02 06:10", "meta:23850000000000001"):
        assert text in row, text
    assert "failed" in _row_of(page, failed.id)
    assert "not delivered" in _row_of(page, never.id)


def test_deliver_now_is_offered_to_editors_of_audiences_with_a_delivery_block(store, make_client, tokens):
    entry = add_export(store, platform="meta")
    adhoc = add_export(store, "adhoc_export/newsletter_fr", id="adhoc-1", platform="meta",
                       file_key="adhoc_export/newsletter_fr/meta/newsletter_fr_meta_2024-01-01.csv")
    admin = make_client(store, tokens["admin"], audiences=lambda: [DELIVERING])
    for url in ("/", "/audiences/sna_newsletter_fr", f"/audiences/sna_newsletter_fr/exports/{entry.id}"):
        assert "Deliver now" in _row_of(admin.get(url).text, entry.id), url
    assert "Deliver now" not in _row_of(admin.get("/").text, adhoc.id)
    viewer = make_client(store, tokens["viewer"], audiences=lambda: [DELIVERING])
    assert "Deliver now" not in viewer.get("/").text
    without_block = make_client(store, tokens["admin"], audiences=lambda: [PLAIN])
    assert "Deliver now" not in without_block.get("/").text


@pytest.mark.parametrize("headers, token", [({}, "good"), ({"Origin": "https://evil.example"}, "good"),
                                            ({"Origin": ORIGIN}, "bad")])
def test_deliver_now_refuses_cross_site_posts(store, make_client, tokens, headers, token):
    entry = add_export(store, platform="meta")
    recorder = Recorder()
    client = make_client(store, tokens["admin"], audiences=lambda: [DELIVERING], deliver=recorder)
    value = _csrf(client.get("/").text) if token == "good" else token
    response = client.post(f"/audiences/sna_newsletter_fr/exports/{entry.id}/deliver", data={"csrf_token": value},
                           headers=headers)
    assert response.status_code == 403 and recorder.calls == []


def test_a_viewer_cannot_deliver(store, make_client, tokens):
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    from sna_ui.auth import csrf_token

    entry = add_export(store, platform="meta")
    recorder = Recorder()
    client = make_client(store, tokens["viewer"], audiences=lambda: [DELIVERING], deliver=recorder)
    response = client.post(f"/audiences/sna_newsletter_fr/exports/{entry.id}/deliver", headers={"Origin": ORIGIN},
                           data={"csrf_token": csrf_token(SimpleAuthManagerUser(username="viewer", role="viewer"))})
    assert response.status_code == 403 and recorder.calls == []


def test_deliver_now_shows_the_counts(store, make_client, tokens):
    entry = add_export(store, platform="meta")
    recorder = Recorder()
    client = make_client(store, tokens["admin"], audiences=lambda: [DELIVERING], deliver=recorder)
    response = client.post(f"/audiences/sna_newsletter_fr/exports/{entry.id}/deliver",
                           data={"csrf_token": _csrf(client.get("/").text)}, headers={"Origin": ORIGIN})
    assert response.status_code == 200 and recorder.calls == [entry.id]
    assert recorder.actors == [("admin", "ui")], "the deliverer acts for the signed-in user"
    for text in ("delivered", "3 added", "1 removed", "2 invalid", "4 requests", "meta:23850000000000001"):
        assert text in response.text, text
    assert "Back to the list" in response.text


def test_deliver_now_needs_a_delivery_block(store, make_client, tokens):
    entry = add_export(store, platform="meta")
    recorder = Recorder()
    client = make_client(store, tokens["admin"], audiences=lambda: [PLAIN], deliver=recorder)
    token = _csrf(client.get("/audiences/sna_newsletter_fr").text)  # the Refresh now form's token
    response = client.post(f"/audiences/sna_newsletter_fr/exports/{entry.id}/deliver",
                           data={"csrf_token": token}, headers={"Origin": ORIGIN})
    assert response.status_code == 404 and "no delivery block" in response.text and recorder.calls == []


@pytest.mark.parametrize("error, code, shown", [
    ("platform", 502, "meta: error 190 (the access token expired)"),
    ("busy", 409, "a run of newsletter_fr/2024-01-01 is in progress"),
    ("unexpected", 500, "delivery of export newsletter_fr-00000 failed: internal error (RuntimeError)"),
])
def test_a_failed_delivery_is_one_line_without_traceback_or_token(store, make_client, tokens, error, code, shown,
                                                                  caplog):
    from sna.errors import PermanentError
    from sna.locks import RunInProgressError

    raised = {
        "platform": PermanentError("meta: error 190 (the access token expired)"),
        "busy": RunInProgressError("a run of newsletter_fr/2024-01-01 is in progress"),
        "unexpected": RuntimeError(f"GET https://graph.facebook.com/v21.0/x?access_token={SECRET} failed"),
    }[error]
    entry = add_export(store, platform="meta")
    client = make_client(store, tokens["admin"], audiences=lambda: [DELIVERING], deliver=Recorder(raised))
    response = client.post(f"/audiences/sna_newsletter_fr/exports/{entry.id}/deliver",
                           data={"csrf_token": _csrf(client.get("/").text)}, headers={"Origin": ORIGIN})
    assert response.status_code == code and shown in response.text
    assert "Traceback" not in response.text and SECRET not in response.text and "access_token" not in response.text
    assert SECRET not in caplog.text


def test_deliver_now_calls_the_engine_which_sends_the_export_to_meta(tmp_path: Path, make_client, tokens,
                                                                     meta_fake, monkeypatch):
    """The production path: `airflow_runtime()` -> `deliver_export` with the audience of its file."""
    from sna.audience import load_audience
    from sna.pipeline import ExportJob
    from sna.runtime import Runtime
    from sna.settings import Locations, load_settings
    from sna_demo import write_demo_shop
    from tests.fakes import meta_graph

    audiences = tmp_path / "audiences"
    audiences.mkdir()
    (audiences / "ui_meta.yaml").write_text(
        f'name: ui_meta\nplatform: meta\nrequire_complete: false\n'
        f'delivery:\n  meta: {{custom_audience_id: "{meta_graph.DEFAULT_AUDIENCE_ID}"}}\n', encoding="utf-8")
    locations = Locations(f"sqlite:///{tmp_path / 'shop.db'}", (tmp_path / "exports").as_uri(),
                          f"sqlite:///{tmp_path / 'registry.db'}")
    write_demo_shop(locations.source_url.render_as_string(), customers=150, as_of=date(2024, 6, 1))
    for name, value in {"SNA_HOME": str(tmp_path), "SNA_SOURCE_URL": locations.source_url.render_as_string(),
                        "SNA_STORAGE_URL": locations.storage_url, "SNA_REGISTRY_URL": locations.registry_url.render_as_string(),
                        "SNA_AUDIENCES_DIR": str(audiences), "SNA_META_GRAPH_URL": meta_fake.url,
                        "SNA_META_ACCESS_TOKEN": meta_graph.DEFAULT_TOKEN}.items():
        monkeypatch.setenv(name, value)
    for name in ("AIRFLOW_CONN_SNA_PRESTASHOP", "AIRFLOW_CONN_SNA_S3", "AIRFLOW_CONN_SNA_REGISTRY",
                 "AIRFLOW_CONN_SNA_META", "AIRFLOW_CONN_SNA_GOOGLE"):
        monkeypatch.delenv(name, raising=False)
    runtime = Runtime(locations, load_settings(tmp_path), tmp_path)
    report = runtime.pipeline().run(ExportJob(load_audience(audiences / "ui_meta.yaml"), date(2024, 6, 1)),
                                    deliver=False)
    store = runtime.store()
    assert report.rows > 0 and meta_fake.members() == set()

    client = make_client(store, tokens["admin"])  # the production audience files and deliverer
    page = client.get("/audiences/sna_ui_meta").text
    assert "Deliver now" in page
    response = client.post(f"/audiences/sna_ui_meta/exports/{report.export_id}/deliver",
                           data={"csrf_token": _csrf(page)}, headers={"Origin": ORIGIN})
    assert response.status_code == 200, response.text
    assert f"{report.rows} added" in response.text and meta_graph.DEFAULT_TOKEN not in response.text
    assert len(meta_fake.members()) == report.rows
    entry = store.get(report.export_id)
    assert entry.delivery.status == "delivered" and entry.delivery.added == report.rows
    assert f"+{report.rows}" in _row_of(client.get("/").text, report.export_id)
    (logged,) = store.access.list()
    assert (logged.action, logged.export_id, logged.actor, logged.via) == ("deliver", report.export_id, "admin", "ui"), \
        "recorded under the signed-in user, not the engine"
    runtime.close()
