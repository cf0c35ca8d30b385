"""The vectorized phone fast path must give exactly what `phonenumbers` gives, number by number."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sna.normalize.phone_fastpath import fast_e164
from sna.normalize.phones import e164_or_none, parse_unique_phones
from tests.sna.normalize.phonesample import DUMMY_PHONES, REGIONS, written_numbers

SAMPLE = 200_000
SHOP_REGIONS = list(REGIONS)
OTHER_REGIONS = ["JE", "GG", "VA", "SM", "MC", "BR", "AR", "MX", "AU", "IN", "JP", "RU", "KZ", "XX", "ZZ"]
JUNK_ALPHABET = list("0123456789      +-./()#,;xX*~ext")


def _shop_numbers(rng: np.random.Generator, n: int) -> tuple[list[str], list[str | None]]:
    """Numbers of the countries shops sell to, spelled as customers type them (`phonesample.py`)."""
    countries = np.asarray(SHOP_REGIONS)[rng.integers(0, len(SHOP_REGIONS), n)]
    raws = [raw.strip() for raw in written_numbers(rng, countries, rng.random(n) < 0.5)]
    return raws, countries.tolist()


def _mutations(rng: np.random.Generator, raws: list[str]) -> list[str]:
    """Valid-looking numbers bent the ways people type them: country code without `+`, double
    prefixes, a trunk 0 after the code, digits dropped or added, dummies."""
    out = []
    for raw in raws:
        digits = "".join(ch for ch in raw if ch.isdigit())
        choice = rng.integers(0, 9)
        out.append([
            digits, "+" + digits, "00" + digits.lstrip("0"), "33" + digits, "1" + digits, digits[:-1],
            digits + str(rng.integers(0, 10)), "000" + digits, str(rng.choice(DUMMY_PHONES)),
        ][choice])
    return out


def _junk(rng: np.random.Generator, n: int) -> list[str]:
    lengths = rng.integers(1, 22, n)
    return ["".join(rng.choice(JUNK_ALPHABET, size=length)).strip() or "0" for length in lengths]


@pytest.fixture(scope="module")
def sample() -> tuple[list[str], list[str | None]]:
    rng = np.random.default_rng(20260)
    demo, demo_regions = _shop_numbers(rng, SAMPLE // 2)
    bent = _mutations(rng, demo[: SAMPLE // 4])
    junk = _junk(rng, SAMPLE // 4)
    regions_pool = np.asarray(SHOP_REGIONS + OTHER_REGIONS, dtype=object)
    other = regions_pool[rng.integers(0, len(regions_pool), SAMPLE // 4)].tolist()
    other = [None if rng.random() < 0.03 else region for region in other]
    raws = demo + bent + junk
    regions = demo_regions + demo_regions[: SAMPLE // 4] + other
    return raws, regions


def test_fast_path_gives_what_the_library_gives_on_a_large_sample(sample) -> None:
    raws, regions = sample
    decided, fast = fast_e164(pd.Series(raws, dtype="str"), pd.Series(regions, dtype="str"))
    expected = np.asarray([e164_or_none(raw, region) for raw, region in zip(raws, regions, strict=True)],
                          dtype=object)
    mismatched = np.flatnonzero(decided & (fast != expected))
    assert mismatched.size == 0, [(raws[i], regions[i], fast[i], expected[i]) for i in mismatched[:10]]
    # The fast path must decide the common spellings of shop numbers, or it saves nothing.
    assert decided[: SAMPLE // 2].mean() > 0.99
    assert (expected[: SAMPLE // 2] != None).mean()  # noqa: E711 - element-wise on an array > 0.9


def test_undecided_numbers_fall_back_to_the_library(sample) -> None:
    raws, regions = sample
    rows = slice(SAMPLE // 2, None)  # bent numbers and junk: where the fallback is exercised
    got = parse_unique_phones(raws[rows], regions[rows])
    expected = [e164_or_none(raw, region) for raw, region in zip(raws[rows], regions[rows], strict=True)]
    assert got == expected


def test_known_shapes() -> None:
    raws = ["06 12 34 56 78", "+33 (0)6 12 34 56 78", "0033 6 12 34 56 78", "(650) 253-0000",
            "1-650-253-0000", "0611111111", "+44 (0)7400 123456", "06 12 34 56 78 ext 12"]
    regions = ["FR", "FR", "FR", "US", "US", "FR", "GB", "FR"]
    assert parse_unique_phones(raws, regions) == [e164_or_none(r, g) for r, g in zip(raws, regions, strict=True)]
    decided, fast = fast_e164(pd.Series(raws, dtype="str"), pd.Series(regions, dtype="str"))
    assert decided[:7].all() and not decided[7]
    assert fast[0] == "+33612345678" and fast[3] == "+16502530000" and fast[5] is None
