"""A vectorized `phonenumbers.parse` + `is_valid_number` + E.164 for the common shapes of numbers.

`phonenumbers` costs ~17 µs a number in Python; a million customers with two numbers each would
spend over 30 s there. This module replays the library's own algorithm (same metadata: country
codes, international and national prefixes, possible lengths, per-type national number patterns)
over whole columns, with pyarrow's RE2 for the patterns (the library's patterns are written to be
portable to RE2, which its C++ version uses).

It decides only what it can decide exactly like the library: numbers written with digits, spaces,
`.`, `-`, `/`, `(`, `)` and at most one leading `+`, for a supported default region whose
prefixes are plain digit strings. Everything else (letters, extensions, exotic prefix rules, a
country code the library would re-interpret) is left undecided and goes to the per-number parse.
`tests/sna/normalize/test_phone_fastpath.py` compares both paths on a large sample.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import numpy as np
import pandas as pd
import phonenumbers
from phonenumbers import PhoneMetadata
from phonenumbers import phonenumberutil as pnu

_SHAPE = r"\+?[0-9 .\-/()]+"
_DIGITS_ONLY = re.compile(r"[0-9]+")
_MIN_DIGITS, _MAX_DIGITS = 4, 20
_MIN_NSN, _MAX_NSN = pnu._MIN_LENGTH_FOR_NSN, pnu._MAX_LENGTH_FOR_NSN
_KEEP_ORIGINAL = (pnu.ValidationResult.TOO_SHORT, pnu.ValidationResult.IS_POSSIBLE_LOCAL_ONLY,
                  pnu.ValidationResult.INVALID_LENGTH)
_TYPE_DESCS = ("premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager", "uan",
               "voicemail", "fixed_line")


def _fullmatch(text: pd.Series, pattern: str) -> np.ndarray:
    return text.str.fullmatch(f"(?:{pattern})").fillna(False).to_numpy(dtype=bool, copy=True)


def _prefix_match(text: pd.Series, pattern: str) -> np.ndarray:
    return text.str.match(f"(?:{pattern})").fillna(False).to_numpy(dtype=bool, copy=True)


@dataclass(frozen=True)
class _Plan:
    """What the fast path needs of one region's metadata."""

    region: str
    metadata: PhoneMetadata
    general_pattern: str | None
    national_prefixes: tuple[str, ...]  # plain digit strings tried in order (`0|180020`), or none
    national_prefix_pattern: str | None  # a regex prefix the fast path cannot strip (rows go slow)
    length_result: dict[int, int]  # `_test_number_length` depends on the length only

    def general_matches(self, text: pd.Series) -> np.ndarray:
        """`_match_national_number(text, general_desc)`: the pattern only, no length check."""
        if not self.general_pattern:
            return np.zeros(len(text), dtype=bool)
        return _fullmatch(text, self.general_pattern)

    def test_length(self, lengths: np.ndarray) -> np.ndarray:
        distinct, codes = np.unique(lengths, return_inverse=True)
        return np.asarray([self._length(int(n)) for n in distinct], dtype=np.int64)[codes]

    def _length(self, length: int) -> int:
        if length not in self.length_result:
            self.length_result[length] = pnu._test_number_length("0" * length, self.metadata)
        return self.length_result[length]

    def valid_type(self, nsn: pd.Series) -> np.ndarray:
        """`_number_type_helper(nsn) != UNKNOWN`: the general desc and at least one type desc match."""
        result = np.zeros(len(nsn), dtype=bool)
        lengths = nsn.str.len().to_numpy()
        for length in np.unique(lengths):
            rows = np.flatnonzero(lengths == length)
            general, types = _patterns_for_length(self.region, int(length))
            if general is None or not types:
                continue
            subset = nsn.iloc[rows]
            ok = _fullmatch(subset, general)
            if ok.any():
                ok[ok] = _fullmatch(subset[ok], "|".join(f"(?:{t})" for t in types))
            result[rows] = ok
        return result


