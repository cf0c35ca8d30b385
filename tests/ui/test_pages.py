"""The page as a new user meets it (issue "What a new user trips over"): what it says and offers."""

from __future__ import annotations

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
