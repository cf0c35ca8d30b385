"""Postcodes (docs/formats.md, "Postcodes"): prefix, layout, US and UK rules, the shop's zip_code_format."""

from __future__ import annotations

import pytest

from tests.sna.normalize.rawframe import CaseTable, clear

# (raw postcode, country, zip_code_format, Google Zip, Meta zip, status)
ZIPS = [
    ("75001", "FR", "NNNNN", "75001", "75001", "ok"),
    (" 75 016", "FR", "NNNNN", "75016", "75016", "ok"),
    ("75016 ", "FR", "NNNNN", "75016", "75016", "ok"),
    ("F-75001", "FR", "NNNNN", "75001", "75001", "ok"),
    ("f - 75001", "FR", "NNNNN", "75001", "75001", "ok"),
    ("F 75001", "FR", "NNNNN", "75001", "75001", "ok"),
    ("FR-75001", "FR", "NNNNN", "75001", "75001", "ok"),
    ("\uff17\uff15\uff10\uff10\uff11", "FR", "NNNNN", "75001", "75001", "ok"),  # full-width digits
    ("B-1000", "BE", "NNNN", "1000", "1000", "ok"),
    ("CH-8001", "CH", "NNNN", "8001", "8001", "ok"),
    ("D-10115", "DE", "NNNNN", "10115", "10115", "ok"),
    ("L-1234", "LU", "NNNN", "1234", "1234", "ok"),
    ("I-00184", "IT", "NNNNN", "00184", "00184", "ok"),
    ("E-28001", "ES", "NNNNN", "28001", "28001", "ok"),
    ("B-1000", "FR", "NNNNN", None, None, "invalid"),  # another country's prefix is not dropped
    ("F-", "FR", "NNNNN", None, None, "invalid"),
    ("7500", "FR", "NNNNN", None, None, "invalid"),
    ("750011", "FR", "NNNNN", None, None, "invalid"),
    ("75OO1", "FR", "NNNNN", None, None, "invalid"),
    ("00000", "FR", "NNNNN", None, None, "invalid"),
    ("0000", "BE", "NNNN", None, None, "invalid"),
    ("", "FR", "NNNNN", None, None, "missing"),
    ("  ", "FR", "NNNNN", None, None, "missing"),
    (None, "FR", "NNNNN", None, None, "missing"),
    # United States: ZIP+4, lost leading zero, Meta keeps 5 digits
    ("94043-1351", "US", "NNNNN", "94043-1351", "94043", "ok"),
    ("94043 1351", "US", "NNNNN", "94043-1351", "94043", "ok"),
    ("940431351", "US", "NNNNN", "94043-1351", "94043", "ok"),
    ("2134", "US", "NNNNN", "02134", "02134", "ok"),
    ("2134-1234", "US", "NNNNN", "02134-1234", "02134", "ok"),
    ("94043", "US", "", "94043", "94043", "ok"),
    ("94043-13", "US", "NNNNN", None, None, "invalid"),
    ("943", "US", "NNNNN", None, None, "invalid"),
    ("00000", "US", "NNNNN", None, None, "invalid"),
    ("US-94043", "US", "NNNNN", "94043", "94043", "ok"),
    # United Kingdom (no format in the shop): single space kept for Google, none for Meta
    ("sw1a 1aa", "GB", "", "SW1A 1AA", "sw1a1aa", "ok"),
    ("SW1A  1AA ", "GB", "", "SW1A 1AA", "sw1a1aa", "ok"),
    ("SW1A1AA", "GB", "", "SW1A1AA", "sw1a1aa", "ok"),
    ("B1 1AA", "GB", "", "B1 1AA", "b11aa", "ok"),
    ("=1+2", "GB", "", None, None, "invalid"),  # characters no postcode has
    ("-SW1A", "GB", "", None, None, "invalid"),
    # formats with a separator: written in the format's layout
    ("1234ab", "NL", "NNNN LL", "1234 AB", "1234ab", "ok"),
    ("1234 AB", "NL", "NNNN LL", "1234 AB", "1234ab", "ok"),
    ("NL-1234 AB", "NL", "NNNN LL", "1234 AB", "1234ab", "ok"),
    ("1234", "NL", "NNNN LL", None, None, "invalid"),
    ("1000-001", "PT", "NNNN-NNN", "1000-001", "1000-001", "ok"),
    ("1000001", "PT", "NNNN-NNN", "1000-001", "1000-001", "ok"),
    ("h2x1y4", "CA", "LNL NLN", "H2X 1Y4", "h2x1y4", "ok"),
    # a format with the ISO code
    ("AD500", "AD", "CNNN", "AD500", "ad500", "ok"),
    ("ad 500", "AD", "CNNN", "AD500", "ad500", "ok"),
    ("500", "AD", "CNNN", None, None, "invalid"),
    # no country: no prefix, no format, only the generic rules
    ("75001", None, None, "75001", "75001", "ok"),
]
ZIP_TABLE = CaseTable(
    [{"postcode": raw, "country": country, "zip_code_format": layout} for raw, country, layout, *_ in ZIPS]
)


@pytest.mark.parametrize(("raw", "country", "layout", "google", "meta", "status"), ZIPS)
def test_zip(raw, country, layout, google, meta, status):
    customer = {"postcode": raw, "country": country, "zip_code_format": layout}
    google_row = ZIP_TABLE.row("google", customer)
    meta_row = ZIP_TABLE.row("meta", customer)
    assert clear(google_row["Zip"]) == google
    assert clear(meta_row["zip"]) == meta
    assert google_row["status_zip"] == meta_row["status_zip"] == status
