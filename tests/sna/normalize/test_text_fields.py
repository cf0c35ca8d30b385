"""E-mails, names, cities and countries as each profile writes and judges them (docs/formats.md)."""

from __future__ import annotations

import pytest

from sna.normalize import FIELDS
from tests.sna.normalize.rawframe import CaseTable, clear

# --- e-mail -------------------------------------------------------------------------------------

EMAIL_NORMALIZATION = [
    ("Jane.Doe+Shopping@GMAIL.com", "janedoe@gmail.com", "jane.doe+shopping@gmail.com"),
    ("J.A.N.E@googlemail.com", "jane@googlemail.com", "j.a.n.e@googlemail.com"),
    ("jane.doe+promo@Example.com", "jane.doe+promo@example.com", "jane.doe+promo@example.com"),
    ("jane.doe@gmail.com.au", "jane.doe@gmail.com.au", "jane.doe@gmail.com.au"),
    ("jane.doe@mail.gmail.com", "jane.doe@mail.gmail.com", "jane.doe@mail.gmail.com"),
    ("\tJane.Doe@Gmail.Com\u00a0", "janedoe@gmail.com", "jane.doe@gmail.com"),
    ("jane.doe+a+b@gmail.com", "janedoe@gmail.com", "jane.doe+a+b@gmail.com"),
    ("o'brien@example.ie", "o'brien@example.ie", "o'brien@example.ie"),
]
EMAIL_NORMALIZATION_TABLE = CaseTable([{"email": raw} for raw, _, _ in EMAIL_NORMALIZATION])


@pytest.mark.parametrize(("raw", "google", "meta"), EMAIL_NORMALIZATION)
def test_email_normalization_per_platform(raw, google, meta):
    assert EMAIL_NORMALIZATION_TABLE.row("google", {"email": raw})["Email"] == google
    assert EMAIL_NORMALIZATION_TABLE.row("meta", {"email": raw})["email"] == meta


