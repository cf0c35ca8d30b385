"""The profiles' contract with the pipeline: headers, output frames, row rules, optional Meta columns."""

from __future__ import annotations

import pandas as pd
import pytest

from sna.errors import DataContractError
from sna.normalize import FIELDS, GoogleProfile, MetaProfile, profile_for
from tests.sna.normalize.rawframe import NO_ADDRESS, REFERENCE_DATE, CaseTable, clear, raw_frame


def test_headers_are_exactly_the_spec_headers():
    assert ",".join(GoogleProfile.header) == "Email,Phone,First Name,Last Name,Country,Zip"
    assert ",".join(MetaProfile.header) == "email,phone,fn,ln,zip,ct,st,country,dob,doby,gen,age"
    assert ",".join(MetaProfile().file_header(with_value=True)).endswith(",age,value")


def test_hashed_columns_per_platform():
    assert GoogleProfile.hashed_columns == {"Email", "Phone", "First Name", "Last Name"}
    assert MetaProfile.hashed_columns == {
        "email",
        "phone",
        "fn",
        "ln",
        "zip",
        "ct",
        "st",
        "country",
        "dob",
        "doby",
        "gen",
    }


def test_required_fields_follow_the_reason_order():
    assert GoogleProfile.required_fields == ("email", "phone", "first_name", "last_name", "country", "zip")
    assert MetaProfile.required_fields == (
        "email",
        "phone",
        "first_name",
        "last_name",
        "zip",
        "city",
        "country",
        "birthday",
    )


def test_profile_for():
    assert isinstance(profile_for("google"), GoogleProfile)
    assert isinstance(profile_for("meta"), MetaProfile)
    with pytest.raises(ValueError, match="tiktok"):
        profile_for("tiktok")


def test_normalize_keeps_the_index_and_gives_every_status():
    raw = raw_frame({}, {"email": "bad"}, start_index=500)
    for platform in ("google", "meta"):
        normalized = profile_for(platform).normalize(raw, REFERENCE_DATE)
        assert list(normalized.index) == [500, 501]
        assert {f"status_{field}" for field in FIELDS} <= set(normalized.columns)
        assert list(normalized["status_email"]) == ["ok", "invalid"]


def test_normalize_handles_an_empty_chunk():
    raw = raw_frame({}).iloc[0:0]
    for platform in ("google", "meta"):
        profile = profile_for(platform)
        normalized = profile.normalize(raw, REFERENCE_DATE)
        assert len(normalized) == 0
        assert list(
            profile.output_frame(normalized, require_complete=True, with_value=False).columns
        ) == list(profile.header)


# --- Google address rule ------------------------------------------------------------------------

ADDRESS_CASES = [
    ({}, ("john", "doe", "FR", "75001")),
    ({"postcode": "7500"}, ("", "", "", "")),
    ({"lastname": "-"}, ("", "", "", "")),
    ({"firstname": None}, ("", "", "", "")),
    ({"country": "FRA"}, ("", "", "", "")),
    (NO_ADDRESS, ("", "", "", "")),
]
ADDRESS_TABLE = CaseTable([customer for customer, _ in ADDRESS_CASES])


@pytest.mark.parametrize(("customer", "address"), ADDRESS_CASES)
def test_google_address_cells_are_all_four_or_none(customer, address):
    profile = GoogleProfile()
    output = profile.output_frame(ADDRESS_TABLE.frame("google"), require_complete=False, with_value=False)
    row = output.iloc[ADDRESS_TABLE.customers.index(customer)]
    assert tuple(row[["First Name", "Last Name", "Country", "Zip"]]) == address


def test_google_partial_row_keeps_its_identifiers():
    table = CaseTable([{"postcode": "7500"}])
    output = GoogleProfile().output_frame(table.frame("google"), require_complete=False, with_value=False)
    assert list(output.iloc[0]) == ["john.doe@example.com", "+33612345678", "", "", "", ""]


def test_require_complete_refuses_an_incomplete_row():
    table = CaseTable([{}, {"phone": "0611111111"}])
    for platform in ("google", "meta"):
        profile = profile_for(platform)
        normalized = table.frame(platform)
        with pytest.raises(DataContractError, match="1 rows"):
            profile.output_frame(normalized, require_complete=True, with_value=False)
        complete = profile.output_frame(normalized.iloc[:1], require_complete=True, with_value=False)
        assert len(complete) == 1


