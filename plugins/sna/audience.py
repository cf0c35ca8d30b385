"""Audience definitions: the YAML contract of docs/audience-config.md as a typed, validated model.

Every problem is reported as an `AudienceFileError` naming the file, the key and what is allowed,
and all the problems of a file are collected in one pass, so `sna validate` can list them all.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from croniter import croniter
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sna.errors import AudienceFileError

MAX_FILE_BYTES = 1_000_000
NAME_PATTERN = r"^[a-z0-9_]{1,64}$"
MAX_ID = 2**32 - 1
"""PrestaShop ids are INT(10) UNSIGNED: a larger number can match nothing and overflows the drivers."""
DAG_ID_PREFIX = "sna_"
"""Every audience has its DAG `sna_<name>` (built by `sna_airflow`; the UI links to it)."""
ADHOC_NAMESPACE = "adhoc_export"
"""Ad-hoc exports (the trigger form) live under their own namespace: an ad-hoc export named like a
configured audience can never replace that audience's entries or files. `adhoc_export` is a
reserved audience name, so no audience file can reach into it either. Here, not in `sna.pipeline`,
so that parsing a DAG file imports no data library."""
RESERVED_NAMES = frozenset({"housekeeping", ADHOC_NAMESPACE, "audience_errors"})
"""Names whose DAG (`sna_<name>`) or storage namespace SNA uses itself; names starting with `_` are
internal prefixes of the storage (`_staging/`)."""
TABLE_PREFIX_PATTERN = r"^[A-Za-z0-9_]{0,32}$"
SCHEDULE_PRESETS = ("@hourly", "@daily", "@weekly", "@monthly", "@quarterly", "@yearly", "@annually")
_DOMAIN_PATTERN = re.compile(r"^(\*\.)?([a-z0-9*-]+\.)*[a-z0-9*-]+$")
DOMAIN_INPUT_PATTERN = r"^\s*@*((\*\.)?([A-Za-z0-9*-]+\.)*[A-Za-z0-9*-]+)?\s*$"
"""What `exclude_email_domains` accepts before it is cleaned (spaces, leading @, capitals), blank
lines included (a form drops them): its JSON schema, so that a trigger form refuses the rest at once."""
_UNSAFE_PATH_TEXT = re.compile(r"[\x00-\x1f\x7f\\]|%(?:2e|2f|5c|00)", re.IGNORECASE)
"""What a suppression list path never needs: a NUL byte cannot name a file, the others hide a `..`."""


class _Strict(BaseModel):
    """Unknown keys are errors: a typo must not silently widen an audience."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


CONNECTION_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"


class SourceSpec(_Strict):
    """Where in the shop database the customers are read."""

    connection: Annotated[str, Field(pattern=CONNECTION_PATTERN)] | None = Field(
        None, title="Shop connection",
        description="The shop's Airflow connection id (default sna_prestashop); on the command line the URL "
                    "in SNA_SOURCE_URL_<CONNECTION>. One deployment serves many shops.")
    table_prefix: Annotated[str, Field(pattern=TABLE_PREFIX_PATTERN)] = Field(
        "ps_", title="Table prefix", description="Prefix of the shop's tables (ps_ by default).")
    shop_ids: Annotated[list[Annotated[int, Field(ge=1, le=MAX_ID)]], Field(min_length=1, max_length=1000)] | None = Field(
        None, title="Shops", description="Shop ids (multistore); empty: every shop.")
    id_lang: Annotated[int, Field(ge=1, le=MAX_ID)] | None = Field(
        None, title="Language id", description="Language of the group names; empty: the shop's default language.")
    include_subscribers: bool = Field(
        False, title="Include newsletter-only subscribers",
        description="Also read the newsletter subscribers without an account (ps_emailsubscription, confirmed "
                    "ones): e-mail-only rows, exported only with require_complete: false; an account with the "
                    "same e-mail wins.")


GroupRef = int | Annotated[str, Field(min_length=1, max_length=32)]


