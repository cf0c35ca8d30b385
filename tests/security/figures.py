"""The security figures of a test run, for the README section "What SNA guarantees".

Tests add what they tried (payloads, routes x roles, bytes scanned, objects checked) and what they
found; the session writes everything to `test-artifacts/guarantees-security.json`, so the README's
numbers come from a run rather than from memory.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
FIGURES_FILE = ARTIFACTS / "guarantees-security.json"


class Figures:
    """Counters per topic; numbers add up, other values are replaced."""

    def __init__(self) -> None:
        self.topics: dict[str, dict[str, Any]] = defaultdict(dict)

    def add(self, topic: str, **values: Any) -> None:
        current = self.topics[topic]
        for key, value in values.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool) and key in current:
                current[key] += value
            else:
                current[key] = value

    def write(self, path: Path = FIGURES_FILE) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        document = {"written_at": datetime.now(UTC).isoformat(timespec="seconds"), **self.topics}
        path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
