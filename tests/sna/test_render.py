"""The file rules and the sha256 mode of docs/formats.md ("The file", "Hashing")."""

from __future__ import annotations

import csv
import hashlib
import io

import pandas as pd
import pytest

from sna.errors import DataContractError
from sna.normalize import GoogleProfile, MetaProfile, profile_for
from sna.render import CsvRenderer, sha256_hex
from tests.sna.normalize.rawframe import CaseTable

CUSTOMERS = CaseTable(
    [
        {},
        {
            "email": "Jane.Doe+Shopping@GMAIL.com",
            "firstname": "Élodie",
            "lastname": "D'Angelo",
            "phone_mobile": "+33 (0)6 98 76 54 32",
            "city": "Saint-Étienne",
            "postcode": "F-42000",
            "gender_type": 0.0,
        },
        {
            "email": "bob@example.org",
            "postcode": "750",
            "birthday": None,
            "phone": "(650) 253-0000",
            "country": "US",
            "zip_code_format": "NNNNN",
            "state": "CA",
            "total_spent": 0.0,
        },
    ]
)


def output(platform: str, *, with_value: bool = False) -> pd.DataFrame:
    return profile_for(platform).output_frame(
        CUSTOMERS.frame(platform), require_complete=False, with_value=with_value
    )


def render(
    platform: str, frames: list[pd.DataFrame], *, hashing: str = "none", with_value: bool = False
) -> bytes:
    buffer = io.BytesIO()
    renderer = CsvRenderer(buffer, profile_for(platform), hashing=hashing, with_value=with_value)
    renderer.write_header()
    for frame in frames:
        renderer.write(frame)
    return buffer.getvalue()


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@pytest.mark.parametrize(
    ("platform", "with_value", "header"),
    [
        ("google", False, b"Email,Phone,First Name,Last Name,Country,Zip\n"),
        ("meta", False, b"email,phone,fn,ln,zip,ct,st,country,dob,doby,gen,age\n"),
        ("meta", True, b"email,phone,fn,ln,zip,ct,st,country,dob,doby,gen,age,value\n"),
    ],
)
def test_header_only_file(platform, with_value, header):
    assert render(platform, [], with_value=with_value) == header


@pytest.mark.parametrize("hashing", ["none", "sha256"])
@pytest.mark.parametrize("platform", ["google", "meta"])
def test_file_rules(platform, hashing):
    content = render(platform, [output(platform)], hashing=hashing)
    assert not content.startswith(b"\xef\xbb\xbf")
    assert b"\r" not in content
    assert content.endswith(b"\n") and not content.endswith(b"\n\n")
    assert content.count(b"\n") == 1 + 3
    content.decode("utf-8")  # raises if not UTF-8


def test_clear_google_file_content():
    text = render("google", [output("google")]).decode("utf-8")
    assert text == (
        "Email,Phone,First Name,Last Name,Country,Zip\n"
        "john.doe@example.com,+33612345678,john,doe,FR,75001\n"
        "janedoe@gmail.com,+33698765432,élodie,d'angelo,FR,42000\n"
        "bob@example.org,+16502530000,,,,\n"
    )


def test_clear_meta_file_content_with_value():
    text = render("meta", [output("meta", with_value=True)], with_value=True).decode("utf-8")
    assert text.splitlines() == [
        "email,phone,fn,ln,zip,ct,st,country,dob,doby,gen,age,value",
        "john.doe@example.com,33612345678,john,doe,75001,paris,,fr,19850615,1985,f,41,12.50",
        "jane.doe+shopping@gmail.com,33698765432,élodie,dangelo,42000,saintetienne,,fr,19850615,1985,m,41,12.50",
        "bob@example.org,16502530000,john,doe,,paris,ca,us,,,f,,0.00",
    ]


