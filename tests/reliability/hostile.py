"""Hostile customers for property-based tests: what a shop database can really hold, and worse.

Hypothesis draws, per column, a pool of values (valid ones, valid ones wrapped in hostile
characters, and pure garbage: zero-width and bidi marks, combining characters, emoji, NUL and other
control characters, SQL and CSV metacharacters, formula starters, impossible dates) and a seed;
a frame of customers is then assembled from the pools row by row. One example is a whole chunk
(1,000 customers), so a CI run sees 100,000 customers in a few dozen seconds, and a failure still
shrinks to small pools.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import strategies as st

from sna.source.extract import RAW_COLUMNS, to_raw_frame

ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"]
BIDI = ["\u202e", "\u202d", "\u202a", "\u202b", "\u202c", "\u2066", "\u2067", "\u2068", "\u2069", "\u200e", "\u200f"]
COMBINING = ["\u0301", "\u0308", "\u0336", "\u0338", "\u20dd", "e\u0301\u0302\u0303\u0304\u0305\u0306"]
EMOJI = ["\U0001f44d\U0001f3fd", "\U0001f468\u200d\U0001f469\u200d\U0001f467", "\U0001f1eb\U0001f1f7", "\u2764\ufe0f",
         "\U0001f600"]
CONTROL = ["\x00", "\x01", "\x07", "\x08", "\t", "\n", "\r", "\r\n", "\x0b", "\x0c", "\x1b", "\x1f", "\x7f", "\x85",
           "\u2028", "\u2029"]
SQL = ["'", "''", '"', "\\", "%", "_", "; DROP TABLE ps_customer; --", "' OR '1'='1", "\\'", "`", "/*", "*/"]
CSV = [",", '"', '""', ",\"", "\n", "\r\n", '";"', "\t"]
FORMULA = ["=", "+", "-", "@", "=cmd|' /C calc'!A0", "=HYPERLINK(\"http://x.example\",\"y\")", "+1+1", "-2+3",
           "@SUM(A1)", "\uff1d", "\t=", " =", "=\u200b"]
SPACES = [" ", "  ", "\u00a0", "\u3000", "\u2003", ""]
SPECIALS = ZERO_WIDTH + BIDI + COMBINING + EMOJI + CONTROL + SQL + CSV + FORMULA + SPACES

_CHARS = st.characters(exclude_categories=("Cs",))  # lone surrogates cannot be stored as UTF-8 anywhere


def garbage() -> st.SearchStrategy[str]:
    """Pure hostile text: specials mixed with arbitrary Unicode."""
    return st.lists(st.one_of(st.sampled_from(SPECIALS), st.text(_CHARS, max_size=6)), max_size=5).map("".join)


def wrapped(base: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """A plausible value with hostile characters before, inside or after it."""
    pieces = st.sampled_from(SPECIALS)
    return st.tuples(pieces, base, pieces, st.integers(0, 8)).map(
        lambda t: t[0] + t[1][: t[3]] + (t[2] if t[3] % 2 else "") + t[1][t[3]:]
    )


def pool(valid: st.SearchStrategy[Any], *, extra: list[Any] = (), size: int = 20) -> st.SearchStrategy[list[Any]]:
    """Mostly plausible values (so that customers pass and their cells reach the file), the rest hostile."""
    hostile = [wrapped(valid), garbage(), st.none()]
    if extra:
        hostile.append(st.sampled_from(list(extra)))
    return st.tuples(st.lists(valid, min_size=2, max_size=size), st.lists(st.one_of(*hostile), max_size=size // 2)
                     ).map(lambda parts: parts[0] + parts[1])


NAMES = ["Jean-Pierre", "Élodie", "D'Angelo", "D\u2019Angelo", "Zoë", "O'Brien", "Müller", "Łukasz", "Søren",
         "José María", "李", "Ω", "x", "test", "Anonymous", "n/a", "-", ".", "Smith"]
CITIES = ["Paris", "Saint-Étienne", "東京", "Lyon", "New York", "Köln", "=cmd|' /C calc'!A0", "@SUM(1+1)", "-Paris",
          "+Lyon", "Zürich", "Ḩalab", "Bruxelles/Brussel", "1000", "L'Haÿ-les-Roses"]
PHONES = ["06 12 34 56 78", "+33 6 12 34 56 78", "+33 (0)6 12 34 56 78", "(650) 253-0000", "+1 650 253 0000",
          "07911 123456", "0470 12 34 56", "01 42 68 53 00", "0000000000", "0123456789", "+", "06-12-34-56-78",
          "0033612345678", "612345678"]
POSTCODES = ["75001", " 75 016", "F-75001", "FR-75001", "94043-1351", "2134", "SW1A 1AA", "sw1a1aa", "1000",
             "B-1000", "00000", "1234 AB", "9404313", "750O1"]
COUNTRIES = ["FR", "US", "GB", "BE", "NL", "fr", " FR ", "ZZ", "", "F R", "\uff26\uff32", "FRA", "1"]
ZIP_FORMATS = ["NNNNN", "NNNN", "LNN NLL", "NNNN LL", "CNNNN", "", "NNN[", "(N)", "N*", "\\", "N+N", "NNNNN-NNNN"]
STATES = ["CA", "NY", "ca", "", "=1", "N.Y.", "Île-de-France"]
DOMAINS = ["example.com", "gmail.com", "googlemail.com", "Example.COM", "marketplace.amazon.fr", "exämple.com",
           "xn--exmple-cua.com", "localhost", "example..com", "sub.example.co.uk"]
BIRTHDAYS = ["0000-00-00", "9999-12-31", "1985-02-30", "1900-01-01", "1899-12-31", "2026-11-01", "2013-11-01",
             "1906-11-02", "1985-04-12 00:00:00", "12/04/1985", "1985-4-12", "", "1985-04-12T00:00:00", "2000-02-29",
             "2100-01-01", "0001-01-01", "1985-13-01"]
STAMPS = ["0000-00-00 00:00:00", "9999-12-31 23:59:59", "2026-10-01 09:00:00", "1970-01-01 00:00:00",
          "2026-11-01 23:59:59", "2026-02-30 10:00:00", "", "yesterday", "2026-10-01"]

_dates = st.dates(min_value=date(1880, 1, 1), max_value=date(2035, 1, 1)).map(date.isoformat)
_stamps = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2030, 1, 1)).map(
    lambda moment: moment.strftime("%Y-%m-%d %H:%M:%S"))


@dataclass
class Pools:
    """Everything a frame is assembled from."""

    seed: int
    text: dict[str, list[Any]]
    numbers: dict[str, list[Any]]
    email_locals: list[str]
    email_domains: list[str]
    unique_email_share: float
    megabyte_rows: int


@st.composite
def pools(draw: st.DrawFn) -> Pools:
    text = {
        "firstname": draw(pool(st.sampled_from(NAMES), extra=FORMULA)),
        "lastname": draw(pool(st.sampled_from(NAMES), extra=FORMULA)),
        "city": draw(pool(st.sampled_from(CITIES))),
        "phone": draw(pool(st.sampled_from(PHONES))),
        "phone_mobile": draw(pool(st.sampled_from(PHONES))),
        "postcode": draw(pool(st.sampled_from(POSTCODES))),
        "country": draw(pool(st.sampled_from(COUNTRIES))),
        "zip_code_format": draw(pool(st.sampled_from(ZIP_FORMATS))),
        "state": draw(pool(st.sampled_from(STATES))),
        "birthday": draw(pool(st.one_of(_dates, st.sampled_from(BIRTHDAYS)))),
        "date_add": draw(pool(st.one_of(_stamps, st.sampled_from(STAMPS)))),
        "first_order": draw(pool(st.one_of(_stamps, st.sampled_from(STAMPS)))),
        "last_order": draw(pool(st.one_of(_stamps, st.sampled_from(STAMPS)))),
        "email": draw(pool(st.sampled_from(["anonymous@psgdpr.com", "pub@prestashop.com", "jane.doe@gmail.com",
                                            "Jane.Doe+x@GMAIL.com", "=1+1@example.com", "a@b", "@example.com"]))),
    }
    numbers = {
        "id_shop": draw(st.lists(st.sampled_from([1, 2, 0]), min_size=1, max_size=3)),
        "id_default_group": draw(st.lists(st.sampled_from([1, 2, 3, 4, 999]), min_size=1, max_size=4)),
        "is_guest": [0, 1],
        "deleted": draw(st.lists(st.sampled_from([0, 0, 0, 1, 2]), min_size=1, max_size=4)),
        "active": draw(st.lists(st.sampled_from([1, 1, 1, 0, 2]), min_size=1, max_size=4)),
        "newsletter": [0, 1],
        "optin": [0, 1],
        "gender_type": draw(st.lists(st.sampled_from([0.0, 1.0, 2.0, math.nan, 7.0, -1.0]), min_size=1, max_size=5)),
        "id_address": draw(st.lists(st.sampled_from([math.nan, 1.0, 10.0, 1e15]), min_size=1, max_size=3)),
        "valid_orders": draw(st.lists(st.sampled_from([0, 1, 5, -1, 2**31]), min_size=1, max_size=4)),
        "total_spent": draw(st.lists(
            st.one_of(st.sampled_from([0.0, -5.0, math.nan, math.inf, -0.0, 1e-9, 1e12, 123456789.987]),
                      st.floats(min_value=-1e6, max_value=1e9, allow_nan=False)), min_size=1, max_size=6)),
        "in_groups_any": [1],
    }
    return Pools(
        seed=draw(st.integers(0, 2**32 - 1)),
        text=text,
        numbers=numbers,
        email_locals=draw(st.tuples(
            st.lists(st.sampled_from(["jean.dupont", "Jane.Doe+Shop", "o'brien", "user", "=x", "-x", "+x"]),
                     min_size=1, max_size=5),
            st.lists(st.one_of(st.sampled_from(["a..b", ".a", "\u00e9lodie"]), garbage(), wrapped(st.just("user"))),
                     max_size=3)).map(lambda parts: parts[0] + parts[1])),
        email_domains=draw(st.tuples(st.lists(st.sampled_from(DOMAINS), min_size=1, max_size=4),
                                     st.lists(garbage(), max_size=2)).map(lambda parts: parts[0] + parts[1])),
        unique_email_share=draw(st.sampled_from([0.3, 0.8, 1.0])),
        megabyte_rows=draw(st.integers(0, 2)),
    )


def _pick(rng: np.random.Generator, values: list[Any], size: int) -> list[Any]:
    return [values[i] for i in rng.integers(0, len(values), size)]


def build_frame(p: Pools, size: int, first_id: int = 1) -> pd.DataFrame:
    """`size` raw customers (the extraction's contract) assembled from the pools."""
    rng = np.random.default_rng(p.seed)
    columns: dict[str, list[Any]] = {name: _pick(rng, values, size) for name, values in p.text.items()}
    columns.update({name: _pick(rng, values, size) for name, values in p.numbers.items()})
    locals_ = _pick(rng, p.email_locals, size)
    domains = _pick(rng, p.email_domains, size)
    unique = rng.random(size) < p.unique_email_share
    columns["email"] = [f"{local}{first_id + i}@{domain}" if unique[i] else columns["email"][i]
                        for i, (local, domain) in enumerate(zip(locals_, domains, strict=True))]
    columns["id_customer"] = list(range(first_id, first_id + size))
    columns["id_subscriber"] = [0] * size
    for _ in range(p.megabyte_rows):  # a megabyte string in one random text cell
        name = list(p.text)[int(rng.integers(0, len(p.text)))]
        row = int(rng.integers(0, size))
        columns[name][row] = ("Ab\u0301c " * 200_000)[: 1_000_000] if row % 2 else "=" + "9" * 1_000_000
    records = list(zip(*(columns[name] for name in RAW_COLUMNS), strict=True))
    return to_raw_frame(records)
