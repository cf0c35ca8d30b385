"""Birthdays: PrestaShop's raw date strings to dob / doby / age, judged at a reference date.

The rules are in docs/formats.md ("Birthdays").

The reference date is the run's logical date, never "today", so rerunning an export gives the
same ages and the same file.
"""

from __future__ import annotations

import datetime

import numpy as np
import pandas as pd

from sna.normalize.text import OK, TEXT_DTYPE, as_text, field_status, is_blank, per_distinct, trim

ZERO_DATE = "0000-00-00"
EARLIEST_BIRTHDAY = datetime.date(1900, 1, 1)
MIN_AGE, MAX_AGE = 13, 120


def parse_birthdays(raw: pd.Series, reference_date: datetime.date) -> pd.DataFrame:
    return per_distinct(as_text(raw), lambda values: _parse(values, reference_date))


def _parse(raw: pd.Series, reference_date: datetime.date) -> pd.DataFrame:
    """Columns `status` ("ok"/"missing"/"invalid"), `dob` (`YYYYMMDD`), `doby` (`YYYY`) and `age`
    (whole years at `reference_date`, as text); the last three are missing unless status is ok.

    NULL, empty and `0000-00-00` are missing. An impossible date (`1985-02-30`), a date before
    1900-01-01 or after the reference date, and an age under 13 or over 120 are invalid. A
    29 February birthday turns a year older on 1 March in common years.
    """
    text = trim(as_text(raw))
    present = ~is_blank(text) & (text != ZERO_DATE).fillna(False).astype(bool)
    day_part = text.where(text.str.match(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:$|[ T])").fillna(False).astype(bool))
    dates = pd.to_datetime(day_part.str.slice(0, 10), format="%Y-%m-%d", errors="coerce")
    year = dates.dt.year.to_numpy(dtype="float64")
    month_day = (dates.dt.month * 100 + dates.dt.day).to_numpy(dtype="float64")
    reference = reference_date.month * 100 + reference_date.day
    age = reference_date.year - year - (month_day > reference)
    earliest = pd.Timestamp(EARLIEST_BIRTHDAY)
    valid = (
        dates.notna().to_numpy()
        & (dates >= earliest).to_numpy()
        & (dates <= pd.Timestamp(reference_date)).to_numpy()
        & (age >= MIN_AGE)
        & (age <= MAX_AGE)
    )
    status = field_status(present, pd.Series(valid, index=raw.index))
    ok = (status == OK).to_numpy()
    return pd.DataFrame(
        {
            "status": status,
            "dob": _text_where(dates.dt.strftime("%Y%m%d"), ok),
            "doby": _text_where(dates.dt.strftime("%Y"), ok),
            "age": _text_where(
                pd.Series(np.where(ok, age, 0).astype("int64"), index=raw.index).astype(str), ok
            ),
        },
        index=raw.index,
    )


def _text_where(values: pd.Series, keep: np.ndarray) -> pd.Series:
    return values.astype(TEXT_DTYPE).where(keep)
