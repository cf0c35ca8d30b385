"""Turns export entries into the short texts the page shows (sizes, filter summaries, reasons).

Pure functions on plain values: the templates only lay them out, and Jinja2 escapes every one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sna.audience import Audience
from sna.normalize import profile_for
from sna.pipeline import ADHOC_NAMESPACE
from sna.registry import ExportEntry
from sna_airflow.config import ADHOC_DAG_ID, DAG_ID_PREFIX

PLATFORM_LABELS = {"google": "Google Ads", "meta": "Meta"}
ADHOC_PREFIX = f"{ADHOC_NAMESPACE}/"


def adhoc_name(audience: str) -> str | None:
    """`adhoc_export/fr_vip` -> `fr_vip`; None for an audience of a file."""
    return audience[len(ADHOC_PREFIX):] if audience.startswith(ADHOC_PREFIX) else None


def audience_label(audience: str) -> str:
    """How the page names an audience: `fr_vip (ad hoc)` for `adhoc_export/fr_vip`."""
    name = adhoc_name(audience)
    return audience if name is None else f"{name} (ad hoc)"


def dag_id_of(audience: str) -> str:
    """Every audience is refreshed by its own DAG (dags/sna_audiences.py); ad-hoc exports by the form's
    DAG `sna_adhoc_export`, whose permissions they have."""
    return ADHOC_DAG_ID if adhoc_name(audience) is not None else f"{DAG_ID_PREFIX}{audience}"


def audience_of(dag_id: str) -> str | None:
    """The audience a DAG id names, or None when it is not an SNA DAG id."""
    if not dag_id.startswith(DAG_ID_PREFIX) or len(dag_id) == len(DAG_ID_PREFIX):
        return None
    return dag_id[len(DAG_ID_PREFIX):]


def required_fields(platform: str, require_complete: bool = True) -> list[str]:
    """What the original module shows per audience: every field when complete records are required,
    otherwise just one main identifier."""
    if not require_complete:
        return ["email or phone (at least one)"]
    if platform not in PLATFORM_LABELS:
        return []
    return [field.replace("_", " ") for field in profile_for(platform).required_fields]


def _yes_no(value: bool) -> str:
    return "yes" if value else "no"


def overrides(entry: ExportEntry, definition: Audience | None) -> list[str]:
    """What a run changed for itself (the trigger form's hashing and require_complete) against the
    audience file: `["hashing sha256 (audience file: none)"]`; nothing without a file."""
    if definition is None:
        return []
    found = []
    if entry.hashing != definition.hashing:
        found.append(f"hashing {entry.hashing} (audience file: {definition.hashing})")
    complete = entry.filters.get("require_complete")
    if complete is not None and bool(complete) != definition.require_complete:
        found.append(f"require complete {_yes_no(bool(complete))} "
                     f"(audience file: {_yes_no(definition.require_complete)})")
    return found


@dataclass(frozen=True)
class AudienceView:
    """An audience as the page heads it: from its file, or (no file any more) from its newest export."""

    name: str
    platform: str
    hashing: str
    require_complete: bool
    description: str = ""
    from_file: bool = True
    delivers: bool = False
    adhoc: bool = False

    @property
    def required(self) -> list[str]:
        return required_fields(self.platform, self.require_complete)


def audience_view(name: str, definition: Audience | None, newest: ExportEntry) -> AudienceView:
    if definition is not None:
        return AudienceView(name, definition.platform, definition.hashing, definition.require_complete,
                            definition.description, delivers=definition.delivery is not None)
    return AudienceView(name, newest.platform, newest.hashing, bool(newest.filters.get("require_complete", True)),
                        from_file=False, adhoc=adhoc_name(newest.audience) is not None)


def adhoc_form_values(entry: ExportEntry, fields: Iterable[str]) -> dict[str, Any]:
    """The `sna_adhoc_export` form as it was filled for this export: its recorded filters hold every
    field that differed from its default (`Audience.applied_filters`); the others are sent as
    null, which the form reads as the default. Only the form's `fields` are sent."""
    name = adhoc_name(entry.audience)
    if name is None:
        raise ValueError(f"export {entry.id} is not an ad-hoc export")
    applied = dict(entry.filters)
    values: dict[str, Any] = {key: None for key in fields}
    for key, value in applied.items():
        if key in values:
            values[key] = [str(item) for item in value] if key in _TEXT_LISTS and value else value
    values.update(name=name, platform=entry.platform, hashing=entry.hashing,
                  require_complete=bool(applied.get("require_complete", True)),
                  value=applied.get("value", "none"), dry_run=False)
    wanted = set(fields)
    return {key: value for key, value in values.items() if key in wanted}


_TEXT_LISTS = frozenset({"default_groups", "groups_any", "exclude_email_domains", "countries"})


def run_reference_date(run: Mapping[str, Any]) -> str | None:
    """The reference date a DAG run exports (`sna_airflow.context.reference_date`): its logical date's
    day in UTC, or the day it runs after; None when Airflow's answer holds neither."""
    moment = run.get("logical_date") or run.get("run_after")
    if not isinstance(moment, str):
        return None
    try:
        parsed = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (parsed.astimezone(UTC) if parsed.tzinfo else parsed).date().isoformat()


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _value_text(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={_value_text(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple, set)):
        return ", ".join(_value_text(v) for v in value) or "(none)"
    return str(value)


def filter_summary(filters: Mapping[str, Any]) -> list[str]:
    """`{"consent": "newsletter", "countries": ["FR"]}` -> `["consent: newsletter", "countries: FR"]`."""
    return [f"{str(key).replace('_', ' ')}: {_value_text(value)}" for key, value in sorted(filters.items())]


REASON_LABELS = {
    "deleted": "deleted account",
    "inactive": "inactive account",
    "anonymized": "anonymized (GDPR placeholder)",
    "suppressed": "on the suppression list",
    "filtered_group": "not in the chosen customer groups",
    "excluded_domain": "e-mail domain excluded",
    "no_consent": "no marketing consent",
    "filtered_country": "country not chosen",
    "filtered_orders": "too few valid orders or too little spent",
    "filtered_guest": "guest account excluded",
    "duplicate_email": "same e-mail as another customer",
    "subscriber_is_customer": "subscriber with an account (the account decides)",
    "subscriber_filtered": "subscriber: the filters need a customer",
    "subscriber_incomplete": "subscriber: e-mail only, complete records required",
}
"""Words for the exclusion codes of `sna.selection` (README "What is exported, and why a customer is not")."""
FIELD_WORDS = {"email": "e-mail", "zip": "zip code"}


def reason_label(code: str) -> str:
    """`filtered_group` -> `not in the chosen customer groups (filtered_group)`: words, then the code."""
    code = str(code)
    words = REASON_LABELS.get(code)
    if words is None:
        kind, _, field = code.partition("_")
        if kind in ("missing", "invalid") and field:
            field_words = FIELD_WORDS.get(field, field.replace("_", " "))
            words = f"no {field_words}" if kind == "missing" else f"invalid {field_words}"
        else:
            words = code.replace("_", " ")
    return f"{words} ({code})"


def main_reasons(excluded: Mapping[str, int], top: int = 3) -> list[tuple[str, int]]:
    """The largest exclusion reasons first (ties by name, so the order is stable)."""
    nonzero = [(str(reason), int(count)) for reason, count in excluded.items() if int(count) > 0]
    return sorted(nonzero, key=lambda item: (-item[1], item[0]))[:top]
