"""Each action is offered exactly to the users its route lets through, and ad-hoc exports are
addressed, permitted and refreshed as exports of the DAG `sna_adhoc_export` (issue items 20)."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.ui.conftest import ORIGIN, add_export


def _csrf(page: str) -> str:
    marker = 'name="csrf_token" value="'
    start = page.index(marker) + len(marker)
    return page[start:page.index('"', start)]


def _offered(page: str) -> set[str]:
    shown = set()
    if "/download" in page:
        shown.add("download")
    if 'class="delete"' in page:
        shown.add("delete")
    if "/refresh" in page:
        shown.add("refresh")
    return shown


@pytest.fixture
def fake_airflow():
    """Airflow's REST API as a recording fake: what the page asks of it, and a canned answer."""
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if request.method == "POST":
            return httpx.Response(200, json={"dag_run_id": "manual__2024-06-02T10:00:00+00:00", "state": "queued",
                                             "dag_id": request.url.path.split("/")[4], "logical_date": None,
                                             "run_after": "2024-06-02T10:00:00Z"})
        return httpx.Response(404, json={"detail": "upstream words"})

    def client(_request):
        return httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url="http://airflow.fake")

    client.calls = calls
    return client


def test_a_viewer_is_not_offered_refresh_now(store, make_client, tokens, fake_airflow):
    add_export(store, "newsletter_fr")
    viewer = make_client(store, tokens["viewer"], airflow_api=fake_airflow).get("/audiences/sna_newsletter_fr")
    assert viewer.status_code == 200 and "Refresh now" not in viewer.text and "/refresh" not in viewer.text
    admin = make_client(store, tokens["admin"], airflow_api=fake_airflow).get("/audiences/sna_newsletter_fr").text
    assert "Refresh now" in admin


@pytest.mark.parametrize("granted", [
    set(),
    {("PUT", None)},
    {("DELETE", None)},
    {("POST", "run")},
    {("PUT", None), ("DELETE", None), ("POST", "run")},
])
def test_every_action_shown_is_allowed_and_every_action_allowed_is_shown(
    store, make_client, token_for, grants, fake_airflow, granted
):
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    from sna_ui.auth import csrf_token

    entry = add_export(store, "newsletter_fr")
    grants["someone"] = {("GET", None, "*"), ("GET", DagAccessEntity.RUN, "*")} | {
        (method, DagAccessEntity.RUN if entity == "run" else None, "sna_newsletter_fr") for method, entity in granted}
    client = make_client(store, token_for("someone"), airflow_api=fake_airflow)
    base = "/audiences/sna_newsletter_fr"
    expected = {name for name, needs in (("download", ("PUT", None)), ("delete", ("DELETE", None)),
                                         ("refresh", ("POST", "run"))) if needs in granted}
    for url in ("/", base, f"{base}/exports/{entry.id}"):
        page = client.get(url)
        assert page.status_code == 200
        here = expected if url == base else expected - {"refresh"}  # refresh is on the audience's page
        assert _offered(page.text) == here, url
    csrf = csrf_token(SimpleAuthManagerUser(username="someone", role="viewer"))
    allowed = {
        "download": client.get(f"{base}/exports/{entry.id}/download").status_code == 200,
        "delete": client.get(f"{base}/exports/{entry.id}/delete").status_code == 200,
        "refresh": client.post(f"{base}/refresh", data={"csrf_token": csrf},
                               headers={"Origin": ORIGIN}).status_code == 303,
    }
    assert {name for name, ok in allowed.items() if ok} == expected


FORM = {"name": "fr_vip", "platform": "meta", "default_groups": ["VIP", "3"],
        "exclude_email_domains": ["marketplace.amazon.*"], "consent": "newsletter", "countries": ["FR"],
        "hashing": "sha256", "require_complete": False, "value": "total_spent", "dry_run": False}


def _adhoc_export(store, form=FORM, day=0):
    from sna_airflow.adhoc import audience_from_form

    audience = audience_from_form(form)
    return add_export(store, f"adhoc_export/{form['name']}", id=f"adhoc-{form['name']}-{day}",
                      platform=form["platform"], day=day,
                      hashing=form["hashing"], filters=audience.applied_filters(),
                      file_key=f"adhoc_export/{form['name']}/{form['platform']}/{form['name']}_{form['platform']}_"
                               f"2024-01-0{day + 1}.csv")


