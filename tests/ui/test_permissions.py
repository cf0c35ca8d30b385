"""Per-audience permissions and "refresh now" against Airflow's real REST API (in process)."""

from __future__ import annotations

import httpx
import pytest

from tests.ui.conftest import ORIGIN, add_export


def test_list_shows_only_audiences_whose_dag_the_user_may_read(store, make_client, tokens, secret_audience_hidden):
    for day in range(3):
        add_export(store, "public_a", day=day)
        add_export(store, "secret", day=day)
        add_export(store, "public_b", day=day, platform="meta")
    viewer = make_client(store, tokens["viewer"])
    page = viewer.get("/?per_page=5").text
    assert "6 exports" in page and "Page 1 of 2" in page
    assert "secret-" not in page and ">secret<" not in page
    assert "secret-" not in viewer.get("/?per_page=5&page=2").text
    assert "0 exports" in viewer.get("/?audience=secret").text
    assert "public_b-00000" in viewer.get("/?platform=meta").text
    assert viewer.get("/audiences/sna_secret").status_code == 403
    assert viewer.get("/audiences/sna_secret/exports/secret-00000").status_code == 403
    admin_page = make_client(store, tokens["admin"]).get("/").text
    assert "9 exports" in admin_page and "secret-00000" in admin_page


@pytest.fixture(scope="module")
def airflow_api():
    """Airflow's own API app, called in process: the plugin's request is a real REST call."""
    from airflow.api_fastapi.app import create_app

    api = create_app(apps="core")
    return lambda request: httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://airflow")


def _csrf(client, audience: str) -> str:
    page = client.get(f"/audiences/sna_{audience}").text
    marker = 'name="csrf_token" value="'
    start = page.index(marker) + len(marker)
    return page[start:page.index('"', start)]


def test_refresh_calls_airflow_with_the_users_own_token(store, make_client, tokens, airflow_api):
    add_export(store, "newsletter_fr")
    client = make_client(store, tokens["admin"], airflow_api=airflow_api)
    response = client.post("/audiences/sna_newsletter_fr/refresh",
                           data={"csrf_token": _csrf(client, "newsletter_fr")}, headers={"Origin": ORIGIN})
    # Airflow authenticated the admin's token and looked for the DAG, which this metadata DB lacks.
    assert response.status_code == 404
    assert "Airflow did not trigger sna_newsletter_fr: HTTP 404" in response.text


def test_refresh_refuses_cross_site_posts(store, make_client, tokens, airflow_api):
    add_export(store, "newsletter_fr")
    client = make_client(store, tokens["admin"], airflow_api=airflow_api)
    response = client.post("/audiences/sna_newsletter_fr/refresh",
                           data={"csrf_token": _csrf(client, "newsletter_fr")},
                           headers={"Origin": "https://evil.example"})
    assert response.status_code == 403


def test_refresh_calls_airflow_in_process_whatever_the_host_header_says(store, make_client, tokens):
    """No `[api] base_url` (as in docker-compose.yaml): the trigger must not go to the host a request's
    `Host` header names, with the user's token, and Airflow's answer is not echoed."""
    add_export(store, "newsletter_fr")
    client = make_client(store, tokens["admin"])  # the production API client
    evil = "http://attacker.invalid:8080"
    response = client.post("/audiences/sna_newsletter_fr/refresh",
                           data={"csrf_token": _csrf(client, "newsletter_fr")},
                           headers={"Origin": evil, "Host": "attacker.invalid:8080"})
    assert response.status_code == 404, response.text  # answered by this Airflow, in process
    assert "Airflow did not trigger sna_newsletter_fr: HTTP 404" in response.text
    assert "was not found" not in response.text, "the upstream body is not echoed"
