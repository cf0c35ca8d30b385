"""The page as a new user meets it (issue "What a new user trips over"): what it says and offers."""

from __future__ import annotations

import re

from tests.ui.conftest import add_export


def test_error_pages_use_the_stylesheet_and_link_back_to_the_list(store, make_client, tokens):
    add_export(store, "newsletter_fr")
    client = make_client(store, tokens["viewer"])
    for url, code in (("/audiences/sna_newsletter_fr/exports/nope", 404), ("/audiences/sna_newsletter_fr/exports/"
                      "newsletter_fr-00000/download", 403), ("/audiences/not_an_audience", 404)):
        page = client.get(url)
        assert page.status_code == code, url
        assert '<link rel="stylesheet" href="/static/sna.css">' in page.text, url
        assert '<a href="/">' in page.text and "Back to the list" in page.text, url
        assert f"Error {code}" in page.text


def test_exclusion_reasons_have_a_human_label_beside_their_code(store, make_client, tokens):
    entry = add_export(store, excluded={"filtered_group": 30, "missing_phone": 10, "invalid_first_name": 4,
                                        "duplicate_email": 2, "some_future_code": 1})
    client = make_client(store, tokens["viewer"])
    listing = client.get("/").text
    assert "not in the chosen customer groups (filtered_group): 30" in listing
    assert "no phone (missing_phone): 10" in listing
    page = client.get(f"/audiences/sna_newsletter_fr/exports/{entry.id}").text
    assert "not in the chosen customer groups (filtered_group)" in page
    assert "invalid first name (invalid_first_name)" in page
    assert "same e-mail as another customer (duplicate_email)" in page
    assert "some future code (some_future_code)" in page  # an unknown code still reads as words


def test_the_delete_question_names_the_file_not_a_server_path(store, make_client, tokens):
    entry = add_export(store, file_key="newsletter_fr/google/newsletter_fr_google_2024-01-01_20240101T060000Z-"
                                       "0123456789.csv")
    page = make_client(store, tokens["admin"]).get(f"/audiences/sna_newsletter_fr/exports/{entry.id}/delete").text
    assert "file://" not in page and str(store.storage.uri(entry.file_key)) not in page
    assert "<code>newsletter_fr_google_2024-01-01.csv</code>" in page


def _size_chart(page: str) -> str:
    start = page.index('aria-label="rows per export"')
    return page[start:page.index("</svg>", start)]


def _columns(chart: str) -> list[tuple[str, float, float]]:
    """(reference date, x, height) of every bar of the size chart, in drawing order."""
    found = re.finditer(r'<rect x="(?P<x>[\d.]+)" y="[\d.]+" width="[\d.]+" height="(?P<h>[\d.]+)">'
                        r'<title>(?P<date>\d{4}-\d\d-\d\d):', chart)
    return [(m["date"], float(m["x"]), float(m["h"])) for m in found]


def test_the_size_chart_runs_along_the_reference_dates_not_the_creation_order(store, make_client, tokens):
    from datetime import UTC, datetime

    for order, day in enumerate((5, 1, 3)):  # a backfill of older dates made after a newer one
        add_export(store, "buyers_be", day=day, created_at=datetime(2024, 2, 1, 6 + order, tzinfo=UTC))
    chart = _size_chart(make_client(store, tokens["viewer"]).get("/audiences/sna_buyers_be").text)
    columns = _columns(chart)
    assert [date for date, _, _ in columns] == ["2024-01-02", "2024-01-04", "2024-01-06"]
    assert columns[0][1] < columns[1][1] < columns[2][1]


def test_one_export_is_one_labelled_bar_with_its_date_once(store, make_client, tokens):
    add_export(store, "buyers_be", rows=154, scanned=4978)
    chart = _size_chart(make_client(store, tokens["viewer"]).get("/audiences/sna_buyers_be").text)
    ((date, _x, height),) = _columns(chart)
    assert date == "2024-01-01" and height > 100  # rows on their own scale: the bar fills the plot
    assert "<circle" not in chart and "<polyline" not in chart
    assert chart.count(">2024-01-01<") == 1  # the date, printed once under its bar
    assert ">154<" in chart and "154 rows of 4,978 scanned" in chart
    assert ">4978<" not in chart and ">4,978<" not in chart  # scanned is a label, not the axis maximum


def test_rows_are_not_drawn_on_the_scale_of_scanned(store, make_client, tokens):
    for day, rows in enumerate((150, 75, 154)):
        add_export(store, "buyers_be", day=day, rows=rows, scanned=4978)
    chart = _size_chart(make_client(store, tokens["viewer"]).get("/audiences/sna_buyers_be").text)
    heights = {date: height for date, _, height in _columns(chart)}
    assert heights["2024-01-03"] > 100 and 0.45 < heights["2024-01-02"] / heights["2024-01-03"] < 0.5


def _row_of(page: str, export_id: str) -> str:
    start = page.index(f'data-export-id="{export_id}"')
    return page[start:page.index("</tr>", start)]


