"""Phone numbers as customers type them: real national plans, many spellings per country.

Each plan draws a national significant number (NSN) from prefixes that `phonenumbers` accepts
as valid for the country, then writes it with one of the spellings seen in shops
(`06 12 34 56 78`, `+33 (0)6 ...`, `02/123.45.67`, `(650) 253-0000`, ...).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sna_demo.reference import STATES
from sna_demo.textgen import mask, pick

DUMMY_PHONES: tuple[str, ...] = ("0000000000", "0102030405", "0611111111", "0123456789")


@dataclass(frozen=True)
class NumberKind:
    """Mobile or landline numbers of one country: NSN prefixes, NSN length, spellings."""

    prefixes: tuple[str, ...]
    length: int
    patterns: tuple[str, ...]


@dataclass(frozen=True)
class PhonePlan:
    mobile: NumberKind
    landline: NumberKind


_FR = (
    "0# ## ## ## ##",
    "0#########",
    "0#.##.##.##.##",
    "+33 (0)# ## ## ## ##",
    "+33 # ## ## ## ##",
    "0033#########",
    "+33#########",
    "0#-##-##-##-##",
)
_CH = ("0## ### ## ##", "+41 ## ### ## ##", "0041#########", "0#########")
_ES = ("### ### ###", "+34 ### ### ###", "#########", "### ## ## ##")
_IT = ("### ### ####", "+39 ### ### ####", "##########", "+39##########")
_PT = ("### ### ###", "+351 ### ### ###", "#########")
_PL = ("### ### ###", "+48 ### ### ###", "#########")

PLANS: dict[str, PhonePlan] = {
    "FR": PhonePlan(
        NumberKind(("60", "61", "62", "64", "65", "66", "67", "68", "75", "76", "77", "78"), 9, _FR),
        NumberKind(("1", "2", "3", "5", "41", "43", "44", "45", "47", "49"), 9, _FR),
    ),
    "BE": PhonePlan(
        NumberKind(
            (
                "470",
                "471",
                "475",
                "476",
                "477",
                "478",
                "479",
                "484",
                "485",
                "486",
                "494",
                "495",
                "496",
                "497",
                "498",
                "499",
            ),
            9,
            ("0### ## ## ##", "+32 ### ## ## ##", "0#########", "0###/##.##.##"),
        ),
        NumberKind(("22", "23", "25", "26", "27"), 8, ("0#/###.##.##", "0# ### ## ##", "+32 # ### ## ##")),
    ),
    "CH": PhonePlan(
        NumberKind(("76", "77", "78", "79"), 9, _CH), NumberKind(("44", "22", "21", "31"), 9, _CH)
    ),
    "DE": PhonePlan(
        NumberKind(
            ("151", "176", "177", "178", "179"),
            11,
            ("0### ########", "0###-########", "+49 ### ########", "0###########"),
        ),
        NumberKind(("30",), 10, ("0## ########", "+49 ## ########", "0##/########")),
    ),
    "ES": PhonePlan(NumberKind(("6",), 9, _ES), NumberKind(("91", "93", "96"), 9, _ES)),
    "IT": PhonePlan(
        NumberKind(
            (
                "320",
                "328",
                "329",
                "333",
                "335",
                "338",
                "339",
                "340",
                "347",
                "348",
                "349",
                "366",
                "380",
                "389",
                "392",
                "393",
            ),
            10,
            _IT,
        ),
        NumberKind(("02", "06"), 10, _IT),
    ),
    "GB": PhonePlan(
        NumberKind(
            ("74", "75", "77", "78", "79"),
            10,
            ("0#### ######", "+44 #### ######", "0##########", "+44 (0)#### ######"),
        ),
        NumberKind(("207", "208", "203"), 10, ("0## #### ####", "+44 ## #### ####")),
    ),
    "NL": PhonePlan(
        NumberKind(
            ("61", "62", "63", "64", "65"),
            9,
            ("0# ########", "0#-########", "+31 # ########", "+31 (0)# ########"),
        ),
        NumberKind(("20",), 9, ("0## ### ####", "+31 ## ### ####")),
    ),
    "LU": PhonePlan(
        NumberKind(("621", "628", "661", "671", "691"), 9, ("### ### ###", "+352 ### ### ###")),
        NumberKind(("621", "691"), 9, ("### ### ###", "00352 ### ### ###")),
    ),
    "PT": PhonePlan(NumberKind(("91", "92", "93", "96"), 9, _PT), NumberKind(("21", "22"), 9, _PT)),
    "AT": PhonePlan(
        NumberKind(("664", "676", "699", "650"), 10, ("0### #######", "+43 ### #######")),
        NumberKind(("15", "17", "18"), 8, ("0# #######", "+43 # #######")),
    ),
    "PL": PhonePlan(
        NumberKind(("50", "51", "53", "57", "60", "66", "69", "72", "73", "78", "79", "88"), 9, _PL),
        NumberKind(("22",), 9, ("## ### ## ##", "+48 ## ### ## ##")),
    ),
}
# US and Canada: area code from the state, exchange 2-9.., then line number.
NANP_PATTERNS = ("(###) ###-####", "###-###-####", "+1 ### ### ####", "1-###-###-####", "###.###.####")


@dataclass(frozen=True)
class _Layout:
    """Every (plan, prefix) and (plan, pattern) pair flattened into arrays for numpy gathers."""

    plan_of: dict[str, int]
    prefix_start: np.ndarray  # per plan: first prefix entry, count
    prefix_count: np.ndarray
    prefix_bytes: np.ndarray  # per prefix entry: NSN prefix, padded
    prefix_length: np.ndarray
    pattern_start: np.ndarray
    pattern_count: np.ndarray
    literal: np.ndarray  # per pattern entry: bytes of the pattern, padded
    slot: np.ndarray  # per pattern entry and position: NSN digit index, -1 for a literal


_NSN_WIDTH = 12
_TEXT_WIDTH = 24


def _kinds() -> dict[str, NumberKind]:
    kinds = {}
    for iso, plan in PLANS.items():
        kinds[f"{iso}:mobile"] = plan.mobile
        kinds[f"{iso}:landline"] = plan.landline
    for state in STATES:
        if state.area_codes:
            prefixes = tuple(f"{code}{digit}" for code in state.area_codes for digit in "23456789")
            kinds[f"state:{state.id}"] = NumberKind(prefixes, 10, NANP_PATTERNS)
    kinds["US:any"] = NumberKind(("6502", "2125"), 10, NANP_PATTERNS)
    kinds["CA:any"] = NumberKind(("5142", "4162"), 10, NANP_PATTERNS)
    return kinds


@functools.cache
def _layout() -> _Layout:
    kinds = _kinds()
    prefixes = [(p, kind.length) for kind in kinds.values() for p in kind.prefixes]
    patterns = [(p, kind.length) for kind in kinds.values() for p in kind.patterns]
    prefix_bytes = np.zeros((len(prefixes), _NSN_WIDTH), dtype=np.uint8)
    for row, (prefix, _length) in enumerate(prefixes):
        prefix_bytes[row, : len(prefix)] = np.frombuffer(prefix.encode(), dtype=np.uint8)
    literal = np.zeros((len(patterns), _TEXT_WIDTH), dtype=np.uint8)
    slot = np.full((len(patterns), _TEXT_WIDTH), -1, dtype=np.int64)
    for row, (pattern, length) in enumerate(patterns):
        if pattern.count("#") != length:
            raise ValueError(f"phone pattern {pattern!r} does not hold {length} digits")
        literal[row, : len(pattern)] = np.frombuffer(pattern.encode(), dtype=np.uint8)
        positions = np.flatnonzero(literal[row] == ord("#"))
        slot[row, positions] = np.arange(len(positions))
    return _Layout(
        plan_of={key: index for index, key in enumerate(kinds)},
        prefix_start=np.cumsum([0] + [len(k.prefixes) for k in kinds.values()])[:-1],
        prefix_count=np.asarray([len(k.prefixes) for k in kinds.values()]),
        prefix_bytes=prefix_bytes,
        prefix_length=np.asarray([len(p) for p, _l in prefixes]),
        pattern_start=np.cumsum([0] + [len(k.patterns) for k in kinds.values()])[:-1],
        pattern_count=np.asarray([len(k.patterns) for k in kinds.values()]),
        literal=literal,
        slot=slot,
    )


def _plan_keys(countries: np.ndarray, state_ids: np.ndarray, mobile: np.ndarray) -> np.ndarray:
    layout = _layout()
    keys = pd.Series(countries).astype("str") + np.where(mobile, ":mobile", ":landline")
    nanp = np.isin(countries, ["US", "CA"])
    keys[nanp] = pd.Series(countries[nanp]).astype("str").to_numpy() + ":any"
    with_state = nanp & np.isin(state_ids, [s.id for s in STATES if s.area_codes])
    keys[with_state] = "state:" + pd.Series(state_ids[with_state]).astype("str").to_numpy()
    return keys.map(layout.plan_of).to_numpy(dtype=np.int64)


def phone_numbers(
    rng: np.random.Generator, countries: np.ndarray, state_ids: np.ndarray, mobile: np.ndarray
) -> pd.Series:
    """One written phone number per row, valid for the row's country (ISO codes).

    Built as a byte matrix: NSN = prefix + random digits, then each text position takes either
    a literal of the chosen pattern or one NSN digit.
    """
    layout = _layout()
    n = len(countries)
    plan = _plan_keys(countries, state_ids, mobile)
    prefix = layout.prefix_start[plan] + (rng.random(n) * layout.prefix_count[plan]).astype(np.int64)
    nsn = (rng.integers(0, 10, size=(n, _NSN_WIDTH)) + ord("0")).astype(np.uint8)
    in_prefix = np.arange(_NSN_WIDTH) < layout.prefix_length[prefix][:, None]
    nsn = np.where(in_prefix, layout.prefix_bytes[prefix], nsn)
    pattern = layout.pattern_start[plan] + (rng.random(n) * layout.pattern_count[plan]).astype(np.int64)
    slot = layout.slot[pattern]
    text = np.where(slot >= 0, np.take_along_axis(nsn, np.maximum(slot, 0), axis=1), layout.literal[pattern])
    strings = np.ascontiguousarray(text).view(f"S{_TEXT_WIDTH}").ravel()
    return pd.Series(strings.astype(f"U{_TEXT_WIDTH}")).astype("str")


def address_phones(
    rng: np.random.Generator, countries: np.ndarray, state_ids: np.ndarray
) -> tuple[pd.Series, pd.Series]:
    """`phone` and `phone_mobile` columns with the mess of real shops.

    Often identical, a mobile typed in `phone`, dummies (0102030405...), empty strings and NULLs.
    """
    n = len(countries)
    mobile_in_phone = mask(rng, n, 0.45)
    phone = phone_numbers(rng, countries, state_ids, mobile_in_phone)
    phone_mobile = phone_numbers(rng, countries, state_ids, np.ones(n, dtype=bool))
    same = mask(rng, n, 0.25)
    phone_mobile[same] = phone[same]
    phone_mobile = phone_mobile.where(~mask(rng, n, 0.35), None)  # many leave the mobile empty
    dummy = mask(rng, n, 0.02)
    phone[dummy] = pick(rng, int(dummy.sum()), DUMMY_PHONES).to_numpy()
    phone = phone.where(~mask(rng, n, 0.04), "")
    phone = phone.where(~mask(rng, n, 0.03), None)
    return phone, phone_mobile
