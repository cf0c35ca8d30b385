"""`sna_adhoc_export`: a one-off export from a trigger form, without writing YAML.

The form is generated from the audience model (`sna.audience`): one field per key an audience
file can have (the filters, the source, the output), with the model's JSON-schema types,
constraints, enums (from its `Literal` types), titles and descriptions, so a key added to the
model gets its form field. Every field but the export name and the platform can be cleared:
null means the audience file's default. The values become an `Audience` through the same
validation as a YAML file, and a value it refuses names the form field.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from airflow.sdk import DAG, Param, dag
from pydantic import BaseModel, ValidationError

from sna.audience import ADHOC_NAMESPACE, Audience, Filters, SourceSpec, validation_errors
from sna.errors import AudienceFileError
from sna_airflow.alerts import FailedRunAlert
from sna_airflow.config import ADHOC_DAG_ID, PLATFORM_LABELS, START_DATE
from sna_airflow.retry import retry_arguments
from sna_airflow.stages import add_export_tasks

FORM = f"the {ADHOC_DAG_ID} form"
ADHOC_NAME_PATTERN = r"^[a-z0-9][a-z0-9_]{0,50}$"
"""Shorter than an audience name: the registry calls it `adhoc_export/<name>` (at most 64 characters)."""

NOT_IN_FORM = {
    "schedule": "an ad-hoc export runs once, when triggered",
    "retention_days": "ad-hoc exports are kept for housekeeping's default_retention_days",
    "delivery": "ad-hoc exports are files only; delivery needs an audience file",
    "stale_after_days": "an ad-hoc export has no schedule to be late on",
    "source": "its keys are form fields of their own",
    "filters": "its keys are form fields of their own",
}
"""Keys of `Audience` that have no form field, and why."""

LINES = "One per line; blank lines are ignored."
FORM_OVERRIDES: dict[str, dict[str, Any]] = {
    "name": {"default": "adhoc", "pattern": ADHOC_NAME_PATTERN, "title": "Export name",
             "description": "Names the file (<name>_<platform>_<date>.csv); the same name on the same day replaces "
                            "the earlier ad-hoc file. Ad-hoc exports never replace an audience's exports."},
    "description": {"default": "ad-hoc export from the trigger form"},
    "platform": {"default": "google", "values_display": PLATFORM_LABELS},
    "hashing": {"values_display": {"none": "none (the platform hashes on upload)", "sha256": "SHA-256 in the file"}},
    "consent": {"values_display": {"any": "no condition", "newsletter": "newsletter subscribers",
                                   "optin": "partner offers opt-in", "newsletter_or_optin": "newsletter or opt-in"}},
    "value": {"values_display": {"none": "none", "total_spent": "total spent (Meta only)"}},
    "exclude_email_domains": {"default": ["marketplace.amazon.*"]},
}
"""What the form says or proposes differently from an audience file (the original module's defaults)."""

_DROPPED_KEYWORDS = ("format", "minItems", "default", "anyOf", "$ref", "title", "description")


@dataclass(frozen=True)
class FormField:
    """One model key as a form field: `key` in the run's params, `path` in the audience document."""

    key: str
    path: tuple[str, ...]
    model: type[BaseModel]
    required: bool

    @property
    def label(self) -> str:
        return f"{self.title} ({self.key})"

    @property
    def title(self) -> str:
        return str(FORM_OVERRIDES.get(self.key, {}).get("title") or self.model.model_fields[self.key].title)


@cache
def form_fields() -> tuple[FormField, ...]:
    """Every key of an audience file the form offers: the audience's own, then its filters and source."""
    fields = [FormField(name, (name,), Audience, info.is_required())
              for name, info in Audience.model_fields.items() if name not in NOT_IN_FORM]
    fields += [FormField(name, ("filters", name), Filters, False) for name in Filters.model_fields]
    fields += [FormField(name, ("source", name), SourceSpec, False) for name in SourceSpec.model_fields]
    return tuple(fields)


def _country_choices() -> tuple[list[str], dict[str, str]]:
    import pycountry

    countries = sorted(pycountry.countries, key=lambda country: country.alpha_2)
    return ([c.alpha_2 for c in countries],
            {c.alpha_2: f"{c.alpha_2} {getattr(c, 'common_name', None) or c.name}" for c in countries})


def _field_schema(form_field: FormField) -> dict[str, Any]:
    """The model's JSON schema of one key, as a trigger-form field: optional keys also take null."""
    schema = copy.deepcopy(form_field.model.model_json_schema()["properties"][form_field.key])
    branches = [branch for branch in schema.get("anyOf", [schema]) if branch.get("type") != "null"]
    if len(branches) != 1 or "type" not in branches[0]:
        raise TypeError(f"{form_field.model.__name__}.{form_field.key}: no form field for this type "
                        f"(add it to NOT_IN_FORM with a reason, or teach _field_schema)")
    field_schema = {k: v for k, v in branches[0].items() if k not in _DROPPED_KEYWORDS}
    items = field_schema.get("items")
    if items is not None:
        if "anyOf" in items:  # group ids or names: lines of text, digits become ids
            texts = [branch for branch in items["anyOf"] if branch.get("type") == "string"]
            items = {"type": "string", "maxLength": texts[0].get("maxLength", 253) if texts else 253}
        items = {k: v for k, v in items.items() if k != "minLength"}  # blank lines are ignored
        field_schema["items"] = items
    if form_field.key == "countries":
        codes, labels = _country_choices()
        field_schema["items"] = {"type": "string", "pattern": "^[A-Za-z]{2}$"}  # a short refusal, lower case too
        field_schema["examples"] = codes
        field_schema["values_display"] = labels
    if not form_field.required:
        field_schema["type"] = [field_schema["type"], "null"]
        if "enum" in field_schema:
            field_schema["enum"] = [*field_schema["enum"], None]
    return field_schema


def _description(form_field: FormField) -> str:
    text = FORM_OVERRIDES.get(form_field.key, {}).get("description") or form_field.model.model_fields[
        form_field.key].description or ""
    if form_field.key != "countries" and "array" in str(_field_schema(form_field).get("type")):
        text = f"{text} {LINES}"
    return f"{text} (Audience file key: {'.'.join(form_field.path)}.)".strip()


def form_params() -> dict[str, Param]:
    """The trigger form: one param per `form_fields()` entry, then `dry_run`."""
    params: dict[str, Param] = {}
    for form_field in form_fields():
        overrides = FORM_OVERRIDES.get(form_field.key, {})
        info = form_field.model.model_fields[form_field.key]
        default = overrides.get("default", None if info.is_required() else info.get_default(call_default_factory=True))
        schema = _field_schema(form_field)
        schema.update({k: v for k, v in overrides.items() if k not in ("default", "description")})
        if "enum" in schema and "values_display" in schema and None in schema["enum"]:
            schema["values_display"] = {**schema["values_display"], "null": "(the audience file's default)"}
        schema["title"] = form_field.title
        params[form_field.key] = Param(
            str(default) if default is not None and form_field.key == "suppression_list" else default,
            description=_description(form_field), **schema)
    params["dry_run"] = Param(False, type=["boolean", "null"], title="Dry run",
                              description="Only count: no file, no entry.")
    return params


def _form_value(form_field: FormField, value: Any) -> Any:
    if isinstance(value, list):
        lines = [item.strip() if isinstance(item, str) else item for item in value]
        lines = [item for item in lines if item != ""]
        if form_field.key in ("default_groups", "groups_any"):
            lines = [int(item) if isinstance(item, str) and item.isdigit() else item for item in lines]
        return lines or None
    return value


def _field_of_error(key: str, reason: str) -> tuple[FormField | None, str]:
    """The form field an error of the model is about: by its location, or (a check across keys, whose
    location is the whole audience) by the key its reason starts with."""
    fields = {".".join(f.path): f for f in form_fields()}
    for path, form_field in sorted(fields.items(), key=lambda item: -len(item[0])):
        if key == path or key.startswith((f"{path}.", f"{path}[")):
            return form_field, reason
    for form_field in form_fields():
        if reason.startswith(f"{form_field.key}: "):
            return form_field, reason.removeprefix(f"{form_field.key}: ")
    return None, reason


def audience_from_form(params: Mapping[str, Any]) -> Audience:
    """The form's values as an audience; a value the model refuses is an error naming the form field.

    Null (a cleared field) and empty lists mean the audience file's default; blank lines are ignored.
    """
    document: dict[str, Any] = {"schedule": None}
    for form_field in form_fields():
        value = _form_value(form_field, params.get(form_field.key))
        if value is None:
            continue
        target = document
        for part in form_field.path[:-1]:
            target = target.setdefault(part, {})
        target[form_field.path[-1]] = value
    try:
        return Audience.model_validate(document)
    except ValidationError as exc:
        errors = validation_errors(FORM, exc)
        # a group that is neither an id nor a name: say what the text is wrong about, not the number
        texts = [e for e in errors if "valid integer" not in e.reason] or errors
        first = texts[0]
        form_field, reason = _field_of_error(first.key, first.reason)
        where = f"field {form_field.label}" if form_field else (first.key or "form")
        raise AudienceFileError(FORM, where, reason) from None


def adhoc_dag() -> DAG:
    @dag(
        dag_id=ADHOC_DAG_ID,
        description="One-off export from a form: every filter an audience file can have",
        schedule=None,
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        tags=["sna", "adhoc"],
        doc_md=__doc__,
        params=form_params(),
        default_args=retry_arguments(),
        on_failure_callback=FailedRunAlert(),
    )
    def adhoc_export() -> None:
        add_export_tasks(audience_from_form, namespace=ADHOC_NAMESPACE)

    return adhoc_export()