EMAIL_STATUS = [
    (None, "missing", "missing"),
    ("", "missing", "missing"),
    ("   ", "missing", "missing"),
    ("janedoe", "invalid", "invalid"),
    ("jane@@example.com", "invalid", "invalid"),
    ("jane@doe@example.com", "invalid", "invalid"),
    ("@example.com", "invalid", "invalid"),
    ("jane@example", "invalid", "invalid"),
    ("jane@.example.com", "invalid", "invalid"),
    ("jane@example..com", "invalid", "invalid"),
    ("jane@example.com.", "invalid", "invalid"),
    ("jane.@example.com", "invalid", "invalid"),
    ("jane,doe@example.com", "invalid", "invalid"),
    ("jane@exa_mple.com", "invalid", "invalid"),
    ("jane\x00doe@example.com", "invalid", "invalid"),
    ("jane\ndoe@example.com", "ok", "invalid"),  # Google removes all white space, Meta only trims
    ("jane doe@example.com", "ok", "invalid"),
    ("+shopping@gmail.com", "invalid", "invalid"),  # nothing left of the Gmail local part; a formula start
    # a first character that starts a spreadsheet formula (choice: refused for both platforms)
    ("=1+1@example.com", "invalid", "invalid"),
    ("+1@example.com", "invalid", "invalid"),
    ("-2+3@example.com", "invalid", "invalid"),
    ("=cmd|'/c calc'!a0@example.com", "invalid", "invalid"),
    (" =x@example.com", "invalid", "invalid"),  # trimmed first, then judged
    ("\t+x@example.com", "invalid", "invalid"),
    ("a=b+c-d@example.com", "ok", "ok"),  # only the first character matters
    ("jane-doe@example.com", "ok", "ok"),
    ("..@gmail.com", "invalid", "invalid"),
    ("jane@example.com", "ok", "ok"),
    ("a" * 64 + "@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 61, "ok", "ok"),  # 254 characters
    ("a" * 64 + "@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 62, "invalid", "invalid"),  # 255
]
EMAIL_STATUS_TABLE = CaseTable([{"email": raw} for raw, _, _ in EMAIL_STATUS])


@pytest.mark.parametrize(("raw", "google_status", "meta_status"), EMAIL_STATUS)
def test_email_status(raw, google_status, meta_status):
    google = EMAIL_STATUS_TABLE.row("google", {"email": raw})
    meta = EMAIL_STATUS_TABLE.row("meta", {"email": raw})
    assert google["status_email"] == google_status
    assert meta["status_email"] == meta_status
    assert (clear(google["Email"]) is None) == (google_status != "ok")
    assert (clear(meta["email"]) is None) == (meta_status != "ok")


def test_dedupe_email_follows_each_platform():
    table = CaseTable([{"email": "Jane.Doe+x@gmail.com"}, {"email": "janedoe@gmail.com"}, {"email": "nope"}])
    google = table.frame("google")["dedupe_email"]
    meta = table.frame("meta")["dedupe_email"]
    assert [clear(v) for v in google] == ["janedoe@gmail.com", "janedoe@gmail.com", None]
    assert [clear(v) for v in meta] == ["jane.doe+x@gmail.com", "janedoe@gmail.com", None]


# --- names --------------------------------------------------------------------------------------

NAME_NORMALIZATION = [
    (" Élodie ", "élodie", "élodie"),
    ("Jean-Pierre", "jean-pierre", "jeanpierre"),
    ("D'Angelo", "d'angelo", "dangelo"),
    ("D\u2019Angelo", "d'angelo", "dangelo"),
    ("  Marie   Claire\t ", "marie claire", "marieclaire"),
    ("Marie\u00a0Claire", "marie claire", "marieclaire"),
    ("ÉMILE", "émile", "émile"),
    ("Zoe\u0308", "zoë", "zoë"),  # decomposed ë composes under NFC
    ("Müller", "müller", "müller"),
    ("O'Neil-Smith", "o'neil-smith", "oneilsmith"),
    ("=HYPERLINK(x)", "hyperlinkx", "hyperlinkx"),
    ("-Jean", "jean", "jean"),
    ("+Anne'", "anne", "anne"),
    ("@Paul", "paul", "paul"),
    ("Jean2", "jean", "jean"),
    ("Jean . Luc", "jean luc", "jeanluc"),
    ("Anne\x00Marie", "annemarie", "annemarie"),
    ("Xavier", "xavier", "xavier"),
]
NAME_NORMALIZATION_TABLE = CaseTable(
    [{"firstname": raw, "lastname": raw} for raw, _, _ in NAME_NORMALIZATION]
)


@pytest.mark.parametrize(("raw", "google", "meta"), NAME_NORMALIZATION)
def test_name_normalization_per_platform(raw, google, meta):
    customer = {"firstname": raw, "lastname": raw}
    google_row = NAME_NORMALIZATION_TABLE.row("google", customer)
    meta_row = NAME_NORMALIZATION_TABLE.row("meta", customer)
    assert (google_row["First Name"], google_row["Last Name"]) == (google, google)
    assert (meta_row["fn"], meta_row["ln"]) == (meta, meta)
    assert google_row["status_first_name"] == meta_row["status_last_name"] == "ok"


NAME_STATUS = [
    (None, "missing"),
    ("", "missing"),
    ("   ", "missing"),
    ("-", "invalid"),
    (" . ", "invalid"),
    ("x", "invalid"),
    ("X", "invalid"),
    (" Anonymous ", "invalid"),
    ("N/A", "invalid"),
    ("TEST", "invalid"),
    ("123", "invalid"),
    ("--", "invalid"),
    ("xx", "ok"),
    ("Testa", "ok"),
    ("Ō", "ok"),
]
NAME_STATUS_TABLE = CaseTable([{"firstname": raw, "lastname": raw} for raw, _ in NAME_STATUS])


@pytest.mark.parametrize(("raw", "status"), NAME_STATUS)
def test_name_status(raw, status):
    for platform, first, last in (("google", "First Name", "Last Name"), ("meta", "fn", "ln")):
        row = NAME_STATUS_TABLE.row(platform, {"firstname": raw, "lastname": raw})
        assert row["status_first_name"] == row["status_last_name"] == status
        if status != "ok":
            assert clear(row[first]) is None and clear(row[last]) is None


# --- city (Meta ct) and country -------------------------------------------------------------------

CITIES = [
    ("Saint-Étienne", "saintetienne", "ok", "ok"),
    ("  Paris  ", "paris", "ok", "ok"),
    ("Köln", "koln", "ok", "ok"),
    ("Großenhain", "grossenhain", "ok", "ok"),
    ("L'Haÿ-les-Roses", "lhaylesroses", "ok", "ok"),
    ("Œuilly", "oeuilly", "ok", "ok"),
    ("København", "kobenhavn", "ok", "ok"),
    ("Paris 15e", "parise", "ok", "ok"),
    ("75001", None, "invalid", "invalid"),
    ("東京", None, "invalid", "ok"),  # a letter, but nothing Meta's a-z can hold
    ("", None, "missing", "missing"),
    (None, None, "missing", "missing"),
]
CITY_TABLE = CaseTable([{"city": raw} for raw, _, _, _ in CITIES])


@pytest.mark.parametrize(("raw", "ct", "meta_status", "google_status"), CITIES)
def test_city(raw, ct, meta_status, google_status):
    meta = CITY_TABLE.row("meta", {"city": raw})
    assert clear(meta["ct"]) == ct
    assert meta["status_city"] == meta_status
    assert CITY_TABLE.row("google", {"city": raw})["status_city"] == google_status


COUNTRIES = [
    ("FR", "FR", "fr", "ok"),
    (" fr ", "FR", "fr", "ok"),
    ("FRA", None, None, "invalid"),
    ("F1", None, None, "invalid"),
    ("", None, None, "missing"),
    (None, None, None, "missing"),
]
COUNTRY_TABLE = CaseTable([{"country": raw} for raw, _, _, _ in COUNTRIES])


@pytest.mark.parametrize(("raw", "google", "meta", "status"), COUNTRIES)
def test_country(raw, google, meta, status):
    google_row = COUNTRY_TABLE.row("google", {"country": raw})
    meta_row = COUNTRY_TABLE.row("meta", {"country": raw})
    assert clear(google_row["Country"]) == google
    assert clear(meta_row["country"]) == meta
    assert google_row["status_country"] == meta_row["status_country"] == status


def test_a_complete_customer_has_every_field_ok():
    table = CaseTable([{}])
    for platform in ("google", "meta"):
        row = table.row(platform, {})
        assert [row[f"status_{field}"] for field in FIELDS] == ["ok"] * len(FIELDS)
