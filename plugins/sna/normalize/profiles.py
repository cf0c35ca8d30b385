"""The two platform profiles: how one raw customer becomes a Google row or a Meta row.

The same customer gives different strings per platform (gmail dots, `+` in phones, punctuation in
names, case of the country, hashing of the zip: docs/formats.md), so each platform has its
own profile and nothing platform-specific is shared. `Profile.normalize` is a template method:
the validity rules are common, each subclass says how its e-mail is normalized and which
columns it writes.
"""

from __future__ import annotations

import datetime
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd

from sna.errors import DataContractError
from sna.layouts import GOOGLE, META, layout_for
from sna.normalize import text as tx
from sna.normalize.dates import parse_birthdays
from sna.normalize.phones import parse_phones
from sna.normalize.zips import clean_zips

FIELDS = ("email", "phone", "first_name", "last_name", "zip", "country", "city", "birthday")


@dataclass(frozen=True)
class CleanFields:
    """What both profiles derive from a raw chunk before writing their own columns."""

    raw: pd.DataFrame
    email: pd.Series  # the platform-normalized e-mail, every row
    phone: pd.Series  # E.164 with `+`, missing unless valid
    country: pd.Series  # uppercase ISO code
    zip: pd.Series  # Google form of the postcode (uppercase, prefix dropped)
    birthdays: pd.DataFrame  # status, dob, doby, age
    status: dict[str, pd.Series]

    def ok(self, field: str) -> np.ndarray:
        return (self.status[field] == tx.OK).to_numpy()

    def kept(self, values: pd.Series, field: str) -> pd.Series:
        """The value where the field is valid, missing elsewhere: invalid values are never written."""
        return values.astype(tx.TEXT_DTYPE).where(self.ok(field))