def _desc_matches_length(desc, length: int) -> bool:
    return desc is not None and (len(desc.possible_length) == 0 or length in desc.possible_length)


@cache
def _patterns_for_length(region: str, length: int) -> tuple[str | None, tuple[str, ...]]:
    """The general pattern (None if the length is impossible) and the type patterns of one length."""
    metadata = PhoneMetadata.metadata_for_region(region)
    general = metadata.general_desc
    if not _desc_matches_length(general, length) or not general.national_number_pattern:
        return None, ()
    names = list(_TYPE_DESCS) + ([] if metadata.same_mobile_and_fixed_line_pattern else ["mobile"])
    types = []
    for name in names:
        desc = getattr(metadata, name)
        if _desc_matches_length(desc, length) and desc.national_number_pattern:
            types.append(desc.national_number_pattern)
    return general.national_number_pattern, tuple(types)


@cache
def _plan(region: str) -> _Plan | None:
    """The region's plan, or None when the fast path does not handle numbers of this region."""
    if region not in phonenumbers.SUPPORTED_REGIONS:
        return None
    metadata = PhoneMetadata.metadata_for_region(region)
    if metadata is None:
        return None
    prefix = metadata.national_prefix_for_parsing or None
    alternatives = tuple(prefix.split("|")) if prefix is not None else ()
    literal = prefix if alternatives and all(_DIGITS_ONLY.fullmatch(a) for a in alternatives) and not (
        metadata.national_prefix_transform_rule) else None
    return _Plan(
        region=region,
        metadata=metadata,
        general_pattern=metadata.general_desc.national_number_pattern if metadata.general_desc else None,
        national_prefixes=alternatives if literal is not None else (),
        national_prefix_pattern=prefix if prefix is not None and literal is None else None,
        length_result={},
    )


def _country_code_regions() -> dict[int, tuple[str, ...]]:
    return {cc: tuple(regions) for cc, regions in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.items()}


def _strip_national_prefix(text: pd.Series, plan: _Plan) -> tuple[pd.Series, np.ndarray]:
    """`_maybe_strip_national_prefix_carrier_code` for a digit-string prefix, and the rows the fast
    path cannot strip exactly (a regular-expression prefix that matches: left to the library)."""
    unsure = np.zeros(len(text), dtype=bool)
    if plan.national_prefix_pattern is not None:
        return text, _prefix_match(text, plan.national_prefix_pattern)
    if not plan.national_prefixes:
        return text, unsure
    cut = np.zeros(len(text), dtype=np.int64)  # like `re.match("0|180020")`: the first alternative wins
    for prefix in plan.national_prefixes:
        starts = text.str.startswith(prefix).fillna(False).to_numpy(dtype=bool) & (cut == 0)
        cut[starts] = len(prefix)
    if not cut.any():
        return text, unsure
    rest = text.copy()
    for length in np.unique(cut[cut > 0]):
        rows = cut == length
        rest[rows] = text[rows].str.slice(int(length))
    starts = cut > 0
    keep = plan.general_matches(text) & ~plan.general_matches(rest)
    return text.mask(starts & ~keep, rest), unsure


def _region_of(cc: int, nsn: pd.Series) -> np.ndarray:
    """`region_code_for_number` for numbers of one country code: the region, or "" for none."""
    regions = _country_code_regions().get(cc, ())
    result = np.full(len(nsn), "", dtype=object)
    if len(regions) == 1:
        result[:] = regions[0]
        return result
    open_rows = np.ones(len(nsn), dtype=bool)
    for region in regions:
        metadata = PhoneMetadata.metadata_for_region(region.upper(), None)
        if metadata is None or not open_rows.any():
            continue
        subset = nsn[open_rows]
        if metadata.leading_digits is not None:
            hit = _prefix_match(subset, metadata.leading_digits)
        else:
            plan = _plan(region)
            if plan is None:
                continue
            hit = plan.valid_type(subset)
        rows = np.flatnonzero(open_rows)[hit]
        result[rows] = region
        open_rows[rows] = False
    return result


