"""Builds raw customer frames (the extraction's output contract) for engine tests."""

from __future__ import annotations

from typing import Any

import pandas as pd

from sna.source.extract import RAW_COLUMNS, to_raw_frame

DEFAULTS: dict[str, Any] = {
    "id_customer": 1, "id_shop": 1, "id_default_group": 3, "is_guest": 0, "deleted": 0, "active": 1,
    "newsletter": 1, "optin": 0, "email": "jane.doe@example.com", "firstname": "Jane", "lastname": "Doe",
    "birthday": "1985-04-12", "gender_type": 1, "date_add": "2020-01-01 10:00:00",
    "id_address": 10, "postcode": "75001", "city": "Paris", "phone": "01 42 68 53 00",
    "phone_mobile": "06 12 34 56 78", "country": "FR", "zip_code_format": "NNNNN", "state": None,
    "valid_orders": 2, "first_order": "2023-02-01 09:00:00", "last_order": "2026-10-01 09:00:00",
    "total_spent": 250.5, "in_groups_any": 1, "id_subscriber": 0,
}


def raw_frame(*rows: dict[str, Any]) -> pd.DataFrame:
    """One raw row per mapping: defaults (a complete, valid French customer) overridden by the mapping."""
    records = []
    for number, overrides in enumerate(rows, start=1):
        row = {**DEFAULTS, "id_customer": number, **overrides}
        unknown = set(row) - set(RAW_COLUMNS)
        assert not unknown, unknown
        records.append(tuple(row[name] for name in RAW_COLUMNS))
    return to_raw_frame(records)
