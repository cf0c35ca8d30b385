"""Delivering an export: the platform's audience made equal to it, sending only what changed.

The mirror: the members last delivered to a destination are kept (hashed identifiers only, in the
storage, encrypted like the files) under `_delivery/<audience>/delivered/`. A delivery sends the
members that are new and removes those that left (unsubscribed, anonymized, suppressed, filtered
out). The first delivery to a destination, a `replace` audience, or a lost or differently shaped
set does a full replace. The set is replaced only after the platform accepted everything, so a
delivery that fails half-way is recomputed from the same set next time: adds and removes are
idempotent on both platforms, so nothing is lost or doubled.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from sna.delivery.base import PlatformClient, SendResult
from sna.delivery.members import KEY, to_members
from sna.errors import NotFoundError, SnaError
from sna.exports import member_set_key
from sna.storage import Storage

log = logging.getLogger(__name__)

DELIVERY_ROOT = "_delivery"
STATUSES = ("none", "pending", "delivered", "failed")


@dataclass
class DeliveryReport:
    """What one delivery did: counts only. `requests` counts every HTTP request (polls, retries)."""

    status: str = "none"
    added: int = 0
    removed: int = 0
    invalid: int = 0
    requests: int = 0
    mode: str | None = None
    """`mirror` (only the difference), `replace` (the whole audience), None when nothing was asked."""
    destination: str | None = None
    delivered_at: datetime | None = None
    dry_run: bool = False
    validate_only: bool = False

    def to_dict(self) -> dict[str, Any]:
        document = asdict(self)
        document["delivered_at"] = self.delivered_at.isoformat() if self.delivered_at else None
        return document


class MemberSets:
    """Where the member sets live in the storage: one per export, one per delivered destination."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    export_key = staticmethod(member_set_key)

    @staticmethod
    def delivered_key(audience_id: str, destination: str) -> str:
        return f"{DELIVERY_ROOT}/{audience_id}/delivered/{destination.replace(':', '-')}.parquet"

    def read(self, key: str) -> pd.DataFrame | None:
        if not self.storage.exists(key):
            return None
        with tempfile.TemporaryDirectory(prefix="sna-members-") as folder:
            local = Path(folder) / "members.parquet"
            self.storage.download_file(key, local)
            return pq.read_table(local).to_pandas()

    def write(self, frame: pd.DataFrame, key: str) -> None:
        with tempfile.TemporaryDirectory(prefix="sna-members-") as folder:
            local = Path(folder) / "members.parquet"
            frame.to_parquet(local, index=False)
            self.storage.upload_file(local, key)


def plan(current: pd.DataFrame, previous: pd.DataFrame | None, *, mode: str) -> tuple[bool, pd.DataFrame,
                                                                                     pd.DataFrame]:
    """(full replace?, members to add, members to remove)."""
    if mode == "replace" or previous is None or list(previous.columns) != list(current.columns):
        removed = previous[~previous[KEY].isin(current[KEY])] if previous is not None and \
            list(previous.columns) == list(current.columns) else current.iloc[0:0]
        return True, current, removed
    added = current[~current[KEY].isin(previous[KEY])]
    removed = previous[~previous[KEY].isin(current[KEY])]
    return False, added, removed


def deliver_members(
    current: pd.DataFrame, audience_id: str, sets: MemberSets, *, destination: str,
    client: PlatformClient | None = None, mode: str = "mirror", dry_run: bool = False, validate_only: bool = False,
) -> DeliveryReport:
    """Sends what changed since the last delivery to `destination` through `client` (none needed
    for a dry run, which only computes the adds and removes); see the module docstring."""
    delivered_key = sets.delivered_key(audience_id, destination)
    previous = sets.read(delivered_key)
    full, added, removed = plan(current, previous, mode=mode)
    report = DeliveryReport(status="none", added=len(added), removed=len(removed), destination=destination,
                            mode="replace" if full else "mirror", dry_run=dry_run, validate_only=validate_only)
    if dry_run:
        return report
    if client is None or client.destination != destination:
        raise ValueError(f"a client of {destination} is needed to deliver")
    sent = SendResult()
    if full:
        sent += client.replace(to_members(current), validate_only=validate_only)
    else:
        if len(removed):
            sent += client.remove(to_members(removed), validate_only=validate_only)
        if len(added):
            sent += client.add(to_members(added), validate_only=validate_only)
    report.requests, report.invalid = sent.requests, sent.invalid
    for warning in sent.warnings:
        log.warning("%s: %s", destination, warning)
    if validate_only:
        return report
    sets.write(current, delivered_key)
    report.status, report.delivered_at = "delivered", datetime.now(UTC)
    return report


def export_members(sets: MemberSets, audience_id: str, export_id: str) -> pd.DataFrame:
    members = sets.read(sets.export_key(audience_id, export_id))
    if members is None:
        raise NotFoundError(f"export {export_id} has no member set (it was made before delivery was "
                            "configured, or its set was deleted): run the audience again to deliver it")
    return members


__all__ = ["DeliveryReport", "MemberSets", "SnaError", "deliver_members", "export_members", "plan"]