def test_adhoc_exports_are_shown_as_ad_hoc_and_reachable_under_sna_adhoc_export(store, make_client, tokens):
    entry = _adhoc_export(store)
    other = _adhoc_export(store, {**FORM, "name": "be_all", "platform": "google", "value": "none"})
    add_export(store, "newsletter_fr")
    client = make_client(store, tokens["admin"])
    listing = client.get("/").text
    assert f'data-export-id="{entry.id}"' in listing and f'data-export-id="{other.id}"' in listing
    assert 'href="/audiences/sna_adhoc_export?name=fr_vip"' in listing and "ad hoc" in listing
    base = "/audiences/sna_adhoc_export"
    assert client.get(f"{base}/exports/{entry.id}").status_code == 200
    assert client.get(f"{base}/exports/{entry.id}/download").status_code == 200
    assert client.get(f"{base}/exports/{entry.id}/delete").status_code == 200
    page = client.get(f"{base}?name=fr_vip")
    assert page.status_code == 200 and entry.id in page.text and other.id not in page.text
    assert "sna_adhoc_export form" in page.text
    every = client.get(base).text
    assert entry.id in every and other.id in every
    assert client.get(f"/audiences/sna_newsletter_fr/exports/{entry.id}").status_code == 404
    assert client.get(f"{base}/exports/newsletter_fr-00000").status_code == 404


def test_viewers_of_every_audience_see_every_ad_hoc_export(store, make_client, tokens):
    first = _adhoc_export(store)
    second = _adhoc_export(store, {**FORM, "name": "be_all"})
    add_export(store, "newsletter_fr")
    listing = make_client(store, tokens["viewer"]).get("/").text
    assert first.id in listing and second.id in listing and "3 exports" in listing


def test_adhoc_permissions_are_those_of_sna_adhoc_export(store, make_client, token_for, grants):
    entry = _adhoc_export(store)
    normal = add_export(store, "newsletter_fr")
    grants["no_adhoc"] = {("GET", None, "sna_newsletter_fr"), ("PUT", None, "sna_newsletter_fr")}
    client = make_client(store, token_for("no_adhoc"))
    listing = client.get("/").text
    assert normal.id in listing and entry.id not in listing
    assert client.get(f"/audiences/sna_adhoc_export/exports/{entry.id}").status_code == 403
    assert client.get("/audiences/sna_adhoc_export").status_code == 403
    grants["adhoc_reader"] = {("GET", None, "sna_adhoc_export")}
    reader = make_client(store, token_for("adhoc_reader"))
    page = reader.get(f"/audiences/sna_adhoc_export/exports/{entry.id}")
    assert page.status_code == 200 and "/download" not in page.text
    assert reader.get(f"/audiences/sna_adhoc_export/exports/{entry.id}/download").status_code == 403


def test_refreshing_an_adhoc_export_runs_the_form_again_with_its_values(store, make_client, tokens, fake_airflow):
    from sna_airflow.adhoc import audience_from_form, form_params

    entry = _adhoc_export(store)
    client = make_client(store, tokens["admin"], airflow_api=fake_airflow)
    page = client.get("/audiences/sna_adhoc_export?name=fr_vip").text
    assert "Run again" in page
    response = client.post("/audiences/sna_adhoc_export/refresh",
                           data={"csrf_token": _csrf(page), "export_id": entry.id}, headers={"Origin": ORIGIN})
    assert response.status_code == 303, response.text
    (call,) = fake_airflow.calls
    assert call.method == "POST" and call.url.path == "/api/v2/dags/sna_adhoc_export/dagRuns"
    assert call.headers["authorization"] == f"Bearer {tokens['admin']}"
    body = json.loads(call.content)
    assert body["logical_date"] is None and set(body["conf"]) == set(form_params())
    assert body["conf"]["dry_run"] is False
    assert audience_from_form(body["conf"]) == audience_from_form(FORM)


def test_refreshing_sna_adhoc_export_needs_one_of_its_exports(store, make_client, tokens, fake_airflow):
    entry = _adhoc_export(store)
    normal = add_export(store, "newsletter_fr")
    client = make_client(store, tokens["admin"], airflow_api=fake_airflow)
    token = _csrf(client.get("/audiences/sna_adhoc_export").text)
    assert client.post("/audiences/sna_adhoc_export/refresh", data={"csrf_token": token},
                       headers={"Origin": ORIGIN}).status_code == 400
    assert client.post("/audiences/sna_adhoc_export/refresh", data={"csrf_token": token, "export_id": normal.id},
                       headers={"Origin": ORIGIN}).status_code == 404
    assert fake_airflow.calls == []
    assert entry


def test_the_ad_hoc_dag_id_is_the_dag_factorys():
    from sna.pipeline import ADHOC_NAMESPACE
    from sna_airflow.dag_factory import ADHOC_DAG_ID
    from sna_ui import present

    assert present.ADHOC_DAG_ID == ADHOC_DAG_ID
    assert present.dag_id_of(f"{ADHOC_NAMESPACE}/x") == ADHOC_DAG_ID and present.dag_id_of("x") == "sna_x"


def test_the_page_spells_no_dag_id_prefix_of_its_own():
    """DAG ids come from the Airflow layer's constants (`sna_airflow.config`), never a literal here."""
    import inspect

    from sna_airflow.config import DAG_ID_PREFIX
    from sna_ui import present

    source = inspect.getsource(present)
    assert f'"{DAG_ID_PREFIX}' not in source and f"'{DAG_ID_PREFIX}" not in source and "f\"sna_" not in source
    assert present.audience_of(f"{DAG_ID_PREFIX}vip") == "vip" and present.audience_of(DAG_ID_PREFIX) is None
