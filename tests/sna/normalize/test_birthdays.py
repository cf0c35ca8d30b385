"""Birthdays (docs/formats.md: Meta dob/doby/age, "Birthdays"): missing, invalid and ages at the reference date."""

from __future__ import annotations

import datetime

import pytest

from tests.sna.normalize.rawframe import CaseTable, clear

JUNE_15_2026 = datetime.date(2026, 6, 15)

# (raw birthday, reference date, Meta dob, doby, age, status)
BIRTHDAYS = [
    ("1985-06-15", JUNE_15_2026, "19850615", "1985", "41", "ok"),
    ("1985-06-16", JUNE_15_2026, "19850616", "1985", "40", "ok"),
    ("1985-06-14", JUNE_15_2026, "19850614", "1985", "41", "ok"),
    (" 1985-06-15 ", JUNE_15_2026, "19850615", "1985", "41", "ok"),
    (None, JUNE_15_2026, None, None, None, "missing"),
    ("", JUNE_15_2026, None, None, None, "missing"),
    ("0000-00-00", JUNE_15_2026, None, None, None, "missing"),
    ("2013-06-15", JUNE_15_2026, "20130615", "2013", "13", "ok"),  # exactly 13 today
    ("2013-06-16", JUNE_15_2026, None, None, None, "invalid"),  # 13 tomorrow
    ("2020-01-01", JUNE_15_2026, None, None, None, "invalid"),
    ("2026-06-15", JUNE_15_2026, None, None, None, "invalid"),  # born today
    ("2026-06-16", JUNE_15_2026, None, None, None, "invalid"),  # future
    ("2099-01-01", JUNE_15_2026, None, None, None, "invalid"),
    ("1906-06-15", JUNE_15_2026, "19060615", "1906", "120", "ok"),
    ("1905-06-16", JUNE_15_2026, "19050616", "1905", "120", "ok"),
    ("1905-06-15", JUNE_15_2026, None, None, None, "invalid"),  # 121
    ("1899-12-31", datetime.date(2000, 1, 1), None, None, None, "invalid"),  # before 1900, aged 100
    ("1900-01-01", datetime.date(2000, 1, 1), "19000101", "1900", "100", "ok"),
    ("1000-01-01", JUNE_15_2026, None, None, None, "invalid"),
    ("1985-02-30", JUNE_15_2026, None, None, None, "invalid"),
    ("1985-13-01", JUNE_15_2026, None, None, None, "invalid"),
    ("1985-00-00", JUNE_15_2026, None, None, None, "invalid"),
    ("15/06/1985", JUNE_15_2026, None, None, None, "invalid"),
    ("abc", JUNE_15_2026, None, None, None, "invalid"),
    # 29 February: one year older on 1 March in common years
    ("2000-02-29", datetime.date(2013, 2, 28), None, None, None, "invalid"),
    ("2000-02-29", datetime.date(2013, 3, 1), "20000229", "2000", "13", "ok"),
    ("2000-02-29", datetime.date(2016, 2, 29), "20000229", "2000", "16", "ok"),
]
BIRTHDAY_TABLE = CaseTable([{"birthday": raw} for raw, *_ in BIRTHDAYS])


@pytest.mark.parametrize(("raw", "reference_date", "dob", "doby", "age", "status"), BIRTHDAYS)
def test_birthday(raw, reference_date, dob, doby, age, status):
    meta = BIRTHDAY_TABLE.row("meta", {"birthday": raw}, reference_date)
    assert (clear(meta["dob"]), clear(meta["doby"]), clear(meta["age"])) == (dob, doby, age)
    assert meta["status_birthday"] == status
    assert BIRTHDAY_TABLE.row("google", {"birthday": raw}, reference_date)["status_birthday"] == status
