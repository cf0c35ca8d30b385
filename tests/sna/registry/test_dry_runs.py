"""Dry runs in the registry: counts only (no file), one per run key, pruned past the audience's retention."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from sna.registry.dry_runs import DryRun
from tests.sna.registry.test_entries import T0, registry, registry_url  # noqa: F401 - fixtures


def make_dry_run(n: int = 1, **changes) -> DryRun:
    dry_run = DryRun(
        id=f"dry-{n:05d}", run_key=f"vip_google/2024-03-{n:02d}", audience="vip_google", platform="google",
        hashing="sha256", filters={"require_complete": False, "countries": ["FR"]},
        reference_date=date(2024, 3, n), created_at=T0 + timedelta(days=n), scanned=100 * n, rows=10 * n,
        excluded={"filtered_group": 90 * n}, warnings=["few rows"], dag_run_id=f"manual__{n}",
    )
    return replace(dry_run, **changes)


def test_dry_runs_are_recorded_listed_newest_first_and_replaced_per_run_key(registry) -> None:  # noqa: F811
    log = registry.dry_runs
    for n in (1, 2, 3):
        log.record(make_dry_run(n))
    log.record(make_dry_run(4, audience="other", run_key="other/2024-03-04", platform="meta"))
    assert [d.id for d in log.list(audience="vip_google")] == ["dry-00003", "dry-00002", "dry-00001"]
    assert log.list(audience="vip_google")[0] == make_dry_run(3)
    assert [d.id for d in log.list(audiences={"other"})] == ["dry-00004"]
    assert [d.id for d in log.list(platform="meta")] == ["dry-00004"]
    assert log.list(audiences=set()) == []
    assert log.audiences() == ["other", "vip_google"]
    again = make_dry_run(2, id="dry-again", rows=1, created_at=T0 + timedelta(days=9))
    log.record(again)
    assert [d.id for d in log.list(audience="vip_google", limit=2)] == ["dry-again", "dry-00003"]
    assert registry.count() == 0, "a dry run is no export"


def test_recording_a_dry_run_prunes_that_audiences_older_ones(registry) -> None:  # noqa: F811
    log = registry.dry_runs
    for n in (1, 2, 3):
        log.record(make_dry_run(n))
    log.record(make_dry_run(1, id="dry-other", audience="other", run_key="other/1"))
    log.record(make_dry_run(5), keep_after=T0 + timedelta(days=2, hours=1))
    assert [d.id for d in log.list(audience="vip_google")] == ["dry-00005", "dry-00003"]
    assert [d.id for d in log.list(audience="other")] == ["dry-other"]
