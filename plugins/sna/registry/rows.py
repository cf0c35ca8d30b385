"""The columns an export entry and a dry run share (which run, which audience, its counts), converted
to and from rows in one place, so the two tables cannot drift apart in how they store them."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from sna.registry.database import from_naive_utc, to_naive_utc


class RunRecord(Protocol):
    """What an export entry and a dry run both are: one run of an audience and its counts."""

    id: str
    run_key: str
    audience: str
    platform: str
    hashing: str
    filters: dict
    reference_date: Any
    created_at: datetime
    scanned: int
    rows: int
    excluded: dict[str, int]
    warnings: list[str]
    dag_run_id: str | None


def run_columns(record: RunRecord) -> dict[str, Any]:
    """The shared columns of `record` as a row (JSON as sorted text, timestamps naive UTC)."""
    return {
        "id": record.id,
        "run_key": record.run_key,
        "audience": record.audience,
        "platform": record.platform,
        "hashing": record.hashing,
        "filters": json.dumps(record.filters, sort_keys=True, default=str),
        "reference_date": record.reference_date,
        "created_at": to_naive_utc(record.created_at),
        "scanned": int(record.scanned),
        "rows": int(record.rows),
        "excluded": json.dumps({str(k): int(v) for k, v in record.excluded.items()}, sort_keys=True),
        "warnings": json.dumps([str(w) for w in record.warnings]),
        "dag_run_id": record.dag_run_id,
    }


def run_fields(values: Mapping[str, Any]) -> dict[str, Any]:
    """The shared columns of a row as keyword arguments of the record (MySQL may return a datetime
    for a DATE column: it becomes a date)."""
    reference_date = values["reference_date"]
    if isinstance(reference_date, datetime):
        reference_date = reference_date.date()
    return {
        "id": values["id"],
        "run_key": values["run_key"],
        "audience": values["audience"],
        "platform": values["platform"],
        "hashing": values["hashing"],
        "filters": json.loads(values["filters"]),
        "reference_date": reference_date,
        "created_at": from_naive_utc(values["created_at"]),
        "scanned": int(values["scanned"]),
        "rows": int(values["rows"]),
        "excluded": json.loads(values["excluded"]),
        "warnings": json.loads(values["warnings"]),
        "dag_run_id": values["dag_run_id"],
    }
