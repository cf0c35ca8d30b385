"""One page of export entries restricted to the audiences a user may read."""

from __future__ import annotations

from sna.registry import ExportEntry, Registry


def exports_page(
    registry: Registry, *, audiences: set[str] | None, platform: str | None, limit: int, offset: int
) -> tuple[list[ExportEntry], int]:
    """(entries newest first, total count); `audiences=None` means every audience."""
    if audiences is not None and not audiences:
        return [], 0
    return (
        registry.list(audiences=audiences, platform=platform, limit=limit, offset=offset),
        registry.count(audiences=audiences, platform=platform),
    )