def test_the_audience_header_is_its_file_and_a_one_off_override_is_marked_on_its_run(store, make_client, tokens):
    from sna.audience import Audience

    vip = Audience(name="vip_google", platform="google", hashing="none", require_complete=True)
    scheduled = add_export(store, "vip_google", day=0, hashing="none", filters={"require_complete": True})
    manual = add_export(store, "vip_google", day=1, hashing="sha256", filters={"require_complete": False})
    loads = []
    client = make_client(store, tokens["viewer"], audiences=lambda: loads.append(1) or [vip])

    page = client.get("/audiences/sna_vip_google").text
    header = page[page.index("<h2>"):page.index("</ul>", page.index('class="required"'))]
    assert "hashing none" in header and "sha256" not in header and "complete records required" in header
    for field in ("email", "phone", "first name", "last name", "country", "zip"):
        assert f"<li>{field}</li>" in header
    assert "email or phone" not in header
    marked = _row_of(page, manual.id)
    assert 'class="override"' in marked
    assert "one-off: hashing sha256 (audience file: none)" in marked
    assert "one-off: require complete no (audience file: yes)" in marked
    assert 'class="override"' not in _row_of(page, scheduled.id)
    assert len(loads) == 1, "the audience files are read once per request"

    listing = client.get("/").text
    assert "one-off: hashing sha256 (audience file: none)" in _row_of(listing, manual.id)
    assert len(loads) == 2


def test_an_audience_without_its_file_says_so_and_shows_its_newest_export(store, make_client, tokens):
    add_export(store, "gone", hashing="sha256", filters={"require_complete": False})
    page = make_client(store, tokens["viewer"], audiences=lambda: []).get("/audiences/sna_gone").text
    assert "No audience file defines gone" in page
    assert "hashing sha256" in page and "email or phone (at least one)" in page


def test_the_pages_say_that_a_later_run_of_the_same_day_replaces_an_export(store, make_client, tokens):
    add_export(store, "newsletter_fr")
    client = make_client(store, tokens["admin"])
    for url in ("/", "/audiences/sna_newsletter_fr"):
        assert "a later run of the same reference date replaces it" in client.get(url).text, url


def test_a_notice_is_dropped_from_the_address_once_shown_by_a_script_the_policy_allows(store, make_client, tokens):
    add_export(store, "newsletter_fr")
    client = make_client(store, tokens["admin"])
    page = client.get("/?notice=deleted")
    assert "was deleted" in page.text
    scripts = re.findall(r"<script[^>]*>", page.text)
    assert scripts == ['<script src="/static/sna.js" defer>'], "no inline script: the policy forbids them"
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    script = client.get("/static/sna.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert "history.replaceState" in script.text and '"notice"' in script.text


def add_dry_run(store, audience: str = "newsletter_fr", day: int = 0, **fields):
    from datetime import UTC, date, datetime, timedelta

    from sna.registry.dry_runs import DryRun

    reference = date(2024, 1, 1) + timedelta(days=day)
    values = {"id": f"dry-{audience.replace('/', '-')}-{day}", "run_key": f"{audience}/{reference.isoformat()}",
              "audience": audience, "platform": "google", "hashing": "none",
              "filters": {"require_complete": True}, "reference_date": reference,
              "created_at": datetime(2024, 1, 1, 7, tzinfo=UTC) + timedelta(days=day), "scanned": 4978, "rows": 154,
              "excluded": {"filtered_group": 4800, "missing_phone": 24}, "warnings": [], "dag_run_id": "manual__x"}
    values.update(fields)
    dry_run = DryRun(**values)
    store.registry.dry_runs.record(dry_run)
    return dry_run


def test_dry_runs_are_shown_marked_no_file_with_their_counts(store, make_client, tokens):
    add_export(store, "newsletter_fr")
    dry = add_dry_run(store, "newsletter_fr", day=3, hashing="sha256")
    client = make_client(store, tokens["admin"])
    for url in ("/", "/audiences/sna_newsletter_fr"):
        page = client.get(url).text
        start = page.index(f'data-dry-run-id="{dry.id}"')
        row = page[start:page.index("</tr>", start)]
        assert "dry run: no file" in row and ">154<" in row and ">4978<" in row and "2024-01-04" in row
        assert "not in the chosen customer groups (filtered_group): 4800" in row
        assert "/download" not in row and "delete" not in row


def test_dry_runs_are_shown_only_to_readers_of_their_audience(store, make_client, tokens, secret_audience_hidden):
    add_export(store, "public")
    add_export(store, "secret")
    add_dry_run(store, "public")
    hidden = add_dry_run(store, "secret")
    adhoc = add_dry_run(store, "adhoc_export/fr_vip")
    viewer = make_client(store, tokens["viewer"])
    listing = viewer.get("/").text
    assert "dry-public-0" in listing and hidden.id not in listing and adhoc.id in listing
    assert adhoc.id in viewer.get("/audiences/sna_adhoc_export?name=fr_vip").text
    assert hidden.id not in viewer.get("/?audience=secret").text


def test_hostile_values_in_the_new_parts_are_escaped(store, make_client, tokens):
    from sna.registry import Delivery

    hostile = '<script>alert("x")</script>'
    add_export(store, "evil", hashing=hostile, delivery=Delivery(status=hostile, destination=hostile),
               filters={"require_complete": hostile}, excluded={hostile: 2})
    add_dry_run(store, "evil", day=1, hashing=hostile, filters={hostile: hostile}, excluded={hostile: 1})
    client = make_client(store, tokens["admin"])
    for url in ("/", "/audiences/sna_evil", f"/audiences/sna_evil/runs/{hostile}"):
        page = client.get(url)
        assert "<script>alert" not in page.text, url