class Filters(_Strict):
    """Who is kept. An absent filter keeps everyone."""

    default_groups: Annotated[list[GroupRef], Field(min_length=1, max_length=1000)] | None = Field(
        None, title="Default customer groups",
        description="The customer's default group is one of these (ids or names, as the original module "
                    "does); empty keeps every group.")
    groups_any: Annotated[list[GroupRef], Field(min_length=1, max_length=1000)] | None = Field(
        None, title="Member of any group",
        description="The customer is a member of at least one of these groups (ids or names); empty: no condition.")
    exclude_email_domains: Annotated[list[Annotated[str, Field(json_schema_extra={"pattern": DOMAIN_INPUT_PATTERN})]],
                                     Field(max_length=10_000)] = Field(
        [], title="Excluded e-mail domains",
        description="E-mails of the domain or any of its sub-domains are left out; * wildcards "
                    "(marketplace.amazon.*).")
    consent: Literal["any", "newsletter", "optin", "newsletter_or_optin"] = Field(
        "any", title="Consent", description="Which customers' consent is required: none, the newsletter, the "
                                            "partner offers opt-in, or either.")
    countries: Annotated[list[str], Field(min_length=1, max_length=300)] | None = Field(
        None, title="Countries", description="Country of the customer's address (ISO 3166-1 alpha-2 codes); "
                                             "empty keeps every country.")
    min_valid_orders: Annotated[int, Field(ge=0, le=MAX_ID)] | None = Field(
        None, title="Minimum valid orders", description="At least this many valid orders; empty: no condition.")
    min_total_spent: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = Field(
        None, title="Minimum total spent",
        description="Valid orders add up to at least this much (the shop's default currency); empty: no condition.")
    ordered_within_days: Annotated[int, Field(ge=1, le=36_500)] | None = Field(
        None, title="Ordered within (days)",
        description="The last valid order is no older than this many days at the reference date; empty: no condition.")
    include_guests: bool = Field(True, title="Include guests", description="Keep guest checkouts (no account).")

    @field_validator("exclude_email_domains")
    @classmethod
    def _domains(cls, domains: list[str]) -> list[str]:
        cleaned = []
        for domain in domains:
            value = str(domain).strip().lower().lstrip("@")
            if not value or len(value) > 253 or not _DOMAIN_PATTERN.match(value):
                raise ValueError(f"not a domain pattern: {value[:40]!r} (letters, digits, '-', '.', '*')")
            cleaned.append(value)
        return cleaned

    @field_validator("countries")
    @classmethod
    def _countries(cls, countries: list[str] | None) -> list[str] | None:
        if countries is None:
            return None
        cleaned = [str(code).strip().upper() for code in countries]
        for code in cleaned:
            if not re.fullmatch(r"[A-Z]{2}", code):
                raise ValueError(f"not an ISO 3166-1 alpha-2 code: {code[:10]!r}")
        return cleaned

    def applied(self) -> dict[str, Any]:
        """The filters that actually restrict the audience, as recorded with each export."""
        return self.model_dump(exclude_defaults=True)


DIGITS_PATTERN = r"^[0-9]{1,20}$"


class GoogleConsent(_Strict):
    """Consent the merchant declares for every member (Data Manager `consent`); no default."""

    ad_user_data: Literal["granted", "denied"]
    ad_personalization: Literal["granted", "denied"]


class GoogleDelivery(_Strict):
    """A Customer Match user list reached through the Data Manager API."""

    operating_account_id: Annotated[str, Field(pattern=DIGITS_PATTERN)]
    user_list_id: Annotated[str, Field(pattern=DIGITS_PATTERN)]
    login_account_id: Annotated[str, Field(pattern=DIGITS_PATTERN)] | None = None
    consent: GoogleConsent


class MetaDelivery(_Strict):
    """A Meta customer-list custom audience reached through the Marketing API."""

    custom_audience_id: Annotated[str, Field(pattern=DIGITS_PATTERN)]


class DeliverySpec(_Strict):
    """Where each run delivers the audience; without it, runs only write the file."""

    mode: Literal["mirror", "replace"] = "mirror"
    google: GoogleDelivery | None = None
    meta: MetaDelivery | None = None

    def destination_of(self, platform: str) -> GoogleDelivery | MetaDelivery | None:
        return self.google if platform == "google" else self.meta


