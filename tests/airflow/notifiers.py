"""Test notifiers for SNA's alerts: named by import path in `SNA_NOTIFIERS`, as a user names theirs."""

from __future__ import annotations

import json
from typing import Any

from airflow.sdk import BaseNotifier


class RecordingNotifier(BaseNotifier):
    """Appends each call, everything it received (its rendered arguments and the whole context), as
    one JSON line to `path`."""

    template_fields = ("subject", "note")

    def __init__(self, path: str, subject: str | None = None, note: str = "") -> None:
        super().__init__()
        self.path = path
        self.subject = subject
        self.note = note

    def notify(self, context: Any) -> None:
        line = {"subject": self.subject, "note": self.note, "context": dict(context)}
        with open(self.path, "a", encoding="utf-8") as file:
            file.write(json.dumps(line, default=str) + "\n")


class FailingNotifier(BaseNotifier):
    """A channel that is down; its error's message holds a secret that must not be repeated."""

    def notify(self, context: Any) -> None:
        raise ConnectionError("https://hooks.example/T0/SECRET-WEBHOOK refused")


def calls(path) -> list[dict[str, Any]]:
    """What a RecordingNotifier wrote to `path` (nothing when it was never called)."""
    try:
        text = open(path, encoding="utf-8").read()
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in text.splitlines() if line]
