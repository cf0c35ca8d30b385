"""Every route of the plugin app through a TestClient, with real Airflow JWTs and auth manager."""

from __future__ import annotations

import pytest

from tests.ui.conftest import ORIGIN, add_export

CSP_PART = "frame-ancestors 'self'"


def _urls(entry) -> dict[str, str]:
    base = f"/audiences/sna_{entry.audience}"
    return {
        "list": "/",
        "static": "/static/sna.css",
        "audience": base,
        "export": f"{base}/exports/{entry.id}",
        "download": f"{base}/exports/{entry.id}/download",
        "confirm_delete": f"{base}/exports/{entry.id}/delete",
    }


def _csrf(client, entry) -> str:
    page = client.get(f"/audiences/sna_{entry.audience}/exports/{entry.id}/delete")
    assert page.status_code == 200
    marker = 'name="csrf_token" value="'
    start = page.text.index(marker) + len(marker)
    return page.text[start:page.text.index('"', start)]


@pytest.mark.parametrize("route", ["list", "static", "audience", "export", "download", "confirm_delete"])
def test_anonymous_gets_401_on_every_page(store, make_client, route):
    entry = add_export(store)
    response = make_client(store).get(_urls(entry)[route])
    assert response.status_code == 401
    assert CSP_PART in response.headers["content-security-policy"]


@pytest.mark.parametrize("path", ["/exports/{id}/delete", "/refresh"])
def test_anonymous_gets_401_on_every_post(store, make_client, path):
    entry = add_export(store)
    url = f"/audiences/sna_{entry.audience}" + path.format(id=entry.id)
    response = make_client(store).post(url, data={"csrf_token": "x"}, headers={"Origin": ORIGIN})
    assert response.status_code == 401
    assert store.registry.get(entry.id) is not None


def test_a_forged_token_is_refused(store, make_client):
    add_export(store)
    assert make_client(store, token="not-a-jwt").get("/").status_code == 403


def test_viewer_lists_but_cannot_download_nor_delete(store, make_client, tokens):
    entry = add_export(store)
    client = make_client(store, tokens["viewer"])
    urls = _urls(entry)
    listing = client.get(urls["list"])
    assert listing.status_code == 200
    assert f'data-export-id="{entry.id}"' in listing.text
    assert "Download" not in listing.text and ">Delete<" not in listing.text  # no button it cannot use
    for page in ("audience", "export", "static"):
        assert client.get(urls[page]).status_code == 200
    assert client.get(urls["download"]).status_code == 403
    assert client.get(urls["confirm_delete"]).status_code == 403
    deleted = client.post(urls["confirm_delete"], data={"csrf_token": "x"}, headers={"Origin": ORIGIN})
    assert deleted.status_code == 403
    refreshed = client.post(f"/audiences/sna_{entry.audience}/refresh", headers={"Origin": ORIGIN})
    assert refreshed.status_code == 403
    assert store.registry.get(entry.id) is not None and store.storage.exists(entry.file_key)


def test_admin_downloads_the_file_with_its_name(store, make_client, tokens):
    content = b"Email,Phone\n" + b"a@example.com,+33611111111\n" * 50_000
    entry = add_export(store, content=content)
    response = make_client(store, tokens["admin"]).get(_urls(entry)["download"])
    assert response.status_code == 200
    assert response.content == content
    assert response.headers["content-type"].startswith("text/csv")
    assert 'filename="newsletter_fr_google_2024-01-01.csv"' in response.headers["content-disposition"]


def test_download_link_falls_back_to_streaming_on_a_local_folder(store, make_client, tokens):
    entry = add_export(store, content=b"Email\n")
    response = make_client(store, tokens["admin"]).get(_urls(entry)["download"] + "?link=true")
    assert response.status_code == 200 and response.content == b"Email\n"


def test_admin_deletes_after_confirmation_file_then_entry(store, make_client, tokens):
    entry, other = add_export(store, day=0), add_export(store, day=1)
    client = make_client(store, tokens["admin"])
    confirm = client.get(_urls(entry)["confirm_delete"])
    assert confirm.status_code == 200 and "Delete this export?" in confirm.text
    assert store.registry.get(entry.id) is not None  # a GET never deletes
    response = client.post(_urls(entry)["confirm_delete"], data={"csrf_token": _csrf(client, entry)},
                           headers={"Origin": ORIGIN})
    assert response.status_code == 303 and response.headers["location"] == "/?notice=deleted"
    assert store.registry.get(entry.id) is None
    assert not store.storage.exists(entry.file_key)
    assert store.registry.get(other.id) is not None and store.storage.exists(other.file_key)
    assert "was deleted" in client.get(response.headers["location"]).text


