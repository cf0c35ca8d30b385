"""Reads an exported file back and checks every cell against platform-formats.md (§2-§5)."""

from __future__ import annotations

import csv
import io
import re

GOOGLE_HEADER = ["Email", "Phone", "First Name", "Last Name", "Country", "Zip"]
META_HEADER = ["email", "phone", "fn", "ln", "zip", "ct", "st", "country", "dob", "doby", "gen", "age"]
SHA256 = re.compile(r"^[0-9a-f]{64}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
FORMULA_START = ("=", "+", "-", "@")

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
    """Header and rows; asserts the file rules of §2 on the way."""
    assert not content.startswith(b"\xef\xbb\xbf"), "BOM"
    assert b"\r" not in content, "CRLF"
    assert content.endswith(b"\n") and not content.endswith(b"\n\n"), "trailing empty line"
    text = content.decode("utf-8")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    return rows[0], rows[1:]


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
                assert patterns[name].match(cell), (name, "cell does not match the spec")
            if name in ("First Name", "Last Name", "fn", "ln", "ct"):
                assert not cell.startswith(FORMULA_START)
