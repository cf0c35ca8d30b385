"""A selector whose first chunk of one partition fails once (in whatever process runs it): the
fault injected into the pool's workers, which unpickle it by reference to this module."""

from __future__ import annotations

import os
from pathlib import Path

from sna.errors import DataContractError, SourceError
from sna.selection import Selector


class FlakySelector(Selector):
    """Fails on the ids `first`..`last` while `marker` exists (removing it: once), logging every
    chunk it selects (its lowest id) to `log`, the failed try included."""

    first: int
    last: int
    marker: Path
    log: Path
    failure: str  # "transient", "permanent" or "died"

    def select(self, raw):
        ids = raw["id_customer"]
        if len(raw):
            with self.log.open("a") as log:
                log.write(f"{int(ids.min())}\n")
        if len(raw) and ids.min() >= self.first and ids.max() <= self.last:
            try:
                self.marker.unlink()
            except FileNotFoundError:
                pass  # failed once already
            else:
                if self.failure == "died":
                    os._exit(9)
                if self.failure == "permanent":
                    raise DataContractError("injected permanent failure")
                raise SourceError("injected transient failure")
        return super().select(raw)


def make_flaky(selector: Selector, first: int, last: int, folder: Path, failure: str) -> FlakySelector:
    selector.__class__ = FlakySelector
    selector.first, selector.last, selector.failure = first, last, failure
    selector.marker, selector.log = folder / "fail-once", folder / "selected.log"
    selector.marker.touch()
    return selector