@pytest.mark.parametrize(
    "headers, token",
    [
        ({}, "good"),  # no Origin nor Referer
        ({"Origin": "https://evil.example"}, "good"),
        ({"Referer": "https://evil.example/page"}, "good"),
        ({"Origin": ORIGIN}, "bad"),
        ({"Origin": ORIGIN}, ""),
    ],
)
def test_delete_refuses_cross_site_requests(store, make_client, tokens, headers, token):
    entry = add_export(store)
    client = make_client(store, tokens["admin"])
    value = _csrf(client, entry) if token == "good" else token
    response = client.post(_urls(entry)["confirm_delete"], data={"csrf_token": value}, headers=headers)
    assert response.status_code == 403
    assert store.registry.get(entry.id) is not None and store.storage.exists(entry.file_key)


def test_a_viewers_form_token_does_not_work_for_the_admin(store, make_client, tokens):
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    from sna_ui.auth import csrf_token

    entry = add_export(store)
    viewer_token = csrf_token(SimpleAuthManagerUser(username="viewer", role="viewer"))
    response = make_client(store, tokens["admin"]).post(
        _urls(entry)["confirm_delete"], data={"csrf_token": viewer_token}, headers={"Origin": ORIGIN})
    assert response.status_code == 403


def test_delete_accepts_a_same_origin_referer(store, make_client, tokens):
    entry = add_export(store)
    client = make_client(store, tokens["admin"])
    response = client.post(_urls(entry)["confirm_delete"], data={"csrf_token": _csrf(client, entry)},
                           headers={"Referer": f"{ORIGIN}/audiences/x"})
    assert response.status_code == 303 and store.registry.get(entry.id) is None


def test_an_export_is_only_reachable_under_its_own_audience(store, make_client, tokens):
    entry = add_export(store, "newsletter_fr")
    add_export(store, "buyers_be")
    client = make_client(store, tokens["admin"])
    assert client.get(f"/audiences/sna_buyers_be/exports/{entry.id}/download").status_code == 404
    assert client.get(f"/audiences/sna_buyers_be/exports/{entry.id}").status_code == 404
    assert client.get(f"/audiences/not_sna/exports/{entry.id}").status_code == 404
    assert client.get("/audiences/sna_buyers_be/exports/nope/download").status_code == 404


def test_pages_send_a_strict_content_security_policy(store, make_client, tokens):
    entry = add_export(store)
    client = make_client(store, tokens["admin"])
    for url in _urls(entry).values():
        policy = client.get(url).headers["content-security-policy"]
        assert CSP_PART in policy and "default-src 'self'" in policy


def test_list_shows_every_column(store, make_client, tokens):
    add_export(store, "buyers_be", platform="meta", day=3, filters={"min_valid_orders": 1}, content=b"x" * 41,
               excluded={"missing_birthday": 40, "missing_city": 7, "deleted": 2, "inactive": 1})
    page = make_client(store, tokens["viewer"]).get("/").text
    for text in ("buyers_be", "Meta", "sha256", "min valid orders: 1", "2024-01-04", "2024-01-04 06:00",
                 ">5<", ">16<", "no birthday (missing_birthday): 40", "no city (missing_city): 7",
                 "deleted account (deleted): 2", "41 B"):
        assert text in page, text
    assert "(inactive): 1" not in page  # only the main reasons


def test_audience_page_shows_required_fields_and_size_chart(store, make_client, tokens):
    for day in range(3):
        add_export(store, "buyers_be", platform="meta", day=day)
    page = make_client(store, tokens["viewer"]).get("/audiences/sna_buyers_be").text
    for field in ("email", "phone", "first name", "last name", "zip", "country", "city", "birthday"):
        assert f"<li>{field}</li>" in page
    assert page.count("<rect") == 3  # one bar of rows per export
    assert "2024-01-03: 4 rows of 14 scanned" in page
    google = make_client(store, tokens["viewer"])
    add_export(store, "google_only", platform="google")
    assert "<li>birthday</li>" not in google.get("/audiences/sna_google_only").text


def test_export_page_draws_its_exclusion_reasons(store, make_client, tokens):
    entry = add_export(store, excluded={"missing_phone": 30, "no_consent": 10, "deleted": 0})
    page = make_client(store, tokens["viewer"]).get(_urls(entry)["export"]).text
    assert page.count("<rect") == 2
    assert "no phone (missing_phone): 30" in page and "no marketing consent (no_consent): 10" in page
    assert page.index("(missing_phone): 30") < page.index("(no_consent): 10")


HOSTILE = '<script>alert("x")</script>'


