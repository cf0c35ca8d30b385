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
