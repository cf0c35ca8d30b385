"""The `doc_md` of the SNA DAGs: what an audience exports, readable in the Airflow UI.

Built from the validated audience only (no database, no network): parsing stays cheap.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from sna.audience import Audience
from sna.errors import AudienceFileError
from sna.layouts import layout_for
from sna_airflow.config import PLATFORM_LABELS


def _value(value: object) -> str:
    return ", ".join(map(str, value)) if isinstance(value, list | tuple) else json.dumps(value)


def audience_doc(audience: Audience) -> str:
    """Platform, file, filters and required fields of one audience, as Markdown."""
    layout = layout_for(audience.platform)  # not the profile: that imports pandas at parse
    header = layout.file_header(with_value=audience.value == "total_spent")
    required = ", ".join(layout.required_fields)
    filters = audience.filters.applied()
    lines = [
        f"# Audience `{audience.name}`",
        "",
        audience.description or "",
        "",
        "| | |",
        "|---|---|",
        f"| platform | {PLATFORM_LABELS[audience.platform]} (`{audience.platform}`) |",
        f"| hashing | `{audience.hashing}` |",
        f"| schedule | `{audience.schedule}` |" if audience.schedule else "| schedule | manual runs only |",
        f"| file columns | {', '.join(f'`{c}`' for c in header)} |",
        f"| required fields | {required} ("
        + ("every exported customer has all of them" if audience.require_complete else "not required: "
           "`require_complete: false`") + ") |",
        f"| retention | {audience.retention_days} days |",
    ]
    if audience.source.shop_ids:
        lines.append(f"| shops | {_value(audience.source.shop_ids)} |")
    if audience.suppression_list:
        lines.append(f"| suppression list | `{audience.suppression_list}` |")
    lines += ["", "## Filters", ""]
    if filters:
        lines += ["| filter | value |", "|---|---|"]
        lines += [f"| `{key}` | {_value(value)} |" for key, value in filters.items()]
    else:
        lines.append("None: every customer of the shops with the required fields.")
    lines += [
        "",
        "## Runs",
        "",
        (
            "The reference date is the run's logical date (a manual run: the day it was triggered); a rerun "
            "of the same run replaces its file and its entry. The trigger form overrides `hashing` and "
            "`require_complete` for one run; `dry_run` only counts (no file, no export; shown as a dry run on "
            "Audience exports)."
        ),
    ]
    return "\n".join(lines)


def errors_doc(errors: Sequence[AudienceFileError]) -> str:
    """The broken audience files, one line each: file, key, reason."""
    return "\n".join(f"- `{error.file}` key `{error.key or '(file)'}`: {error.reason}" for error in errors)