class Profile(ABC):
    """One platform's file: its header, which columns are hashed, and how values are normalized."""

    platform: ClassVar[str]
    header: ClassVar[tuple[str, ...]]
    hashed_columns: ClassVar[frozenset[str]]
    required_fields: ClassVar[tuple[str, ...]]
    value_column: ClassVar[str | None] = None
    minimum_members: ClassVar[int] = 100
    """Below this many rows the platform will not use the list (a match hint, not a refusal)."""
    minimum_hint: ClassVar[str]

    @classmethod
    def warnings(cls, rows: int) -> list[str]:
        """Counts a marketer must hear about: nothing exported, or fewer members than the platform uses."""
        said = ["no customer was exported"] if rows == 0 else []
        if rows < cls.minimum_members:
            said.append(f"{rows} rows: {cls.minimum_hint}")
        return said

    def normalize(self, raw: pd.DataFrame, reference_date: datetime.date) -> pd.DataFrame:
        """A raw customer chunk → `status_<field>` for every field, the clear value of every file
        column (missing where the field is missing or invalid), and `dedupe_email`."""
        fields = self._clean(raw, reference_date)
        out = pd.DataFrame(index=raw.index)
        for field in FIELDS:
            out[f"status_{field}"] = fields.status[field]
        for column, values in self._columns(fields).items():
            out[column] = values
        out["dedupe_email"] = fields.kept(fields.email, "email")
        return out

    def file_header(self, *, with_value: bool) -> tuple[str, ...]:
        return layout_for(self.platform).file_header(with_value=with_value)

    def output_frame(
        self, normalized: pd.DataFrame, *, require_complete: bool, with_value: bool
    ) -> pd.DataFrame:
        """The file's columns in order, clear values, "" for empty cells.

        With `require_complete` every row must have all required fields valid: a row that does not
        is a bug upstream (the filters let it through), so it raises rather than writing a
        partial row the audience did not ask for.
        """
        columns = self.file_header(with_value=with_value)
        if require_complete:
            complete = np.ones(len(normalized), dtype=bool)
            for field in self.required_fields:
                complete &= (normalized[f"status_{field}"] == tx.OK).to_numpy()
            if not complete.all():
                raise DataContractError(
                    f"{self.platform} export: {int((~complete).sum())} rows lack a required field "
                    "although the audience requires complete records"
                )
        frame = normalized.loc[:, list(columns)].astype(tx.TEXT_DTYPE)
        frame = self._apply_row_rules(frame)
        return frame.fillna("")

    def _apply_row_rules(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Hook for a platform rule that spans several columns of one row."""
        return frame

    @abstractmethod
    def normalize_email(self, raw: pd.Series) -> pd.Series:
        """The e-mail as this platform matches it (also the key for duplicate e-mails)."""

    @abstractmethod
    def _columns(self, fields: CleanFields) -> dict[str, pd.Series]:
        """Every output column (header, and `value` if the platform has one) for the chunk."""

    def _clean(self, raw: pd.DataFrame, reference_date: datetime.date) -> CleanFields:
        """The validity rules, shared by both platforms."""
        email = self.normalize_email(raw["email"])
        phones = parse_phones(raw["phone"], raw["phone_mobile"], raw["country"])
        country = tx.iso_country(raw["country"])
        zips, zip_valid = clean_zips(
            raw["postcode"], country.where(tx.is_valid_country(country)), raw["zip_code_format"]
        )
        birthdays = parse_birthdays(raw["birthday"], reference_date)

        def status(column: str, valid: pd.Series) -> pd.Series:
            text = tx.as_text(raw[column])
            return tx.field_status(~tx.is_blank(text), valid & ~tx.is_undecodable(text))

        return CleanFields(
            raw=raw,
            email=email,
            phone=phones["e164"],
            country=country,
            zip=zips,
            birthdays=birthdays,
            status={
                "email": status("email", tx.is_valid_email(email)),
                "phone": phones["status"],
                "first_name": status("firstname", tx.name_is_valid(raw["firstname"])),
                "last_name": status("lastname", tx.name_is_valid(raw["lastname"])),
                "zip": status("postcode", zip_valid),
                "country": status("country", tx.is_valid_country(country)),
                "city": status("city", self._city_is_valid(raw["city"])),
                "birthday": birthdays["status"],
            },
        )

    def _city_is_valid(self, raw: pd.Series) -> pd.Series:
        return tx.city_is_valid(raw)


class GoogleProfile(Profile):
    """Google Ads Customer Match: e-mail, phone, and the name + country + zip address key."""

    platform = GOOGLE.platform
    header = GOOGLE.header
    hashed_columns = frozenset({"Email", "Phone", "First Name", "Last Name"})
    required_fields = GOOGLE.required_fields
    minimum_hint = ("Google Ads serves a Customer Match list once at least 100 of its members are matched "
                    "(1,000 for Search)")
    address_columns = ("First Name", "Last Name", "Country", "Zip")

    def normalize_email(self, raw: pd.Series) -> pd.Series:
        return tx.google_email(raw)

    def _columns(self, fields: CleanFields) -> dict[str, pd.Series]:
        raw = fields.raw
        return {
            "Email": fields.kept(fields.email, "email"),
            "Phone": fields.kept(fields.phone, "phone"),
            "First Name": fields.kept(tx.google_name(raw["firstname"]), "first_name"),
            "Last Name": fields.kept(tx.google_name(raw["lastname"]), "last_name"),
            "Country": fields.kept(fields.country, "country"),
            "Zip": fields.kept(fields.zip, "zip"),
        }

    def _apply_row_rules(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Google matches an address only on first name, last name, country and zip together: a
        row that lacks one of them (possible with `require_complete: false`) gets none of them."""
        present = [column for column in self.address_columns if column in frame.columns]
        partial = frame[present].isna().any(axis=1).to_numpy()
        if partial.any():
            frame = frame.copy()
            frame.loc[partial, present] = np.nan
        return frame


class MetaProfile(Profile):
    """Meta customer list: identifiers, address, birthday, gender, age and optional value."""

    platform = META.platform
    header = META.header
    hashed_columns = frozenset(
        {"email", "phone", "fn", "ln", "zip", "ct", "st", "country", "dob", "doby", "gen"}
    )
    required_fields = META.required_fields
    value_column = META.value_column
    minimum_hint = "Meta advises customer lists of at least 100 people (it matches only part of them)"
    GENDERS: ClassVar[dict[float, str]] = {0.0: "m", 1.0: "f"}  # ps_gender.type: 0 male, 1 female, 2 other

    def normalize_email(self, raw: pd.Series) -> pd.Series:
        return tx.meta_email(raw)

    def _city_is_valid(self, raw: pd.Series) -> pd.Series:
        """Choice: a city whose letters all fold away (`東京`) is invalid for Meta: its ct would be
        empty, and Meta asks for `a-z` only."""
        return tx.city_is_valid(raw) & (tx.ascii_letters(raw).str.len().fillna(0) > 0)

    def _columns(self, fields: CleanFields) -> dict[str, pd.Series]:
        raw = fields.raw
        return {
            "email": fields.kept(fields.email, "email"),
            "phone": fields.kept(fields.phone.str.removeprefix("+"), "phone"),
            "fn": fields.kept(tx.meta_name(raw["firstname"]), "first_name"),
            "ln": fields.kept(tx.meta_name(raw["lastname"]), "last_name"),
            "zip": fields.kept(self._zip(fields), "zip"),
            "ct": fields.kept(tx.ascii_letters(raw["city"]), "city"),
            "st": self._state(fields),
            "country": fields.kept(fields.country.str.lower(), "country"),
            "dob": fields.birthdays["dob"],
            "doby": fields.birthdays["doby"],
            "gen": self._gender(raw["gender_type"]),
            "age": fields.birthdays["age"],
            "value": self._value(raw["total_spent"]),
        }

    @staticmethod
    def _zip(fields: CleanFields) -> pd.Series:
        """Google's cleaning, then lowercase without spaces; US keeps the 5-digit part only."""
        meta_zip = fields.zip.str.lower().str.replace(r"[\s\p{Z}]+", "", regex=True)
        us = (fields.country == "US").fillna(False).to_numpy()
        return meta_zip.mask(us, meta_zip.str.slice(0, 5))

    @staticmethod
    def _state(fields: CleanFields) -> pd.Series:
        """US: the 2-letter state code; elsewhere the shop's state code; lowercase, letters and
        digits only (Meta: no punctuation, no spaces). Empty when unknown."""
        state = tx.as_text(fields.raw["state"]).str.lower().str.replace(r"[^a-z0-9]+", "", regex=True)
        state = state.where(state.str.len().fillna(0) > 0)
        us = (fields.country == "US").fillna(False).to_numpy()
        us_ok = state.str.fullmatch(r"[a-z]{2}").fillna(False).to_numpy()
        return state.where(~us | us_ok)

    def _gender(self, gender_type: pd.Series) -> pd.Series:
        return pd.to_numeric(gender_type, errors="coerce").map(self.GENDERS).astype(tx.TEXT_DTYPE)

    @staticmethod
    def _value(total_spent: pd.Series) -> pd.Series:
        """Total of valid orders in the default currency, `.` decimal, 2 decimals, no sign.

        Choice: a negative total (refunds over sales) is worth 0.00, and an infinite one (a zero
        conversion rate) is unknown: empty. A sign would also start a spreadsheet formula."""
        amount = pd.to_numeric(total_spent, errors="coerce").astype("float64")
        amount = amount.where(np.isfinite(amount.to_numpy()))
        amount = amount.mask(amount <= 0, 0.0)
        return amount.map("{:.2f}".format, na_action="ignore").astype(tx.TEXT_DTYPE)


PROFILES: dict[str, type[Profile]] = {"google": GoogleProfile, "meta": MetaProfile}


def profile_for(platform: str) -> Profile:
    """The profile of a platform name of the audience file (`google` or `meta`)."""
    try:
        return PROFILES[platform]()
    except KeyError:
        raise ValueError(f"unknown platform {platform!r}; expected one of {sorted(PROFILES)}") from None
