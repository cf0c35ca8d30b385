"""Builds raw customer frames (the extraction contract of the project brief) for normalizer tests."""

from __future__ import annotations

import datetime

import numpy as np
import pandas as pd

REFERENCE_DATE = datetime.date(2026, 6, 15)

TEXT_COLUMNS = (
    "email",
    "firstname",
    "lastname",
    "birthday",
    "date_add",
    "postcode",
    "city",
    "phone",
    "phone_mobile",
    "country",
    "zip_code_format",
    "state",
    "first_order",
    "last_order",
)

# A complete, valid French customer; tests override the fields they are about.
BASE_CUSTOMER = {
    "id_customer": 1,
    "id_shop": 1,
    "id_default_group": 3,
    "is_guest": 0,
    "deleted": 0,
    "active": 1,
    "newsletter": 1,
    "optin": 0,
    "email": "john.doe@example.com",
    "firstname": "John",
    "lastname": "Doe",
    "birthday": "1985-06-15",
    "gender_type": 1.0,
    "date_add": "2020-01-01 10:00:00",
    "id_address": 1.0,
    "postcode": "75001",
    "city": "Paris",
    "phone": "06 12 34 56 78",
    "phone_mobile": None,
    "country": "FR",
    "zip_code_format": "NNNNN",
    "state": None,
    "valid_orders": 1,
    "first_order": "2021-01-01 10:00:00",
    "last_order": "2021-01-01 10:00:00",
    "total_spent": 12.5,
}

NO_ADDRESS = {
    "id_address": np.nan,
    "postcode": None,
    "city": None,
    "phone": None,
    "phone_mobile": None,
    "country": None,
    "zip_code_format": None,
    "state": None,
}


def raw_frame(*customers: dict, start_index: int = 0) -> pd.DataFrame:
    """One row per dict of overrides, typed as the extraction yields them."""
    frame = pd.DataFrame(
        [{**BASE_CUSTOMER, **customer} for customer in customers],
        index=pd.RangeIndex(start_index, start_index + len(customers)),
    )
    for column in TEXT_COLUMNS:
        frame[column] = frame[column].astype("str")
    frame["gender_type"] = frame["gender_type"].astype("float64")
    frame["id_address"] = frame["id_address"].astype("float64")
    frame["total_spent"] = frame["total_spent"].astype("float64")
    return frame


def raw_customer(**fields) -> pd.DataFrame:
    return raw_frame(fields)


class CaseTable:
    """The customers of one parametrized table, normalized together once per platform and reference
    date: a normalize call costs ~50 ms of fixed overhead whatever the chunk size, and running the
    cases as one chunk also shows that rows do not influence each other."""

    def __init__(self, customers: list[dict]) -> None:
        self.customers = customers
        self._results: dict[tuple[str, datetime.date], pd.DataFrame] = {}

    def frame(self, platform: str, reference_date: datetime.date = REFERENCE_DATE) -> pd.DataFrame:
        from sna.normalize import profile_for

        key = (platform, reference_date)
        if key not in self._results:
            self._results[key] = profile_for(platform).normalize(raw_frame(*self.customers), reference_date)
        return self._results[key]

    def row(self, platform: str, customer: dict, reference_date: datetime.date = REFERENCE_DATE) -> pd.Series:
        return self.frame(platform, reference_date).iloc[self.customers.index(customer)]


def clear(value: object) -> object:
    """None for a missing cell, so expectations can be written as plain Python values."""
    return None if pd.isna(value) else value
