"""`sna_adhoc_export`: a one-off export from a trigger form, without writing YAML.

The form mirrors the original PrestaShop module's configuration page (platform, default customer
groups, excluded e-mail domains, consent, countries, hashing). Its values become an `Audience`
through the same validation as a YAML file, so a form can express nothing a file could not.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow.sdk import DAG, Param, dag
from pydantic import ValidationError

from sna.audience import Audience
from sna.errors import AudienceFileError
from sna.pipeline import ADHOC_NAMESPACE
from sna_airflow.config import ADHOC_DAG_ID, PLATFORM_LABELS, START_DATE
from sna_airflow.retry import retry_arguments
from sna_airflow.stages import add_export_tasks

FORM = "the sna_adhoc_export form"
ADHOC_NAME_PATTERN = r"^[a-z0-9][a-z0-9_]{0,50}$"
"""Shorter than an audience name: the registry calls it `adhoc_export/<name>` (at most 64 characters)."""

_TEXT_LIST = {"type": "string", "minLength": 1, "maxLength": 253}


def form_params() -> dict[str, Param]:
    return {
        "name": Param("adhoc", type="string", pattern=ADHOC_NAME_PATTERN, title="Export name",
                      description="Names the file (<name>_<platform>_<date>.csv); the same name on the same "
                                  "day replaces the earlier ad-hoc file. Ad-hoc exports never replace an "
                                  "audience's exports, whatever their name."),
        "platform": Param("google", type="string", enum=["google", "meta"], title="Platform",
                          values_display=PLATFORM_LABELS),
        "default_groups": Param([], type="array", items={"type": "string", "minLength": 1, "maxLength": 32},
                                title="Default customer groups",
                                description="Group ids or names, one per line; empty keeps every group."),
        "exclude_email_domains": Param(["marketplace.amazon.*"], type="array", items=_TEXT_LIST,
                                       title="Excluded e-mail domains",
                                       description="One per line; the domain and its sub-domains; * wildcards."),
        "consent": Param("any", type="string", enum=["any", "newsletter", "optin", "newsletter_or_optin"],
                         title="Consent", values_display={
                             "any": "no condition", "newsletter": "newsletter subscribers",
                             "optin": "partner offers opt-in", "newsletter_or_optin": "newsletter or opt-in"}),
        "countries": Param([], type="array", items={"type": "string", "pattern": "^[A-Za-z]{2}$"},
                           title="Countries", description="ISO codes (FR, BE, ...) one per line; empty keeps all."),
        "hashing": Param("none", type="string", enum=["none", "sha256"], title="Hashing"),
        "require_complete": Param(True, type="boolean", title="Require complete records"),
        "value": Param("none", type="string", enum=["none", "total_spent"], title="Customer value (Meta only)"),
        "dry_run": Param(False, type="boolean", title="Dry run", description="Only count: no file, no entry."),
    }


def _group_ref(text: str) -> int | str:
    text = str(text).strip()
    return int(text) if text.isdigit() else text


def audience_from_form(params: Mapping[str, Any]) -> Audience:
    """The form's values as an audience; a bad value is a ConfigError naming the form's field."""
    document = {
        "name": params["name"],
        "description": "ad-hoc export from the trigger form",
        "platform": params["platform"],
        "hashing": params.get("hashing", "none"),
        "require_complete": params.get("require_complete", True),
        "value": params.get("value", "none"),
        "schedule": None,
        "filters": {
            "default_groups": [_group_ref(g) for g in params.get("default_groups") or []] or None,
            "exclude_email_domains": list(params.get("exclude_email_domains") or []),
            "consent": params.get("consent", "any"),
            "countries": list(params.get("countries") or []) or None,
        },
    }
    try:
        return Audience.model_validate(document)
    except ValidationError as exc:
        error = exc.errors()[0]
        key = ".".join(str(part) for part in error["loc"])
        raise AudienceFileError(FORM, key, str(error["msg"]).removeprefix("Value error, ")) from None


def adhoc_dag() -> DAG:
    @dag(
        dag_id=ADHOC_DAG_ID,
        description="One-off export from a form (platform, groups, domains, consent, countries, hashing)",
        schedule=None,
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        tags=["sna", "adhoc"],
        doc_md=__doc__,
        params=form_params(),
        default_args=retry_arguments(),
    )
    def adhoc_export() -> None:
        add_export_tasks(audience_from_form, namespace=ADHOC_NAMESPACE)

    return adhoc_export()
