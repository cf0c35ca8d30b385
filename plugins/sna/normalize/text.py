r"""Column-wise text cleaning shared by the platform profiles: e-mails, names, cities, countries.

Every function takes and returns whole pandas columns. They run on pandas' pyarrow-backed string
dtype, so the regular expressions are RE2 syntax (`\p{L}` = any letter) evaluated by pyarrow over
the column: a million customers cost a few passes in C, not a million Python calls.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa

Result = TypeVar("Result", pd.Series, pd.DataFrame)

TEXT_DTYPE = "str"  # pandas 3 string dtype: pyarrow storage, NaN for missing values

# Unicode white space (RE2 `\s` alone is ASCII only: no-break spaces come from copy-pasted forms).
WHITESPACE = r"[\s\p{Z}]"

OK, MISSING, INVALID = "ok", "missing", "invalid"

# The placeholders shops and marketplace connectors put in name fields (docs/formats.md, "Names").
PLACEHOLDER_NAMES = ("-", ".", "x", "anonymous", "n/a", "test")

# RFC 5322 dot-atom local part and a host name of at least two labels, ASCII only (choice: an
# internationalized address cannot be matched reliably by either platform).
_ATOM = r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"
EMAIL_PATTERN = rf"{_ATOM}(?:\.{_ATOM})*@{_LABEL}(?:\.{_LABEL})+"
EMAIL_MAX_LENGTH = 254
# Choice: an address whose first character starts a spreadsheet formula is refused (`=1+1@x.com`),
# so that no e-mail cell of a file opened in a spreadsheet runs as one. RFC 5322 allows such local
# parts, but neither platform matches them in practice. (`@` cannot start a valid address anyway.)
EMAIL_FORMULA_START = r"[=+\-@]"
GMAIL_DOMAINS = ("gmail.com", "googlemail.com")

# Letters that Unicode decomposition does not reduce to ASCII, folded as people write them.
_ASCII_FOLDS = {"ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i"}


def as_text(values: pd.Series) -> pd.Series:
    """The column as pandas' pyarrow string dtype, so the RE2 patterns of this package apply."""
    return values.astype(TEXT_DTYPE)


def per_distinct(values: pd.Series, transform: Callable[[pd.Series], Result]) -> Result:
    """`transform(values)`, computed once per distinct value: names, cities and birthdays repeat a
    lot across a million customers, so the work shrinks to the distinct values plus one take."""
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    if len(uniques) * 2 > len(values):
        return transform(values)
    result = transform(pd.Series(uniques, dtype=values.dtype))
    return result.take(codes).set_axis(values.index)


def is_blank(text: pd.Series) -> pd.Series:
    """True where the value is absent or only white space: such a field is "missing"."""
    return (text.isna() | text.str.fullmatch(rf"{WHITESPACE}*")).astype(bool)


def trim(text: pd.Series) -> pd.Series:
    return text.str.replace(rf"^{WHITESPACE}+|{WHITESPACE}+$", "", regex=True)


def collapse_whitespace(text: pd.Series) -> pd.Series:
    """Trim, and turn every run of white space (tabs, no-break spaces...) into one plain space."""
    return trim(text.str.replace(rf"{WHITESPACE}+", " ", regex=True))


UNDECODABLE = "\ufffd"
"""What the source reader puts where the shop database held bytes that are not UTF-8 (a latin-1
last name in a SQLite shop): such a value is invalid, never guessed at."""


def is_undecodable(text: pd.Series) -> pd.Series:
    return text.str.contains(UNDECODABLE, regex=False).fillna(False).astype(bool)


_STATUSES = pa.array([MISSING, INVALID, OK], type=pa.large_string())


def field_status(present: pd.Series, valid: pd.Series) -> pd.Series:
    """ "ok" / "missing" / "invalid" per row, the vocabulary of the exclusion reasons.
    (One Arrow `take` of the three words: no numpy string array converted cell by cell.)"""
    index = present.index
    present = present.fillna(False).astype(bool).to_numpy()
    valid = valid.fillna(False).astype(bool).to_numpy()
    codes = np.where(present, np.where(valid, 2, 1), 0)
    return _STATUSES.take(pa.array(codes)).to_pandas().astype(TEXT_DTYPE).set_axis(index)


# --- e-mail -----------------------------------------------------------------------------------


def google_email(raw: pd.Series) -> pd.Series:
    """NFC, every white space removed, lowercase; gmail.com/googlemail.com lose dots and +suffix.

    Google matches Gmail accounts the way Gmail delivers mail: `jane.doe+shop@gmail.com` is
    `janedoe@gmail.com`. googlemail.com is kept as is (Google's rule, not rewritten to gmail.com).
    """
    text = as_text(raw).str.normalize("NFC").str.replace(rf"{WHITESPACE}+", "", regex=True).str.lower()
    domains = "|".join(domain.replace(".", r"\.") for domain in GMAIL_DOMAINS)
    gmail = text.str.fullmatch(rf"[^@]*@(?:{domains})").fillna(False).astype(bool)
    if gmail.any():
        parts = text[gmail].str.partition("@")
        local = parts[0].str.replace(".", "", regex=False).str.replace(r"\+.*$", "", regex=True)
        text = text.mask(gmail, local + "@" + parts[2])
    return text


