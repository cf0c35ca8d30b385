"""Postcode cleaning and the shop's `zip_code_format` check (docs/formats.md, "Postcodes").

Rows are processed per distinct (country, format) pair: a chunk holds a few dozen countries at
most, so each group gets a handful of vectorized regular-expression passes with its own pattern.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from sna.normalize.text import WHITESPACE, as_text, collapse_whitespace

# Old international vehicle codes still written before postcodes (`F-75001`, `B-1000`, `D-10115`).
# The country's ISO code (`FR-75001`, `CH-8001`) is always accepted as well. A prefix is dropped
# only for the address's own country, so `B` never touches a British `B1 1AA`.
VEHICLE_CODES: dict[str, tuple[str, ...]] = {
    "AT": ("A",),
    "BE": ("B",),
    "DE": ("D",),
    "DK": ("DK",),
    "ES": ("E",),
    "FI": ("FIN", "SF"),
    "FR": ("F",),
    "GB": ("UK",),
    "HU": ("H",),
    "IE": ("IRL",),
    "IT": ("I",),
    "LI": ("FL",),
    "LU": ("L",),
    "NO": ("N",),
    "PT": ("P",),
    "SE": ("S",),
    "SI": ("SLO",),
}

US = "US"
MAX_FORMAT_LENGTH = 12
"""`ps_country.zip_code_format` is a VARCHAR(12): a longer format is not the shop's, and is ignored."""
_SAFE_ZIP = r"[A-Z0-9](?:[A-Z0-9 \-]*[A-Z0-9])?"
_ALL_ZEROS = r"[0 \-]+"
_US_ZIP = r"[0-9]{5}(?:-[0-9]{4})?"


def clean_zips(raw: pd.Series, country: pd.Series, zip_format: pd.Series) -> tuple[pd.Series, pd.Series]:
    """The Google form of each postcode (uppercase, prefix dropped, laid out as the format) and
    whether it is valid. `country` is the cleaned uppercase ISO code (or missing).

    Choices: a postcode may only hold letters, digits, spaces and inner hyphens (which also keeps
    formula characters out of the file); a postcode of zeros only is invalid (`00000`, `0000`);
    when the country has a format, spaces and hyphens are ignored while matching and the result
    is written in the format's own layout (`1234ab` → `1234 AB` for `NNNN LL`, `' 75 016'` →
    `75016`); a format holding the ISO code (`C`) keeps the code, so no prefix is dropped there.
    """
    raw, country, zip_format = as_text(raw), as_text(country), as_text(zip_format)
    key = raw.fillna("\x00") + "\x1f" + country.fillna("") + "\x1f" + zip_format.fillna("")
    codes, uniques = pd.factorize(key)
    if len(uniques) * 2 > len(key):
        return _clean_zips(raw, country, zip_format)
    _, first_rows = np.unique(codes, return_index=True)
    text, valid = _clean_zips(raw.iloc[first_rows], country.iloc[first_rows], zip_format.iloc[first_rows])
    return text.take(codes).set_axis(raw.index), valid.take(codes).set_axis(raw.index)


def _clean_zips(raw: pd.Series, country: pd.Series, zip_format: pd.Series) -> tuple[pd.Series, pd.Series]:
    text = collapse_whitespace(raw.str.normalize("NFKC").str.upper())
    zip_format = zip_format.str.strip().str.upper().fillna("")
    zip_format = zip_format.where(zip_format.str.len() <= MAX_FORMAT_LENGTH, "")
    keys = country.fillna("") + "|" + zip_format
    codes, uniques = pd.factorize(keys)  # -1: no key (misaligned inputs): text kept, invalid
    order = np.argsort(codes, kind="stable")  # the rows group by group, each group in row order
    bounds = np.searchsorted(codes[order], np.arange(-1, len(uniques) + 1))
    texts, valids = [], []
    for group, key in enumerate([None, *uniques.tolist()]):
        rows = text.iloc[order[bounds[group]:bounds[group + 1]]]
        if key is None:
            cleaned, ok = rows, np.zeros(len(rows), dtype=bool)
        else:
            code, layout = key.split("|", 1)
            cleaned, ok = _clean_group(rows, code, layout)
        texts.append(cleaned.astype(text.dtype))
        valids.append(np.asarray(ok, dtype=bool))
    back = np.argsort(order)  # grouped position of each row
    index = text.index
    text = pd.concat(texts, ignore_index=True).take(back).set_axis(index)
    valid = pd.Series(np.concatenate(valids)[back], index=index)
    valid &= text.str.fullmatch(_SAFE_ZIP).fillna(False).astype(bool)
    valid &= ~text.str.fullmatch(_ALL_ZEROS).fillna(False).astype(bool)
    return text, valid


def _clean_group(text: pd.Series, country: str, layout: str) -> tuple[pd.Series, pd.Series]:
    """Postcodes of one country with one format: prefix, layout, validity."""
    if country and "C" not in layout:
        codes = "|".join(re.escape(code) for code in (country, *VEHICLE_CODES.get(country, ())))
        text = text.str.replace(rf"^(?:{codes})(?: ?- ?| )", "", regex=True)
    if country == US:
        return _clean_us(text, layout)
    if not layout:
        return text, text.str.len().fillna(0) > 0
    pattern, rebuild = _layout_regex(layout, country)
    compact = text.str.replace(r"[ \-]+", "", regex=True)
    matches = compact.str.fullmatch(pattern).fillna(False).astype(bool)
    laid_out = compact.str.replace(f"^{pattern}$", rebuild, regex=True)
    return text.mask(matches, laid_out), matches


def _clean_us(text: pd.Series, layout: str) -> tuple[pd.Series, pd.Series]:
    """US: 5 digits or ZIP+4; a zip that lost its leading zero (4 digits) is padded."""
    text = text.str.replace(rf"{WHITESPACE}+", "", regex=True)
    text = text.str.replace(r"^([0-9]{5})-?([0-9]{4})$", r"\1-\2", regex=True)
    text = text.str.replace(r"^([0-9]{4}(?:-[0-9]{4})?)$", r"0\1", regex=True)
    valid = text.str.fullmatch(_US_ZIP).fillna(False).astype(bool)
    if layout:
        pattern, _ = _layout_regex(layout, US)
        valid &= text.str.slice(0, 5).str.fullmatch(pattern).fillna(False).astype(bool)
    return text, valid


def _layout_regex(layout: str, country: str) -> tuple[str, str]:
    """`NNNN LL` → (`([0-9]{4})([A-Z]{2})`, `\\1 \\2`): the format without its separators, with one
    group per run between separators, and the replacement that puts the separators back."""
    groups: list[str] = []
    rebuild = ""
    current = ""
    for symbol in layout:
        if symbol in "NLC":
            current += {"N": "[0-9]", "L": "[A-Z]", "C": re.escape(country)}[symbol]
            continue
        if symbol in " -" and current:
            groups.append(current)
            rebuild += f"\\{len(groups)}{symbol}"
            current = ""
        elif symbol not in " -":
            current += re.escape(symbol)
    if current:
        groups.append(current)
        rebuild += f"\\{len(groups)}"
    return "".join(f"({group})" for group in groups), rebuild
