"""The access log on the exports page: shown to users allowed to delete (the delete button's question),
scoped to the audiences they may delete, hidden from viewers."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from tests.ui.conftest import ORIGIN, add_export
from tests.ui.test_actions import fake_airflow  # noqa: F401 - the recording Airflow API, a fixture


def _section(page: str) -> str:
    start = page.index('<h3 class="access-log">')
    return page[start:page.index("</table>", start)]


def _rows(page: str) -> list[list[str]]:
    """The access log's rows as cell texts, newest first."""
    body = _section(page).split("<tbody>", 1)[1]
    return [re.findall(r"<td>(.*?)</td>", row, flags=re.S) for row in body.split("<tr")[1:]]


def _csrf(page: str) -> str:
    marker = 'name="csrf_token" value="'
    start = page.index(marker) + len(marker)
    return page[start:page.index('"', start)]


def test_page_actions_are_listed_with_who_what_via_and_when(store, make_client, tokens):
    from sna.registry.access import Actor

    kept = add_export(store, "newsletter_fr", day=1)
    gone = add_export(store, "newsletter_fr", day=2)
    store.as_actor(Actor("cron", "cli")).log_access("deliver", kept, "meta:23850000000000001 +3/-1")
    admin = make_client(store, tokens["admin"])

    assert admin.get(f"/audiences/sna_newsletter_fr/exports/{kept.id}/download").status_code == 200
    confirm = admin.get(f"/audiences/sna_newsletter_fr/exports/{gone.id}/delete").text
    deleted = admin.post(f"/audiences/sna_newsletter_fr/exports/{gone.id}/delete",
                         data={"csrf_token": _csrf(confirm)}, headers={"Origin": ORIGIN})
    assert deleted.status_code == 303

    rows = _rows(admin.get("/").text)
    assert [row[1:] for row in rows] == [
        ["admin", "ui", "delete", "newsletter_fr", gone.id, ""],
        ["admin", "ui", "download", "newsletter_fr", kept.id, ""],
        ["cron", "cli", "deliver", "newsletter_fr", kept.id, "meta:23850000000000001 +3/-1"],
    ]
    when = datetime.strptime(rows[0][0], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    assert abs((datetime.now(UTC) - when).total_seconds()) < 3600, "when, in UTC"
    assert "@" not in _section(admin.get("/").text), "no customer data"


def test_viewers_do_not_see_the_access_log(store, make_client, tokens):
    entry = add_export(store, "newsletter_fr")
    store.log_access("download", entry)
    page = make_client(store, tokens["viewer"]).get("/").text
    assert entry.id in page, "the viewer sees the export"
    assert "Access log" not in page and 'class="access-log"' not in page


def test_the_access_log_shows_only_audiences_the_user_may_delete(store, make_client, token_for, grants):
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity

    mine, other = add_export(store, "public_a"), add_export(store, "public_b")
    store.log_access("download", mine)
    store.log_access("download", other)
    grants["deleter"] = {("GET", None, "*"), ("GET", DagAccessEntity.RUN, "*"), ("DELETE", None, "sna_public_a")}
    page = make_client(store, token_for("deleter")).get("/").text
    assert [row[4] for row in _rows(page)] == ["public_a"]
    assert other.id in page, "public_b's export is listed, its access log is not"
    grants["reader"] = {("GET", None, "*"), ("PUT", None, "*")}  # may download, not delete
    assert "Access log" not in make_client(store, token_for("reader")).get("/").text


def test_the_audience_filter_narrows_the_access_log_and_an_empty_one_says_so(store, make_client, tokens):
    one, two = add_export(store, "public_a"), add_export(store, "public_b")
    store.log_access("download", one)
    admin = make_client(store, tokens["admin"])
    assert [row[4] for row in _rows(admin.get("/?audience=public_a").text)] == ["public_a"]
    assert two.id in admin.get("/?audience=public_b").text
    assert "No download, delete, delivery or refresh recorded yet." in admin.get("/?audience=public_b").text


def test_refresh_now_is_recorded_under_the_signed_in_user(store, make_client, tokens, fake_airflow):  # noqa: F811
    add_export(store, "newsletter_fr")
    admin = make_client(store, tokens["admin"], airflow_api=fake_airflow)
    response = admin.post("/audiences/sna_newsletter_fr/refresh",
                          data={"csrf_token": _csrf(admin.get("/audiences/sna_newsletter_fr").text)},
                          headers={"Origin": ORIGIN})
    assert response.status_code == 303
    assert [row[1:] for row in _rows(admin.get("/").text)] == [
        ["admin", "ui", "refresh", "newsletter_fr", "", "run manual__2024-06-02T10:00:00+00:00"]]