class Audience(_Strict):
    """One audience: a platform, filters, and how often it is refreshed."""

    name: Annotated[str, Field(pattern=NAME_PATTERN)] = Field(
        title="Name", description="Names the audience, its DAG (sna_<name>) and its files.")
    description: Annotated[str, Field(max_length=2000)] = Field(
        "", title="Description", description="What the audience is for (shown with its exports).")
    platform: Literal["google", "meta"] = Field(
        title="Platform", description="google: a Google Ads Customer Match file; meta: a Meta customer list.")
    hashing: Literal["none", "sha256"] = Field(
        "none", title="Hashing", description="none: the platform hashes on upload; sha256: the identifiers are "
                                             "hashed in the file.")
    require_complete: bool = Field(
        True, title="Require complete records", description="Export only customers with every field of the "
                                                            "platform's file.")
    schedule: str | None = Field("@daily", title="Schedule", description="Cron or preset; null: manual runs only.")
    source: SourceSpec = SourceSpec()
    filters: Filters = Filters()
    suppression_list: Path | None = Field(
        None, title="Suppression list",
        description="A file of e-mails that objected, one a line, always left out (relative to the project folder).")
    value: Literal["none", "total_spent"] = Field(
        "none", title="Customer value", description="total_spent adds the value column (Meta only).")
    retention_days: Annotated[int, Field(ge=1, le=36_500)] = Field(
        90, title="Retention (days)", description="Exports older than this are deleted by housekeeping.")
    stale_after_days: Annotated[int, Field(ge=1, le=36_500)] | None = Field(
        None, title="Stale after (days)",
        description="An alert when the last successful export is older than this; default: 3 for a daily "
                    "schedule, 3 periods for weekly or monthly ones, none for manual audiences.")
    delivery: DeliverySpec | None = None

    @field_validator("name")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value in RESERVED_NAMES:
            raise ValueError(f"{value!r} is reserved by SNA (its DAG {DAG_ID_PREFIX}{value} is built in); choose another name")
        if value.startswith("_"):
            raise ValueError("must not start with '_' (internal storage prefixes such as _staging/ do)")
        return value

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, schedule: str | None) -> str | None:
        if schedule is None or schedule in SCHEDULE_PRESETS:
            return schedule
        if len(schedule.split()) != 5 or not croniter.is_valid(schedule):
            raise ValueError(
                f"not a 5-field cron expression nor a preset ({', '.join(SCHEDULE_PRESETS)}) or null"
            )
        return schedule

    @field_validator("suppression_list")
    @classmethod
    def _suppression_path(cls, path: Path | None) -> Path | None:
        if path is not None and (".." in path.parts or str(path).strip() == ""):
            raise ValueError("must be a path without '..' segments")
        if path is not None and not path.parts:
            raise ValueError("must name a file (got an empty path)")
        if path is not None and _UNSAFE_PATH_TEXT.search(str(path)):
            raise ValueError("must be a path without control characters, backslashes or percent-encoded "
                             "'.', '/', '\\' or NUL")
        return path

    @model_validator(mode="after")
    def _value_is_meta_only(self) -> Audience:
        if self.value != "none" and self.platform != "meta":
            raise ValueError("value: total_spent is only available for platform meta")
        return self

    @model_validator(mode="after")
    def _delivery_matches_platform(self) -> Audience:
        if self.delivery is None:
            return self
        other = "meta" if self.platform == "google" else "google"
        if getattr(self.delivery, other) is not None:
            raise ValueError(f"delivery.{other}: this audience's platform is {self.platform}; "
                             f"use delivery.{self.platform}")
        if self.delivery.destination_of(self.platform) is None:
            raise ValueError(f"delivery.{self.platform}: required when delivery is set "
                             f"(the {self.platform} destination of the audience)")
        return self

    @property
    def dag_id(self) -> str:
        return f"{DAG_ID_PREFIX}{self.name}"

    def applied_filters(self) -> dict[str, Any]:
        """The filters as applied, for the export history (as the original module shows them)."""
        applied: dict[str, Any] = self.filters.applied()
        applied["require_complete"] = self.require_complete
        if self.source.shop_ids:
            applied["shop_ids"] = list(self.source.shop_ids)
        if self.source.include_subscribers:
            applied["include_subscribers"] = True
        if self.suppression_list is not None:
            applied["suppression_list"] = str(self.suppression_list)
        if self.value != "none":
            applied["value"] = self.value
        return applied

    @property
    def staleness_days(self) -> int | None:
        """The `stale_after_days` that applies (the key, else one derived from the schedule)."""
        if self.stale_after_days is not None:
            return self.stale_after_days
        if self.schedule is None:
            return None
        return {"@weekly": 21, "@monthly": 93, "@quarterly": 276, "@yearly": 1098, "@annually": 1098}.get(
            self.schedule, 3)