def _dummy(nsn: pd.Series) -> np.ndarray:
    """`is_dummy_number` over a column: a keyboard sequence, or one digit repeated after the first."""
    from sna.normalize.phones import DUMMY_SEQUENCES

    if len(nsn) == 0:
        return np.zeros(0, dtype=bool)
    values = nsn.to_numpy(dtype=object).astype("U")
    width = max(values.dtype.itemsize // 4, 1)
    codes = values.view(np.uint32).reshape(len(values), width)
    lengths = nsn.str.len().to_numpy()
    position = np.arange(width)
    inside = (position >= 1) & (position[None, :] < lengths[:, None])
    same = (codes == codes[:, 1:2]) | ~inside
    repeated = (lengths > 1) & same.all(axis=1)
    return repeated | nsn.isin(DUMMY_SEQUENCES).to_numpy()


def fast_e164(raws: pd.Series, regions: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(decided, e164) for trimmed raw numbers and their default regions (uppercase ISO or missing).

    Where `decided` is True, `e164` holds exactly what `phonenumbers` gives (E.164 of a valid,
    non-dummy number, or None); undecided rows must go through the per-number parse.
    """
    size = len(raws)
    raws = raws.astype("str").reset_index(drop=True)
    regions = regions.astype("str").reset_index(drop=True)
    e164 = np.full(size, None, dtype=object)
    decided = np.zeros(size, dtype=bool)
    if size == 0:
        return decided, e164
    shaped = _fullmatch(raws, _SHAPE)
    digits = raws.str.replace(r"[^0-9]", "", regex=True)
    count = digits.str.len().fillna(0).to_numpy()
    shaped = shaped & (count >= _MIN_DIGITS) & (count <= _MAX_DIGITS)
    plus = raws.str.startswith("+").fillna(False).to_numpy(dtype=bool)

    cc = np.zeros(size, dtype=np.int64)  # the number's country code once known
    national = pd.Series(pd.NA, index=digits.index, dtype="str")
    meta_region = np.full(size, "", dtype=object)  # whose metadata strips the national prefix
    undecided = ~shaped | regions.isna().to_numpy()  # no default region: left to the library
    international = np.zeros(size, dtype=bool)
    intl_digits = pd.Series(pd.NA, index=digits.index, dtype="str")

    for region in pd.unique(regions[shaped].dropna()):
        rows = shaped & (regions == region).fillna(False).to_numpy(dtype=bool)
        plan = _plan(str(region))
        if plan is None:
            undecided |= rows
            continue
        metadata = plan.metadata
        rows_plus = rows & plus
        international |= rows_plus
        intl_digits[rows_plus] = digits[rows_plus]
        rest = rows & ~plus
        idd = metadata.international_prefix
        if idd and rest.any():
            matched = np.zeros(size, dtype=bool)
            matched[rest] = _prefix_match(digits[rest], idd)
            if _DIGITS_ONLY.fullmatch(idd):
                after = digits.str.slice(len(idd), len(idd) + 1).fillna("").to_numpy(dtype=object)
                strip = matched & (after != "0") & (after != "")
                undecided |= matched & ~strip
                international |= strip
                intl_digits[strip] = digits[strip].str.slice(len(idd))
            else:
                undecided |= matched
            rest &= ~matched
        if not rest.any():
            continue
        cc_text = str(metadata.country_code)
        own = digits[rest]
        starts_cc = own.str.startswith(cc_text).fillna(False).to_numpy(dtype=bool)
        as_national = np.flatnonzero(rest)[~starts_cc]
        cc[as_national] = metadata.country_code
        national[as_national] = digits[as_national]
        meta_region[as_national] = region
        with_cc = np.flatnonzero(rest)[starts_cc]
        if len(with_cc):
            # `_maybe_extract_country_code`: a national number that starts with the country code.
            full = digits[with_cc]
            potential, bad = _strip_national_prefix(full.str.slice(len(cc_text)), plan)
            take = (~plan.general_matches(full) & plan.general_matches(potential)) | (
                plan.test_length(full.str.len().to_numpy()) == pnu.ValidationResult.TOO_LONG)
            undecided[with_cc[bad]] = True
            cc[with_cc] = metadata.country_code
            national[with_cc] = np.where(take, potential.to_numpy(dtype=object), full.to_numpy(dtype=object))
            number_region = phonenumbers.region_code_for_country_code(metadata.country_code)
            meta_region[with_cc] = np.where(take, number_region if number_region != region else region, region)

    # Country code after `+` or the international prefix (`_extract_country_code`).
    intl = international & ~undecided
    if intl.any():
        known = _country_code_regions()
        text = intl_digits[intl]
        found = np.zeros(int(intl.sum()), dtype=np.int64)
        width = np.zeros(int(intl.sum()), dtype=np.int64)
        first_zero = text.str.startswith("0").fillna(True).to_numpy(dtype=bool)
        for length in (1, 2, 3):
            head = text.str.slice(0, length)
            values = pd.to_numeric(head, errors="coerce").fillna(-1).astype(np.int64).to_numpy()
            hit = (found == 0) & ~first_zero & np.isin(values, list(known)) & (text.str.len().to_numpy() > length - 1)
            found[hit] = values[hit]
            width[hit] = length
        rows = np.flatnonzero(intl)
        lengths = text.str.len().to_numpy()
        too_short = lengths <= _MIN_NSN
        no_cc = found == 0
        undecided[rows[no_cc & ~too_short]] = True  # the library retries without the `+`
        cc[rows] = found
        rest_text = pd.Series([t[w:] for t, w in zip(text.tolist(), width.tolist(), strict=True)], dtype="str")
        national[rows] = rest_text.to_numpy(dtype=object)
        for code in np.unique(found[found > 0]):
            number_region = phonenumbers.region_code_for_country_code(int(code))
            pick = rows[found == code]
            if number_region == phonenumbers.UNKNOWN_REGION or _plan(number_region) is None:
                undecided[pick] = True
            else:
                meta_region[pick] = number_region
        # too short after the IDD: the library raises, so the answer is None (decided)
        decided[rows[too_short]] = True
        cc[rows[too_short]] = 0

    # National prefix, length checks, validity, dummies: per metadata region, then per country code.
    working = ~undecided & (cc > 0)
    nsn = national.copy()
    for region in pd.unique(meta_region[working]):
        rows = working & (meta_region == region)
        plan = _plan(str(region))
        text = national[rows]
        short = (text.str.len().fillna(0) < _MIN_NSN).to_numpy()
        potential, marks = _strip_national_prefix(text, plan)
        use = ~np.isin(plan.test_length(potential.str.len().to_numpy()), _KEEP_ORIGINAL)
        chosen = np.where(use, potential.to_numpy(dtype=object), text.to_numpy(dtype=object))
        index = np.flatnonzero(rows)
        undecided[index[marks]] = True
        nsn[index] = chosen
        cc[index[short]] = -1  # TOO_SHORT_NSN before the prefix: the library raises
    final = ~undecided & (cc > 0)
    decided |= ~undecided
    lengths = nsn.str.len().fillna(0).to_numpy()
    final &= (lengths >= _MIN_NSN) & (lengths <= _MAX_NSN)
    for code in np.unique(cc[final]):
        rows = np.flatnonzero(final & (cc == code))
        numbers = nsn.iloc[rows].reset_index(drop=True)
        owner = _region_of(int(code), numbers)
        valid = np.zeros(len(rows), dtype=bool)
        for region in pd.unique(owner[owner != ""]):
            inside = owner == region
            plan = _plan(str(region))
            if plan is None:
                undecided[rows[inside]] = True
                decided[rows[inside]] = False
                continue
            valid[inside] = plan.valid_type(numbers[inside])
        if valid.any():
            valid[valid] = ~_dummy(numbers[valid])
        e164[rows[valid]] = ("+" + str(code) + numbers[valid]).to_numpy(dtype=object)
    return decided, e164
