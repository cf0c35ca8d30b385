"""Phone numbers as shop customers type them, for the fast-path comparison (no demo shop needed).

Each region's layouts come from `phonenumbers`' own example numbers: the example's national and
international spellings become templates (`06 12 34 56 78` -> `0# ## ## ## ##`), and a number is
the example's leading digits followed by random ones, written with one of the templates or one of
their common variants (dots, dashes, no separator, `0033...`, `+33 (0)...`). Many of them are
valid numbers, some are not: both paths must give the same answer either way.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType

REGIONS = ("FR", "BE", "CH", "DE", "ES", "IT", "GB", "NL", "LU", "PT", "AT", "PL", "US", "CA")
DUMMY_PHONES = ("0000000000", "0102030405", "0611111111", "0123456789")
NANP_AREA_CODES = ("650", "415", "213", "212", "718", "512", "214", "514", "416", "604")


def _template(text: str, nsn_length: int) -> str:
    """`text` with its last `nsn_length` digits turned into `#` slots (the national number)."""
    chars = list(text)
    left = nsn_length
    for index in range(len(chars) - 1, -1, -1):
        if left and chars[index].isdigit():
            chars[index] = "#"
            left -= 1
    return "".join(chars)


def _variants(national: str, international: str, region: str) -> list[str]:
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    code = str(metadata.country_code)
    nsn_slots = "#" * international.count("#")
    spellings = [
        national,
        national.replace(" ", "."),
        national.replace(" ", "-"),
        national.replace(" ", "").replace("-", "").replace("(", "").replace(")", ""),
        national.replace(" ", "/", 1).replace(" ", "."),
        international,
        f"+{code}{nsn_slots}",
    ]
    if metadata.international_prefix == "00":
        spellings.append(f"00{code}{nsn_slots}")
    if metadata.national_prefix == "0":
        spellings.append(international.replace(f"+{code} ", f"+{code} (0)", 1))
    return list(dict.fromkeys(spellings))


@cache
def _plans(region: str, mobile: bool) -> tuple[str, tuple[str, ...]]:
    """The example national significant number and the spellings of one region and kind."""
    kind = PhoneNumberType.MOBILE if mobile else PhoneNumberType.FIXED_LINE
    example = phonenumbers.example_number_for_type(region, kind)
    nsn = phonenumbers.national_significant_number(example)
    national = _template(phonenumbers.format_number(example, PhoneNumberFormat.NATIONAL), len(nsn))
    international = _template(phonenumbers.format_number(example, PhoneNumberFormat.INTERNATIONAL), len(nsn))
    return nsn, tuple(_variants(national, international, region))


def _national_number(rng: np.random.Generator, region: str, example: str) -> str:
    if region in ("US", "CA"):
        area = NANP_AREA_CODES[int(rng.integers(0, len(NANP_AREA_CODES)))]
        return area + str(int(rng.integers(2, 10))) + "".join(map(str, rng.integers(0, 10, 6)))
    random_tail = int(rng.integers(3, 6))
    return example[:-random_tail] + "".join(map(str, rng.integers(0, 10, random_tail)))


def written_numbers(rng: np.random.Generator, regions: np.ndarray, mobile: np.ndarray) -> list[str]:
    """One written number per row, in the row's region, mobile or landline."""
    numbers = []
    for region, is_mobile in zip(regions.tolist(), mobile.tolist(), strict=True):
        example, spellings = _plans(region, bool(is_mobile))
        digits = iter(_national_number(rng, region, example))
        template = spellings[int(rng.integers(0, len(spellings)))]
        numbers.append("".join(next(digits) if char == "#" else char for char in template))
    return numbers
