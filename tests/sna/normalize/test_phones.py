"""Phone parsing (docs/formats.md, "Phones"): E.164 with the address country as default region, dummies refused,
the mobile preferred when valid."""

from __future__ import annotations

import pandas as pd
import pytest

from sna.normalize import parse_phones
from sna.normalize.phones import is_dummy_number
from tests.sna.normalize.rawframe import NO_ADDRESS, CaseTable, clear

# (raw phone, address country, E.164 or None when invalid)
NUMBERS = [
    # France
    ("06 12 34 56 78", "FR", "+33612345678"),
    ("06.12.34.56.78", "FR", "+33612345678"),
    ("06/12/34/56/78", "FR", "+33612345678"),
    ("+33 (0)6 12 34 56 78", "FR", "+33612345678"),
    ("0033 6 12 34 56 78", "FR", "+33612345678"),
    ("+33612345678", "fr", "+33612345678"),
    ("04.72.00.00.00", "FR", "+33472000000"),
    # Belgium
    ("02 511 12 34", "BE", "+3225111234"),
    ("02/511.12.34", "BE", "+3225111234"),
    ("0470/12.34.56", "BE", "+32470123456"),
    ("+32 (0)470/12.34.56", "BE", "+32470123456"),
    ("0032 470 12 34 56", "BE", "+32470123456"),
    # Switzerland
    ("044 668 18 00", "CH", "+41446681800"),
    ("+41 (0)44 668 18 00", "CH", "+41446681800"),
    ("079/123.45.67", "CH", "+41791234567"),
    ("0041 79 123 45 67", "CH", "+41791234567"),
    # Germany
    ("030/1234567", "DE", "+49301234567"),
    ("0049 (0)30 1234567", "DE", "+49301234567"),
    ("0151 23456789", "DE", "+4915123456789"),
    ("+49 151 23456789", "DE", "+4915123456789"),
    # Spain
    ("612.34.56.78", "ES", "+34612345678"),
    ("0034 912 345 678", "ES", "+34912345678"),
    ("+34 612 34 56 78", "ES", "+34612345678"),
    # Italy: the leading zero of landlines is part of the number
    ("06 1234 5678", "IT", "+390612345678"),
    ("+39 06 1234 5678", "IT", "+390612345678"),
    ("333/1234567", "IT", "+393331234567"),
    ("0039 333 123 4567", "IT", "+393331234567"),
    # United Kingdom
    ("020 7946 0958", "GB", "+442079460958"),
    ("+44 (0)7911 123456", "GB", "+447911123456"),
    ("0044 7911 123456", "GB", "+447911123456"),
    ("07911/123456", "GB", "+447911123456"),
    # United States
    ("(650) 253-0000", "US", "+16502530000"),
    ("650.253.0000", "US", "+16502530000"),
    ("650/253/0000", "US", "+16502530000"),
    ("+1 (650) 253-0000", "US", "+16502530000"),
    ("1-650-253-0000", "US", "+16502530000"),
    ("011 33 6 12 34 56 78", "US", "+33612345678"),  # US international prefix
    # the default region is the address country, whatever the number looks like
    ("+33 6 12 34 56 78", "DE", "+33612345678"),
    ("06 12 34 56 78", "BE", None),
    ("06 12 34 56 78", None, None),  # no address country, no international prefix
    ("+1 650 253 0000", None, "+16502530000"),
    # invalid numbers and junk
    ("+1 555 555 5555", "US", None),
    ("06 12 34", "FR", None),
    ("abc", "FR", None),
    ("0" * 300, "FR", None),
    # dummy numbers (docs/formats.md, "Phones") that the library accepts
    ("0611111111", "FR", None),
    ("06 11 11 11 11", "FR", None),
    ("07 77 77 77 77", "FR", None),
    ("+33 6 00 00 00 00", "FR", None),
    ("0102030405", "FR", None),
    ("01 23 45 67 89", "FR", None),
    ("0000000000", "FR", None),
    ("079 999 99 99", "CH", None),
]


@pytest.mark.parametrize(("raw", "country", "e164"), NUMBERS)
def test_phone_number(raw, country, e164):
    index = pd.Index([7])
    result = parse_phones(
        pd.Series([raw], index=index, dtype="str"),
        pd.Series([None], index=index, dtype="str"),
        pd.Series([country], index=index, dtype="str"),
    )
    assert clear(result.loc[7, "e164"]) == e164
    assert result.loc[7, "status"] == ("ok" if e164 else "invalid")


def test_phone_number_table_parsed_as_one_chunk_gives_the_same_results():
    result = parse_phones(
        pd.Series([raw for raw, _, _ in NUMBERS], dtype="str"),
        pd.Series([None] * len(NUMBERS), dtype="str"),
        pd.Series([country for _, country, _ in NUMBERS], dtype="str"),
    )
    assert [clear(value) for value in result["e164"]] == [e164 for _, _, e164 in NUMBERS]


@pytest.mark.parametrize(
    ("phone", "mobile", "e164", "status"),
    [
        ("01 42 68 53 00", "06 12 34 56 78", "+33612345678", "ok"),  # valid mobile wins
        ("01 42 68 53 00", "0611111111", "+33142685300", "ok"),  # dummy mobile: the phone
        ("01 42 68 53 00", "n/a", "+33142685300", "ok"),
        ("06 12 34 56 78", None, "+33612345678", "ok"),  # a mobile kept in `phone`
        (None, "06 12 34 56 78", "+33612345678", "ok"),
        ("0102030405", "0611111111", None, "invalid"),
        ("", "  ", None, "missing"),
        (None, None, None, "missing"),
        ("  ", "abc", None, "invalid"),
    ],
)
def test_mobile_is_taken_when_valid_otherwise_phone(phone, mobile, e164, status):
    result = parse_phones(
        pd.Series([phone], dtype="str"), pd.Series([mobile], dtype="str"), pd.Series(["FR"], dtype="str")
    )
    assert clear(result["e164"].iloc[0]) == e164
    assert result["status"].iloc[0] == status


@pytest.mark.parametrize(
    ("national_number", "dummy"),
    [
        ("611111111", True),
        ("600000000", True),
        ("102030405", True),
        ("123456789", True),
        ("0", False),
        ("612345678", False),
        ("611111112", False),
        ("2122222222", False),
    ],
)
def test_dummy_numbers(national_number, dummy):
    assert is_dummy_number(national_number) is dummy


MOBILE_CASES = CaseTable(
    [
        {"phone": "06 12 34 56 78", "phone_mobile": None, "country": "FR"},
        {"phone": "+33 (0)6 12 34 56 78", "phone_mobile": "bad", "country": "FR"},
        {"phone": None, "phone_mobile": "+41 79 123 45 67", "country": "FR"},
    ]
)


@pytest.mark.parametrize(
    ("customer", "google", "meta"),
    [
        (MOBILE_CASES.customers[0], "+33612345678", "33612345678"),
        (MOBILE_CASES.customers[1], "+33612345678", "33612345678"),
        (MOBILE_CASES.customers[2], "+41791234567", "41791234567"),
    ],
)
def test_google_writes_the_plus_meta_does_not(customer, google, meta):
    assert MOBILE_CASES.row("google", customer)["Phone"] == google
    assert MOBILE_CASES.row("meta", customer)["phone"] == meta


def test_customer_without_address_has_a_missing_phone():
    table = CaseTable([NO_ADDRESS])
    for platform in ("google", "meta"):
        assert table.row(platform, NO_ADDRESS)["status_phone"] == "missing"