def test_minimal_quoting_and_parse_back():
    cells = [
        ["a,b", 'say "hi"', "d'angelo", "", "plain", "é"],
        ["", "", "", "", "", ""],
    ]
    frame = pd.DataFrame(cells, columns=list(GoogleProfile.header))
    content = render("google", [frame]).decode("utf-8")
    assert content.splitlines()[1] == '"a,b","say ""hi""",d\'angelo,,plain,é'
    assert content.splitlines()[2] == ",,,,,"
    parsed = list(csv.reader(io.StringIO(content, newline="")))
    assert parsed == [list(GoogleProfile.header), *cells]


@pytest.mark.parametrize("platform", ["google", "meta"])
def test_sha256_cells_are_the_hash_of_the_clear_cells(platform):
    profile = profile_for(platform)
    clear_rows = list(csv.DictReader(io.StringIO(render(platform, [output(platform)]).decode("utf-8"))))
    hashed_rows = list(
        csv.DictReader(io.StringIO(render(platform, [output(platform)], hashing="sha256").decode()))
    )
    assert len(clear_rows) == len(hashed_rows) == 3
    empty_seen = False
    for clear, hashed in zip(clear_rows, hashed_rows, strict=True):
        for column in profile.header:
            if column not in profile.hashed_columns:
                assert hashed[column] == clear[column]
            elif clear[column] == "":
                empty_seen = True
                assert hashed[column] == ""
            else:
                assert hashed[column] == sha256(clear[column])
                assert len(hashed[column]) == 64 and hashed[column] == hashed[column].lower()
    assert empty_seen


def test_unhashed_columns_stay_clear_in_sha256_mode():
    google = list(
        csv.DictReader(io.StringIO(render("google", [output("google")], hashing="sha256").decode()))
    )
    assert (google[0]["Country"], google[0]["Zip"]) == ("FR", "75001")
    meta_text = render("meta", [output("meta", with_value=True)], hashing="sha256", with_value=True).decode()
    meta = list(csv.DictReader(io.StringIO(meta_text)))
    assert (meta[0]["age"], meta[0]["value"]) == ("41", "12.50")
    assert meta[0]["country"] == "67ad8f41a7bb0a18c45f3efd8f6a32bdcd832bcf8f3f2eb44006c03d53076e18"


def test_sha256_hex_matches_the_spec_examples():
    hashed = sha256_hex(pd.Series(["john.doe@example.com", "", None, "+33612345678"], dtype="str"))
    assert list(hashed) == [
        "836f82db99121b3481011f16b49dfa5fbc714a0d1b1b9f784a1ebbbf5b39577f",
        "",
        "",
        "42d573cfc315801d4cd8eddd5416b416a0bf298b9b9e12d6b07442c91db42bd8",
    ]


def test_chunks_are_appended_and_counted():
    buffer = io.BytesIO()
    renderer = CsvRenderer(buffer, MetaProfile())
    renderer.write_header()
    first = output("meta")
    assert renderer.write(first.iloc[:2]) == 2
    assert renderer.write(first.iloc[2:]) == 1
    assert renderer.write(first.iloc[0:0]) == 0
    renderer.write_header()  # a second call writes nothing
    assert renderer.rows == 3
    assert buffer.getvalue() == render("meta", [first])


def test_rows_with_other_columns_are_refused():
    frame = output("meta")
    with pytest.raises(DataContractError):
        CsvRenderer(io.BytesIO(), MetaProfile(), with_value=True).write(frame)
    with pytest.raises(DataContractError):
        CsvRenderer(io.BytesIO(), MetaProfile()).write(frame[list(reversed(frame.columns))])


def test_control_characters_are_refused():
    frame = pd.DataFrame([["a\x00b", "", "", "", "", ""]], columns=list(GoogleProfile.header))
    with pytest.raises(DataContractError, match="Email"):
        CsvRenderer(io.BytesIO(), GoogleProfile()).write(frame)


def test_unknown_hashing_mode():
    with pytest.raises(ValueError, match="md5"):
        CsvRenderer(io.BytesIO(), GoogleProfile(), hashing="md5")