def _key_of(loc: Sequence[int | str]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif item in ("int", "str", "constrained-str", "function-after[_schedule(), str]"):
            continue  # union branch names pydantic adds to the location
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts)


def _reason_of(error: dict[str, Any], allowed: Iterable[str]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return f"unknown key; allowed: {', '.join(allowed)}"
    if kind == "missing":
        return "required key is missing"
    message = str(error["msg"])
    message = message.removeprefix("Value error, ")
    if kind == "literal_error":
        return message.replace("Input should be", "must be one of:")
    return message


def _allowed_keys(loc: Sequence[int | str]) -> list[str]:
    model: type[BaseModel] = Audience
    for item in loc[:-1]:
        field = model.model_fields.get(str(item)) if isinstance(item, str) else None
        annotation = getattr(field, "annotation", None)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
    return list(model.model_fields)


def validation_errors(file: str, exc: ValidationError) -> list[AudienceFileError]:
    """Every error of a validation, located by key (`filters.countries[0]`) with a plain reason."""
    errors = []
    seen: set[tuple[str, str]] = set()
    for error in exc.errors():
        loc = error["loc"]
        key = _key_of(loc)
        reason = _reason_of(error, _allowed_keys(loc))
        if (key, reason) not in seen:
            seen.add((key, reason))
            errors.append(AudienceFileError(file, key, reason))
    return errors


class DuplicateKeyError(yaml.MarkedYAMLError):
    """A key given twice in one mapping: YAML would silently keep the last value."""

    def __init__(self, key: str, mark: yaml.Mark) -> None:
        super().__init__(problem=f"duplicate key {key!r}", problem_mark=mark)
        self.key = key


class _UniqueKeys:
    """The safe loader's mappings, refusing duplicate keys (a second `platform:` must not win unnoticed)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _value in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *base` merges: its keys may be overridden on purpose
            key = self.construct_object(key_node, deep=deep)  # type: ignore[attr-defined]
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:
                continue  # an unhashable key: the base class reports it
            if duplicate:
                raise DuplicateKeyError(str(key), key_node.start_mark)
        return super().construct_mapping(node, deep=deep)  # type: ignore[misc]


class _UniqueKeyLoader(_UniqueKeys, getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """The safe loader with unique keys, on libyaml when PyYAML has it (ten times faster to parse:
    the DAG file reads every audience file at each parse)."""


def _read_yaml(path: Path) -> tuple[Any, list[AudienceFileError]]:
    file = str(path)
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        return None, [AudienceFileError(file, "", "is a folder: give one audience file "
                                                  "(`sna validate FOLDER` checks every file of a folder)")]
    except OSError as exc:
        return None, [AudienceFileError(file, "", f"cannot be read ({exc.strerror or exc.__class__.__name__})")]
    if len(data) > MAX_FILE_BYTES:
        return None, [AudienceFileError(file, "", f"larger than {MAX_FILE_BYTES} bytes")]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, [AudienceFileError(file, "", f"not UTF-8 text (byte {exc.start})")]
    try:
        document = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader
    except DuplicateKeyError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else "?"
        return None, [AudienceFileError(file, exc.key, f"duplicate key (again at line {line}); give it once")]
    except RecursionError:
        return None, [AudienceFileError(file, "", "YAML nested too deeply")]
    except yaml.reader.ReaderError as exc:
        code = exc.character if isinstance(exc.character, int) else ord(exc.character or "\0")
        return None, [AudienceFileError(file, "", f"YAML syntax error: character U+{code:04X} at "
                                                  f"position {exc.position} is not allowed")]
    except yaml.YAMLError as exc:
        if "maximum nesting depth" in str(getattr(exc, "problem", "")):  # libyaml's RecursionError
            return None, [AudienceFileError(file, "", "YAML nested too deeply")]
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        return None, [AudienceFileError(file, "", f"YAML syntax error{where}: {problem}")]
    if document is None:
        return None, [AudienceFileError(file, "", "empty file; expected a mapping with at least name and platform")]
    if not isinstance(document, dict):
        return None, [AudienceFileError(file, "", f"expected a mapping of keys, got a {type(document).__name__}")]
    return document, []


def check_audience_file(path: Path | str) -> tuple[Audience | None, list[AudienceFileError]]:
    """Parse and validate one file; returns the audience or every error found in it."""
    path = Path(path)
    document, errors = _read_yaml(path)
    if errors:
        return None, errors
    bad_keys = [key for key in document if not isinstance(key, str)]
    if bad_keys:
        return None, [AudienceFileError(str(path), str(bad_keys[0]), "keys must be text")]
    try:
        return Audience.model_validate(document), []
    except ValidationError as exc:
        return None, validation_errors(str(path), exc)


def load_audience(path: Path | str) -> Audience:
    """The audience of one file, or the first error (with how many more) as an exception."""
    audience, errors = check_audience_file(path)
    if errors:
        first = errors[0]
        if len(errors) > 1:
            raise AudienceFileError(first.file, first.key, f"{first.reason} (and {len(errors) - 1} more errors)")
        raise first
    assert audience is not None
    return audience


def audience_files(location: Path | str) -> list[Path]:
    """The audience files of a folder (`*.yaml`, `*.yml`), sorted, or the file itself."""
    location = Path(location)
    if location.is_dir():
        return sorted(p for p in location.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    return [location]


def load_audiences(paths: Iterable[Path | str]) -> tuple[list[Audience], list[AudienceFileError]]:
    """Every valid audience of the given files or folders, and every error of the others.

    A name used by two files is an error for both: neither can safely own the DAG `sna_<name>`.
    """
    found: list[tuple[Path, Audience]] = []
    errors: list[AudienceFileError] = []
    for location in paths:
        for path in audience_files(location):
            audience, file_errors = check_audience_file(path)
            errors.extend(file_errors)
            if audience is not None:
                found.append((path, audience))
    by_name: dict[str, list[Path]] = {}
    for path, audience in found:
        by_name.setdefault(audience.name, []).append(path)
    valid = []
    for path, audience in found:
        owners = by_name[audience.name]
        if len(owners) > 1:
            others = ", ".join(str(p) for p in owners if p != path)
            errors.append(AudienceFileError(str(path), "name", f"duplicate name {audience.name!r} (also in {others})"))
        else:
            valid.append(audience)
    return valid, errors


def resolve_suppression_path(audience: Audience, project_root: Path) -> Path | None:
    """Relative suppression paths are read from the project root (where `config/` lives)."""
    if audience.suppression_list is None:
        return None
    path = audience.suppression_list
    if path.is_absolute():
        return path
    return project_root / path


def find_audience(folder: Path, name: str) -> Audience:
    """The audience called `name` among the valid files of `folder` (`sna deliver` needs its delivery
    block); ad-hoc exports (`adhoc_export/<name>`) have no file."""
    if "/" in name:
        raise AudienceFileError(str(folder), "", f"export of {name} was made from the ad-hoc form: it has no "
                                "audience file, so no delivery block")
    audiences, _errors = load_audiences([folder]) if folder.is_dir() else ([], [])
    for audience in audiences:
        if audience.name == name:
            return audience
    raise AudienceFileError(str(folder), "", f"no valid audience file defines audience {name}")
