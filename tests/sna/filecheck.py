"""Reads an exported file back and checks every cell against docs/formats.md (file, columns, validity)."""

from __future__ import annotations

import csv
import io
import re
import unicodedata

GOOGLE_HEADER = ["Email", "Phone", "First Name", "Last Name", "Country", "Zip"]
META_HEADER = ["email", "phone", "fn", "ln", "zip", "ct", "st", "country", "dob", "doby", "gen", "age"]
SHA256 = re.compile(r"^[0-9a-f]{64}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
FORMULA_START = ("=", "+", "-", "@")
GOOGLE_PHONE = re.compile(r"^\+[0-9]+$")  # E.164 starts with "+" by the spec: the one leading "+" allowed

GOOGLE_CELLS = {
    "Email": EMAIL,
    "Phone": re.compile(r"^\+[1-9][0-9]{6,14}$"),
    "First Name": re.compile(r"^[^\W\d_][^\d_=@+]*$"),
    "Last Name": re.compile(r"^[^\W\d_][^\d_=@+]*$"),
    "Country": re.compile(r"^[A-Z]{2}$"),
    "Zip": re.compile(r"^[0-9A-Z][0-9A-Z -]*$"),
}
META_CELLS = {
    "email": EMAIL,
    "phone": re.compile(r"^[1-9][0-9]{6,14}$"),
    "fn": re.compile(r"^[^\W\d_]+$"),
    "ln": re.compile(r"^[^\W\d_]+$"),
    "zip": re.compile(r"^[0-9a-z-]+$"),
    "ct": re.compile(r"^[a-z]+$"),
    "st": re.compile(r"^[a-z0-9]*$"),
    "country": re.compile(r"^[a-z]{2}$"),
    "dob": re.compile(r"^(19|20)[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])$"),
    "doby": re.compile(r"^(19|20)[0-9]{2}$"),
    "gen": re.compile(r"^[fm]?$"),
    "age": re.compile(r"^(1[3-9]|[2-9][0-9]|1[01][0-9]|120)$"),
    "value": re.compile(r"^[0-9]+\.[0-9]{2}$"),
}
GOOGLE_HASHED = {"Email", "Phone", "First Name", "Last Name"}
META_UNHASHED = {"age", "value"}


def read_rows(content: bytes) -> tuple[list[str], list[list[str]]]:
    """Header and rows; asserts the file rules ("The file" in docs/formats.md) on the way."""
    assert not content.startswith(b"\xef\xbb\xbf"), "BOM"
    assert b"\r" not in content, "CRLF"
    assert content.endswith(b"\n") and not content.endswith(b"\n\n"), "trailing empty line"
    text = content.decode("utf-8")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    return rows[0], rows[1:]


def _known_letters(cell: str) -> str:
    """The cell with the characters Python's Unicode database does not know yet (category Cn) read as
    a letter: the engine's regular expressions (RE2 in pyarrow) use a newer Unicode, where some of
    them are letters (U+31350-U+323AF, CJK Extension H, is Unicode 15; Python 3.11 has 14)."""
    return "".join("a" if unicodedata.category(char) == "Cn" else char for char in cell)


def check_cells(
    platform: str, hashing: str, header: list[str], rows: list[list[str]], required: bool = True
) -> None:
    patterns = GOOGLE_CELLS if platform == "google" else META_CELLS
    hashed = GOOGLE_HASHED if platform == "google" else set(header) - META_UNHASHED
    for row in rows:
        assert len(row) == len(header)
        for name, cell in zip(header, row, strict=True):
            if cell == "":
                assert not (required and name in ("Email", "Phone", "email", "phone")), name
                continue
            if hashing == "sha256" and name in hashed:
                assert SHA256.match(cell), name
            else:
                assert patterns[name].match(_known_letters(cell)), (name, "cell does not match the spec")
    assert_no_formula_cell(platform, header, rows)


def starts_a_formula(platform: str, column: str, cell: str) -> bool:
    """Whether a spreadsheet would read the cell as a formula: every column counts, except Google's
    phone column when it holds `+` and digits (E.164, as the spec requires). Hashed cells are hex."""
    if platform == "google" and column == "Phone" and GOOGLE_PHONE.match(cell):
        return False
    return cell.startswith(FORMULA_START)


def assert_no_formula_cell(platform: str, header: list[str], rows: list[list[str]]) -> None:
    for row in rows:
        for name, cell in zip(header, row, strict=True):
            assert not starts_a_formula(platform, name, cell), f"{name} cell starts a spreadsheet formula"