def meta_email(raw: pd.Series) -> pd.Series:
    """NFC, trimmed, lowercase: Meta applies no provider-specific rule."""
    return trim(as_text(raw).str.normalize("NFC")).str.lower()


def is_valid_email(email: pd.Series) -> pd.Series:
    """Validity of the normalized value: one @, non-empty local part, dotted domain, allowed characters;
    and (choice) no first character that starts a spreadsheet formula (`=`, `+`, `-`, `@`)."""
    shaped = email.str.fullmatch(EMAIL_PATTERN).fillna(False).astype(bool)
    formula = email.str.match(EMAIL_FORMULA_START).fillna(False).astype(bool)
    return shaped & ~formula & (email.str.len().fillna(0) <= EMAIL_MAX_LENGTH)


# --- names ------------------------------------------------------------------------------------


def name_is_valid(raw: pd.Series) -> pd.Series:
    """Validity, judged on the trimmed lowercased raw value: a letter somewhere, and not a placeholder."""
    return per_distinct(as_text(raw), _name_is_valid)


def _name_is_valid(raw: pd.Series) -> pd.Series:
    judged = trim(as_text(raw)).str.lower()
    has_letter = judged.str.contains(r"\p{L}").fillna(False).astype(bool)
    return has_letter & ~judged.isin(PLACEHOLDER_NAMES)


def google_name(raw: pd.Series) -> pd.Series:
    """NFC, lowercase, single spaces, accents, `'` and `-` kept (Google).

    Safety choice: the cell keeps only letters, combining marks, spaces, `'` and `-`, and never
    starts or ends with `'`, `-` or a space, so no cell can start a spreadsheet formula
    (`=`, `+`, `-`, `@`) when a user opens the clear file, and no control character survives.
    Typographic apostrophes (’ ʼ ‘) and Unicode hyphens become `'` and `-` first, so `D’Angelo`
    and `D'Angelo` give the same string.
    """
    return per_distinct(as_text(raw), _google_name)


def _google_name(raw: pd.Series) -> pd.Series:
    text = as_text(raw).str.normalize("NFC")
    text = text.str.replace(r"[\x{2019}\x{02BC}\x{2018}]", "'", regex=True)
    text = text.str.replace(r"[\x{2010}\x{2011}]", "-", regex=True)
    text = text.str.replace(rf"{WHITESPACE}+", " ", regex=True)
    text = text.str.replace(r"[^\p{L}\p{M} '\-]+", "", regex=True)
    # A combining mark left at the start (its letter was dropped) would begin the cell with no letter.
    text = text.str.replace(r" {2,}", " ", regex=True).str.replace(r"^[ '\-\p{M}]+|[ '\-]+$", "", regex=True)
    return text.str.lower()


def meta_name(raw: pd.Series) -> pd.Series:
    """NFC, lowercase, letters only, accents kept: `Jean-Pierre` → `jeanpierre` (Meta)."""
    return per_distinct(as_text(raw), _meta_name)


def _meta_name(raw: pd.Series) -> pd.Series:
    return as_text(raw).str.normalize("NFC").str.lower().str.replace(r"[^\p{L}]+", "", regex=True)


# --- city and country -------------------------------------------------------------------------


def city_is_valid(raw: pd.Series) -> pd.Series:
    """A city has at least one letter."""
    return per_distinct(as_text(raw), _city_is_valid)


def _city_is_valid(raw: pd.Series) -> pd.Series:
    return as_text(raw).str.contains(r"\p{L}").fillna(False).astype(bool)


def ascii_letters(raw: pd.Series) -> pd.Series:
    """Accents folded to ASCII, lowercase, `a-z` only: `Saint-Étienne` → `saintetienne` (Meta ct)."""
    return per_distinct(as_text(raw), _ascii_letters)


def _ascii_letters(raw: pd.Series) -> pd.Series:
    text = as_text(raw).str.lower()
    for letter, folded in _ASCII_FOLDS.items():
        text = text.str.replace(letter, folded, regex=False)
    return text.str.normalize("NFKD").str.replace(r"[^a-z]+", "", regex=True)


def iso_country(raw: pd.Series) -> pd.Series:
    """The address country's ISO 3166-1 alpha-2 code, trimmed and uppercase."""
    return trim(as_text(raw)).str.upper()


def is_valid_country(country: pd.Series) -> pd.Series:
    return country.str.fullmatch(r"[A-Z]{2}").fillna(False).astype(bool)
