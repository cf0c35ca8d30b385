"""Postcodes and cities as customers type them.

Clean codes follow each country's format; a share is then damaged the way shops see it:
`' 75 016'`, `'F-75001'`, `'B-1000'`, lowercase UK codes, ZIP+4, US zips that lost their leading
zero in a spreadsheet, `'00000'`, empty values; cities with trailing spaces or without letters.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sna_demo.reference import STATES
from sna_demo.textgen import digits, letters, mask, pick
from sna_demo.vocabulary import CITIES, CITIES_WITHOUT_LETTERS

_STATE_BY_ID = {state.id: state for state in STATES}
# Country prefixes customers glue in front of the code.
_LETTER_PREFIX = {"FR": "F-", "BE": "B-", "CH": "CH-", "DE": "D-", "LU": "L-", "AT": "A-", "IT": "I-"}


def _ranged(rng: np.random.Generator, low: int, high: int, n: int, width: int) -> pd.Series:
    return pd.Series(rng.integers(low, high + 1, size=n)).astype("str").str.zfill(width)


def _clean_codes(rng: np.random.Generator, iso: str, state_ids: np.ndarray) -> pd.Series:
    n = len(state_ids)
    if iso in ("FR", "ES"):
        department = _ranged(rng, 1, 95 if iso == "FR" else 52, n, 2)
        return department + digits(rng, n, 3)
    if iso == "DE":
        return _ranged(rng, 1067, 99998, n, 5)
    if iso in ("BE", "CH", "LU", "AT"):
        return _ranged(rng, 1000, 9658, n, 4)
    if iso == "NL":
        return (
            _ranged(rng, 1000, 9999, n, 4)
            + " "
            + letters(rng, n, "ABCDEFGHJKLMNPRSTVWXZ")
            + letters(rng, n, "ABCDEHJKLMNPRTVWXZ")
        )
    if iso == "PT":
        return _ranged(rng, 1000, 9999, n, 4) + "-" + digits(rng, n, 3)
    if iso == "PL":
        return digits(rng, n, 2) + "-" + digits(rng, n, 3)
    if iso == "GB":
        area = pick(rng, n, ("SW", "EC", "M", "B", "CR", "DN", "LS", "NW", "BS", "E"))
        return (
            area
            + _ranged(rng, 1, 20, n, 1)
            + " "
            + digits(rng, n, 1)
            + letters(rng, n, "ABDEFGHJLNPQRSTUWXYZ")
            + letters(rng, n, "ABDEFGHJLNPQRSTUWXYZ")
        )
    return _state_codes(rng, iso, state_ids)


def _state_codes(rng: np.random.Generator, iso: str, state_ids: np.ndarray) -> pd.Series:
    """US/CA/IT codes consistent with the address's state."""
    n = len(state_ids)
    out = pd.Series("", index=pd.RangeIndex(n), dtype="str")
    for state_id in np.unique(state_ids):
        where = state_ids == state_id
        count = int(where.sum())
        state = _STATE_BY_ID.get(int(state_id))
        if iso == "CA":
            first = pick(rng, count, list(state.zip_letters if state else "HMV"))
            code = (
                first
                + digits(rng, count, 1)
                + letters(rng, count)
                + " "
                + digits(rng, count, 1)
                + letters(rng, count)
                + digits(rng, count, 1)
            )
        else:
            low, high = state.zip_range if state else (10001, 99950)
            code = _ranged(rng, low, high, count, 5)
        out[where] = code.to_numpy()
    return out


def postcodes(rng: np.random.Generator, countries: np.ndarray, state_ids: np.ndarray) -> pd.Series:
    """One written postcode per row, clean for most rows, damaged for some."""
    n = len(countries)
    out = pd.Series("", index=pd.RangeIndex(n), dtype="str")
    for iso in np.unique(countries):
        where = countries == iso
        code = _clean_codes(rng, iso, state_ids[where])
        code = _damage(rng, iso, code)
        out[where] = code.to_numpy()
    out[mask(rng, n, 0.004)] = "00000"
    out = out.where(~mask(rng, n, 0.01), "")
    return out.where(~mask(rng, n, 0.01), None)


def _damage(rng: np.random.Generator, iso: str, code: pd.Series) -> pd.Series:
    n = len(code)
    code = code.copy()
    prefix = _LETTER_PREFIX.get(iso)
    if prefix:
        glued = mask(rng, n, 0.03)
        code[glued] = prefix + code[glued]
    if iso == "FR":
        spaced = mask(rng, n, 0.03)
        code[spaced] = " " + code[spaced].str.slice(0, 2) + " " + code[spaced].str.slice(2)
    if iso in ("GB", "CA", "NL"):
        lower = mask(rng, n, 0.15)
        code[lower] = code[lower].str.lower()
        squeezed = mask(rng, n, 0.1)
        code[squeezed] = code[squeezed].str.replace(" ", "", regex=False)
    if iso == "US":
        plus4 = mask(rng, n, 0.2)
        code[plus4] = code[plus4] + "-" + digits(rng, int(plus4.sum()), 4).to_numpy()
        lost_zero = code.str.startswith("0") & pd.Series(mask(rng, n, 0.5), index=code.index)
        code[lost_zero] = code[lost_zero].str.slice(1)
    trailing = mask(rng, n, 0.02)
    code[trailing] = code[trailing] + " "
    return code


def cities(rng: np.random.Generator, countries: np.ndarray) -> pd.Series:
    """City names from the country's list, some uppercase, with trailing spaces, or no letters."""
    n = len(countries)
    out = pd.Series("", index=pd.RangeIndex(n), dtype="str")
    for iso in np.unique(countries):
        where = countries == iso
        out[where] = pick(rng, int(where.sum()), CITIES[iso]).to_numpy()
    upper = mask(rng, n, 0.08)
    out[upper] = out[upper].str.upper()
    trailing = mask(rng, n, 0.05)
    out[trailing] = out[trailing] + "  "
    no_letters = mask(rng, n, 0.005)
    out[no_letters] = pick(rng, int(no_letters.sum()), CITIES_WITHOUT_LETTERS).to_numpy()
    return out