def test_hostile_values_are_escaped_everywhere(store, make_client, tokens):
    entry = add_export(
        store, "evil", file_key="evil/google/evil.csv",
        filters={"countries": [HOSTILE], HOSTILE: "<b>bold</b>"},
        excluded={HOSTILE: 3}, warnings=[HOSTILE], dag_run_id=HOSTILE,
    )
    from sna.registry import ExportEntry  # an audience name no YAML could have, written straight in

    store.registry.record(ExportEntry(**{**entry.__dict__, "id": "weird", "run_key": "weird",
                                         "audience": '"><img src=x onerror=alert(1)>', "file_uri": HOSTILE}))
    client = make_client(store, tokens["admin"])
    pages = [client.get("/"), client.get(_urls(entry)["export"]), client.get(_urls(entry)["audience"]),
             client.get(_urls(entry)["confirm_delete"])]
    for response in pages:
        assert response.status_code == 200
        assert "<script>" not in response.text and "<b>bold" not in response.text
        assert "<img src=x" not in response.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in pages[1].text
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in pages[0].text


def test_list_is_paginated_newest_first_over_3000_entries(store, make_client, tokens):
    import time
    from datetime import timedelta

    from sna.registry import ExportEntry

    template = add_export(store, "big", day=0)
    for day in range(1, 3000):
        store.registry.record(ExportEntry(**{**template.__dict__, "id": f"big-{day:05d}", "run_key": f"big/{day}",
                                             "created_at": template.created_at + timedelta(hours=day)}))
    client = make_client(store, tokens["viewer"])
    started = time.monotonic()
    first = client.get("/")
    elapsed = time.monotonic() - started
    assert first.status_code == 200 and "3000 exports" in first.text and "Page 1 of 60" in first.text
    assert first.text.count("data-export-id=") == 50
    assert first.text.index('data-export-id="big-02999"') < first.text.index('data-export-id="big-02998"')
    second = client.get("/?page=2")
    assert "Page 2 of 60" in second.text and 'data-export-id="big-02949"' in second.text
    assert 'data-export-id="big-02999"' not in second.text
    assert client.get("/?per_page=20&page=150").text.count("data-export-id=") == 20
    assert 'data-export-id="big-00000"' in client.get("/?per_page=20&page=150").text
    assert elapsed < 2.0


def test_filters_by_audience_and_platform(store, make_client, tokens):
    add_export(store, "a_google", platform="google")
    add_export(store, "b_meta", platform="meta")
    client = make_client(store, tokens["viewer"])
    meta = client.get("/?platform=meta").text
    assert "b_meta-00000" in meta and "a_google-00000" not in meta
    only_a = client.get("/?audience=a_google").text
    assert "a_google-00000" in only_a and "b_meta-00000" not in only_a
    assert "0 exports" in client.get("/?audience=a_google&platform=meta").text


def test_download_link_on_s3_is_a_presigned_url_of_at_most_five_minutes(
    tmp_path, s3_storage_url, boto3_s3_client, make_client, tokens
):
    import time
    from urllib.parse import parse_qs, urlsplit

    import httpx

    from sna.exports import ExportStore
    from sna.runtime import create_registry
    from sna.storage import open_storage

    registry = create_registry(f"sqlite:///{tmp_path / 'registry.db'}")
    store = ExportStore(open_storage(s3_storage_url, s3_client=boto3_s3_client), registry)
    entry = add_export(store, content=b"Email\nz@example.com\n")
    client = make_client(store, tokens["admin"])
    assert "Download link (valid 5 minutes)" in client.get(_urls(entry)["export"]).text
    response = client.get(_urls(entry)["download"] + "?link=true")
    assert response.status_code == 303
    url = response.headers["location"]
    query = parse_qs(urlsplit(url).query)
    if "X-Amz-Expires" in query:  # signature v4: seconds
        assert int(query["X-Amz-Expires"][0]) <= 300
    else:  # signature v2: an epoch time
        assert int(query["Expires"][0]) - time.time() <= 301
    assert httpx.get(url).content == b"Email\nz@example.com\n"
    assert make_client(store, tokens["viewer"]).get(_urls(entry)["download"] + "?link=true").status_code == 403
    streamed = client.get(_urls(entry)["download"])
    assert streamed.content == b"Email\nz@example.com\n"
    registry.dispose()


def test_downloads_and_deletes_from_the_page_are_in_the_access_log_with_the_user(store, make_client, tokens):
    entry = add_export(store, "newsletter_fr")
    client = make_client(store, tokens["admin"])
    assert client.get(f"/audiences/sna_newsletter_fr/exports/{entry.id}/download").status_code == 200
    events = store.access.list()
    assert [(e.action, e.export_id, e.via) for e in events] == [("download", entry.id, "ui")]
    assert events[0].actor and events[0].actor != "engine", "the signed-in user, by name"
