""""Refresh now" shows the triggered run until it ends (issue item 17): the page asks Airflow's REST API,
in process and with the user's own token, and reloads itself while the run is queued or running."""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest

from tests.ui.conftest import ORIGIN, add_export

RUN_ID = "manual__2024-06-02T10:00:00+00:00"


def _csrf(page: str) -> str:
    marker = 'name="csrf_token" value="'
    start = page.index(marker) + len(marker)
    return page[start:page.index('"', start)]


@pytest.fixture
def airflow_runs():
    """Airflow's REST API as a fake whose one run has the state the test sets."""
    run = {"state": "queued", "conf": {}, "calls": []}

    def handler(request: httpx.Request) -> httpx.Response:
        run["calls"].append(request)
        dag_id = request.url.path.split("/")[4]
        document = {"dag_run_id": RUN_ID, "dag_id": dag_id, "state": run["state"], "logical_date": None,
                    "run_after": "2024-06-02T10:00:00Z", "conf": run["conf"]}
        if request.method == "POST":
            return httpx.Response(200, json={**document, "state": "queued"})
        if request.url.path.endswith(f"/dagRuns/{RUN_ID}"):
            return httpx.Response(200, json=document)
        return httpx.Response(404, json={"detail": "The DagRun with dag_id: ... was not found"})

    run["client"] = lambda _request: httpx.AsyncClient(transport=httpx.MockTransport(handler),
                                                       base_url="http://airflow.fake")
    return run


def test_refresh_now_leads_to_the_runs_page(store, make_client, tokens, airflow_runs):
    add_export(store, "newsletter_fr")
    client = make_client(store, tokens["admin"], airflow_api=airflow_runs["client"])
    response = client.post("/audiences/sna_newsletter_fr/refresh",
                           data={"csrf_token": _csrf(client.get("/audiences/sna_newsletter_fr").text)},
                           headers={"Origin": ORIGIN})
    assert response.status_code == 303
    assert response.headers["location"] == f"/audiences/sna_newsletter_fr/runs/{RUN_ID}"


@pytest.mark.parametrize("state, polls", [("queued", True), ("running", True), ("success", False),
                                          ("failed", False)])
def test_the_runs_page_shows_its_state_and_reloads_until_it_ends(store, make_client, tokens, airflow_runs,
                                                                 state, polls):
    add_export(store, "newsletter_fr")
    airflow_runs["state"] = state
    client = make_client(store, tokens["viewer"], airflow_api=airflow_runs["client"])
    page = client.get(f"/audiences/sna_newsletter_fr/runs/{RUN_ID}")
    assert page.status_code == 200
    assert f'<span class="state {state}">{state}</span>' in page.text
    assert ('<meta http-equiv="refresh"' in page.text) is polls
    assert f'href="/dags/sna_newsletter_fr/runs/{quote(RUN_ID, safe="")}" target="_top"' in page.text
    assert 'href="/audiences/sna_newsletter_fr"' in page.text
    (call,) = airflow_runs["calls"]
    assert call.method == "GET" and call.url.raw_path.decode().startswith("/api/v2/dags/sna_newsletter_fr/dagRuns/")
    assert call.headers["authorization"] == f"Bearer {tokens['viewer']}"


def test_an_unknown_run_is_a_404_in_our_words(store, make_client, tokens, airflow_runs):
    add_export(store, "newsletter_fr")
    client = make_client(store, tokens["admin"], airflow_api=airflow_runs["client"])
    page = client.get("/audiences/sna_newsletter_fr/runs/manual__nope")
    assert page.status_code == 404 and "Airflow has no run manual__nope of sna_newsletter_fr" in page.text
    assert "was not found" not in page.text and "Back to the list" in page.text


def test_the_runs_page_asks_the_real_airflow_api_with_the_users_token(store, make_client, tokens):
    from airflow.api_fastapi.app import create_app

    api = create_app(apps="core")
    client = make_client(store, tokens["admin"], airflow_api=lambda _request: httpx.AsyncClient(
        transport=httpx.ASGITransport(app=api), base_url="http://airflow"))
    page = client.get(f"/audiences/sna_newsletter_fr/runs/{RUN_ID}")
    assert page.status_code == 404, page.text  # authenticated by Airflow, which has no such DAG run
    assert "Airflow has no run" in page.text


def test_a_successful_ad_hoc_run_links_to_its_exports(store, make_client, tokens, airflow_runs):
    airflow_runs["state"], airflow_runs["conf"] = "success", {"name": "fr_vip", "dry_run": False}
    client = make_client(store, tokens["admin"], airflow_api=airflow_runs["client"])
    page = client.get(f"/audiences/sna_adhoc_export/runs/{RUN_ID}").text
    assert 'href="/audiences/sna_adhoc_export?name=fr_vip"' in page


def test_the_runs_page_says_which_export_it_replaces(store, make_client, tokens, airflow_runs):
    add_export(store, "newsletter_fr")
    client = make_client(store, tokens["admin"], airflow_api=airflow_runs["client"])
    page = client.get(f"/audiences/sna_newsletter_fr/runs/{RUN_ID}").text
    assert "replaces the export of 2024-06-02" in page
