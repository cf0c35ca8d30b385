"""Phone numbers to E.164 with `phonenumbers`, the address country as default region.

The rules are in docs/formats.md ("Phones").

Parsing is the slow part of normalization (tens of microseconds a number), so each distinct
(raw text, region) pair of a chunk is parsed once, and an LRU cache carries the results across
chunks (shops repeat the same switchboard and placeholder numbers). `parse_unique_phones` first
runs the vectorized fast path (`phone_fastpath.py`: the library's own metadata applied to whole
columns, ~10x faster) and parses one by one only what the fast path leaves undecided.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import pandas as pd
import phonenumbers

from sna.normalize.phone_fastpath import fast_e164
from sna.normalize.text import TEXT_DTYPE, as_text, field_status, is_blank, trim

# Sequences that marketplaces and demo data use as "no phone", as national significant numbers.
DUMMY_SEQUENCES = frozenset({"102030405", "123456789"})
PARSE_CACHE_SIZE = 1 << 20


def is_dummy_number(national_number: str) -> bool:
    """`0611111111`, `0000000000`: the digits after the first are one digit repeated; or a known
    keyboard sequence. Such numbers pass the library's checks but reach nobody."""
    return national_number in DUMMY_SEQUENCES or (
        len(national_number) > 1 and len(set(national_number[1:])) == 1
    )


@lru_cache(maxsize=PARSE_CACHE_SIZE)
def e164_or_none(raw: str, region: str | None) -> str | None:
    """`+33612345678` for a valid, non-dummy number, None otherwise."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    if is_dummy_number(phonenumbers.national_significant_number(number)):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def parse_unique_phones(raws: Sequence[str], regions: Sequence[str | None]) -> list[str | None]:
    """E.164 (with `+`) or None for each (raw, region) pair; pairs are already distinct."""
    return _parse_unique(pd.Series(list(raws), dtype=TEXT_DTYPE), pd.Series(list(regions), dtype=TEXT_DTYPE)).tolist()


def _parse_unique(raws: pd.Series, regions: pd.Series) -> np.ndarray:
    """`parse_unique_phones` on text columns (a missing region: no default region)."""
    decided, results = fast_e164(raws, regions)
    undecided = np.flatnonzero(~decided)
    if len(undecided):
        texts = raws.iloc[undecided].tolist()
        codes = regions.iloc[undecided].astype(object).where(regions.iloc[undecided].notna(), None).tolist()
        results[undecided] = [e164_or_none(text, code) for text, code in zip(texts, codes, strict=True)]
    return results


def parse_phones(phone: pd.Series, phone_mobile: pd.Series, country: pd.Series) -> pd.DataFrame:
    """One phone per customer: `phone_mobile` when valid, otherwise `phone`.

    Returns the columns `e164` (`+33612345678` or missing) and `status`: "missing" when both
    fields are empty, "invalid" when something is there but no valid number.
    """
    region = trim(as_text(country)).str.upper()
    mobile, fixed = trim(as_text(phone_mobile)), trim(as_text(phone))
    both = pd.concat([mobile, fixed], ignore_index=True)
    e164 = _e164(both, pd.concat([region, region], ignore_index=True))
    size = len(mobile)
    chosen = np.where(pd.isna(e164[:size]), e164[size:], e164[:size])
    e164_series = pd.Series(chosen, index=phone.index, dtype=TEXT_DTYPE)
    present = ~(is_blank(mobile) & is_blank(fixed))
    status = field_status(present, e164_series.notna())
    return pd.DataFrame({"e164": e164_series, "status": status}, index=phone.index)


def _e164(raw: pd.Series, region: pd.Series) -> np.ndarray:
    """Parse every distinct (raw, region) pair once and spread the results back to the rows."""
    usable = (raw.str.len().fillna(0) > 0).to_numpy()
    result = np.full(len(raw), None, dtype=object)
    if not usable.any():
        return result
    raw_codes, raw_values = pd.factorize(raw[usable])
    region_codes, region_values = pd.factorize(region[usable].fillna(""))
    width = max(len(region_values), 1)
    codes, pairs = pd.factorize(raw_codes.astype(np.int64) * width + region_codes)
    texts = pd.Series(raw_values.take(pairs // width), dtype=TEXT_DTYPE)
    regions = pd.Series(region_values.take(pairs % width), dtype=TEXT_DTYPE)
    parsed = _parse_unique(texts, regions.where(regions != ""))
    result[usable] = parsed[codes]
    return result