def test_invalid_values_are_never_written_and_empty_cells_are_empty_strings():
    customer = {"email": "a@b", "birthday": "2099-01-01", "city": "75001", "phone": "0102030405"}
    table = CaseTable([customer])
    output = MetaProfile().output_frame(table.frame("meta"), require_complete=False, with_value=True)
    row = output.iloc[0]
    assert output.isna().sum().sum() == 0
    assert [row[c] for c in ("email", "phone", "ct", "dob", "doby", "age")] == ["", "", "", "", "", ""]
    assert [row[c] for c in ("fn", "ln", "zip", "country", "gen", "value")] == [
        "john",
        "doe",
        "75001",
        "fr",
        "f",
        "12.50",
    ]


def test_meta_output_columns_with_and_without_value():
    table = CaseTable([{}])
    normalized = table.frame("meta")
    without = MetaProfile().output_frame(normalized, require_complete=True, with_value=False)
    with_value = MetaProfile().output_frame(normalized, require_complete=True, with_value=True)
    assert list(without.iloc[0]) == [
        "john.doe@example.com",
        "33612345678",
        "john",
        "doe",
        "75001",
        "paris",
        "",
        "fr",
        "19850615",
        "1985",
        "f",
        "41",
    ]
    assert list(with_value.columns) == [*MetaProfile.header, "value"]
    assert with_value.iloc[0]["value"] == "12.50"


def test_google_has_no_value_column():
    normalized = CaseTable([{}]).frame("google")
    with pytest.raises(ValueError, match="value"):
        GoogleProfile().output_frame(normalized, require_complete=True, with_value=True)


# --- optional Meta columns ----------------------------------------------------------------------

GENDERS = [(1.0, "f"), (0.0, "m"), (2.0, None), (float("nan"), None)]
GENDER_TABLE = CaseTable([{"gender_type": gender_type} for gender_type, _ in GENDERS])


@pytest.mark.parametrize(("gender_type", "gen"), GENDERS)
def test_meta_gen(gender_type, gen):
    assert clear(GENDER_TABLE.row("meta", {"gender_type": gender_type})["gen"]) == gen


STATES = [
    ("US", "CA", "94043", "ca"),
    ("US", " ny ", "10001", "ny"),
    ("US", "CAL", "94043", None),
    ("US", None, "94043", None),
    ("IT", "AG", "92100", "ag"),
    ("ES", "ES-M", "28001", "esm"),
    ("FR", None, "75001", None),
]
STATE_TABLE = CaseTable(
    [{"country": country, "state": state, "postcode": postcode} for country, state, postcode, _ in STATES]
)


@pytest.mark.parametrize(("country", "state", "postcode", "st"), STATES)
def test_meta_st(country, state, postcode, st):
    row = STATE_TABLE.row("meta", {"country": country, "state": state, "postcode": postcode})
    assert clear(row["st"]) == st


VALUES = [(12.5, "12.50"), (0.0, "0.00"), (1234.567, "1234.57"), (1e7, "10000000.00"), (0.005, "0.01")]
VALUE_TABLE = CaseTable([{"total_spent": total} for total, _ in VALUES])


@pytest.mark.parametrize(("total_spent", "value"), VALUES)
def test_meta_value(total_spent, value):
    assert VALUE_TABLE.row("meta", {"total_spent": total_spent})["value"] == value


def test_no_cell_starts_a_formula_or_holds_a_control_character():
    hostile = {
        "firstname": "=cmd|' /C calc'!A0",
        "lastname": "+\x07Doe\t",
        "city": "@SUM(1)\x00",
        "postcode": "=1+2",
        "state": "=st",
    }
    table = CaseTable([hostile])
    for platform in ("google", "meta"):
        output = profile_for(platform).output_frame(
            table.frame(platform), require_complete=False, with_value=False
        )
        cells = [cell for cell in output.iloc[0] if cell]
        assert cells
        assert not any(cell[0] in "=+-@" and not cell[1:].isdigit() for cell in cells)
        assert not any(ord(ch) < 32 or ord(ch) == 127 for cell in cells for ch in cell)


def test_output_frame_is_text():
    output = MetaProfile().output_frame(CaseTable([{}]).frame("meta"), require_complete=True, with_value=True)
    assert all(isinstance(cell, str) for cell in output.iloc[0])
    assert pd.api.types.is_string_dtype(output["age"])
