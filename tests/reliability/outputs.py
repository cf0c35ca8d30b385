"""Checks of one export's outcome shared by the hostile-data tests: counts, cells, parse-back."""

from __future__ import annotations

import csv
import hashlib

import pandas as pd

from tests.sna import filecheck
from tests.sna.filecheck import GOOGLE_HASHED, META_UNHASHED, assert_no_formula_cell, check_cells


def read_rows(content: bytes) -> tuple[list[str], list[list[str]]]:
    """`filecheck.read_rows`, with room for the megabyte cells hostile data can make valid."""
    csv.field_size_limit(max(csv.field_size_limit(), 1 << 26))
    return filecheck.read_rows(content)


def hashed_columns(platform: str, header: list[str]) -> set[str]:
    return set(GOOGLE_HASHED) if platform == "google" else set(header) - META_UNHASHED


def expected_rows(platform: str, hashing: str, output: pd.DataFrame) -> list[list[str]]:
    """The rows the renderer was given, as the file must hold them (hashed where the mode says)."""
    header = list(output.columns)
    hashed = hashed_columns(platform, header) if hashing == "sha256" else set()
    rows = []
    for values in output.astype("str").fillna("").itertuples(index=False, name=None):
        rows.append([
            hashlib.sha256(cell.encode("utf-8")).hexdigest() if name in hashed and cell else cell
            for name, cell in zip(header, values, strict=True)
        ])
    return rows


def check_file(platform: str, hashing: str, content: bytes, output: pd.DataFrame, *, required: bool) -> int:
    """The file follows the spec cell by cell and parses back to exactly the rows written; returns
    the number of cells checked."""
    header, rows = read_rows(content)
    assert header == list(output.columns)
    assert len(rows) == len(output)
    check_cells(platform, hashing, header, rows, required=required)
    assert rows == expected_rows(platform, hashing, output), "the file does not parse back to the rows written"
    assert_no_formula_cell(platform, header, rows)  # every cell of every column (check_cells does too)
    emails = [row[0] for row in rows if row[0]]
    assert len(emails) == len(set(emails)), "duplicate e-mail in one file"
    return len(rows) * len(header)
