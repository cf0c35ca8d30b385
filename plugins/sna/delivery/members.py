"""An export's rows as platform members: the API's identifier schema, SHA-256 hashed, one key each.

Built from the same clear, normalized cells the file is rendered from (never from a hashed file
cell), whatever the file's hashing mode: the APIs always take hashed identifiers. Country and zip
follow each platform's rule (Google's region and postal codes stay clear; Meta hashes every key),
an empty value is "" and is never hashed, and Meta's birth date is split from the clear `dob`.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pyarrow as pa

from sna.delivery.base import Members
from sna.render import sha256_hex

GOOGLE_SCHEMA = ("email", "phone", "given_name", "family_name", "region_code", "postal_code")
META_SCHEMA = ("EMAIL", "PHONE", "FN", "LN", "ZIP", "CT", "ST", "COUNTRY", "DOBY", "DOBM", "DOBD", "GEN")
META_VALUE = "LOOKALIKE_VALUE"
KEY = "member_key"
"""SHA-256 of a member's identifier cells: what the mirror compares between two deliveries."""


def _text(frame: pd.DataFrame, column: str) -> pd.Series:
    return frame[column].astype("str").fillna("") if column in frame else pd.Series("", index=frame.index)


def google_members(output: pd.DataFrame) -> pd.DataFrame:
    """Google file rows (`Email, Phone, First Name, Last Name, Country, Zip`) as Data Manager identifiers."""
    return pd.DataFrame({
        "email": sha256_hex(_text(output, "Email")),
        "phone": sha256_hex(_text(output, "Phone")),
        "given_name": sha256_hex(_text(output, "First Name")),
        "family_name": sha256_hex(_text(output, "Last Name")),
        "region_code": _text(output, "Country").str.upper(),
        "postal_code": _text(output, "Zip"),
    }, index=output.index)


def meta_members(output: pd.DataFrame, *, with_value: bool) -> pd.DataFrame:
    """Meta file rows as Marketing API keys; DOBY/DOBM/DOBD come from the clear `dob` (YYYYMMDD)."""
    dob = _text(output, "dob")
    complete_dob = dob.str.fullmatch(r"\d{8}").fillna(False)
    members = pd.DataFrame({
        "EMAIL": sha256_hex(_text(output, "email")),
        "PHONE": sha256_hex(_text(output, "phone")),
        "FN": sha256_hex(_text(output, "fn")),
        "LN": sha256_hex(_text(output, "ln")),
        "ZIP": sha256_hex(_text(output, "zip")),
        "CT": sha256_hex(_text(output, "ct")),
        "ST": sha256_hex(_text(output, "st")),
        "COUNTRY": sha256_hex(_text(output, "country")),
        "DOBY": sha256_hex(_text(output, "doby")),
        "DOBM": sha256_hex(dob.str.slice(4, 6).where(complete_dob, "")),
        "DOBD": sha256_hex(dob.str.slice(6, 8).where(complete_dob, "")),
        "GEN": sha256_hex(_text(output, "gen")),
    }, index=output.index)
    if with_value:
        members[META_VALUE] = _text(output, "value")
    return members


def members_frame(platform: str, output: pd.DataFrame, *, with_value: bool = False) -> pd.DataFrame:
    """The members of one rendered chunk, with their member key."""
    members = google_members(output) if platform == "google" else meta_members(output, with_value=with_value)
    identity = [col for col in members.columns if col != META_VALUE]
    joined = members[identity[0]].str.cat([members[c] for c in identity[1:]], sep="\x1f")
    keys = np.asarray([hashlib.sha256(text.encode()).hexdigest() for text in joined.tolist()], dtype=object)
    members.insert(0, KEY, keys)
    return members


def to_members(table: pa.Table | pd.DataFrame) -> Members:
    """A members table (as staged or stored) as the clients' hand-off type, without the key column."""
    frame = table.to_pandas() if isinstance(table, pa.Table) else table
    schema = tuple(c for c in frame.columns if c != KEY)
    rows = list(frame.loc[:, list(schema)].itertuples(index=False, name=None))
    return Members(schema, rows)
