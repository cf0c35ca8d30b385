"""Finds customer values (markers) and secrets in text: logs, outputs, messages, database dumps.

Markers have distinctive shapes (`pii-mark-000123@example.com`, `Zqxfirstabcdef`, `+31687900123`,
`1123 QZ`), so the scanner looks for the shapes with a few regular expressions and reports every
token that is one of the shop's actual values (in any of the forms the engine produces: raw,
normalized, E.164, with or without spaces, and their SHA-256). The search is case-insensitive.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

_SHAPES = {
    "email": re.compile(r"pii-mark-\d{6}(?:@example\.com)?"),
    "name": re.compile(r"zqx(?:first|last)[a-j]{6}"),
    "city": re.compile(r"zqxcity[a-j]{6}"),
    "phone": re.compile(r"(?<!\d)(?:\+?31|0)6879\d{5}(?!\d)"),
    "postcode": re.compile(r"(?<!\d)\d{4} ?qz(?![a-z])"),
    "sha256": re.compile(r"(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])"),
}


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class Markers:
    """Every customer value of the marker shop, lowercased, in every form that could leak."""

    values: dict[str, set[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, emails: Iterable[str], names: Iterable[str], cities: Iterable[str], phones: Iterable[str],
           postcodes: Iterable[str]) -> Markers:
        emails = {e.strip().lower() for e in emails}
        names = {n.strip().lower() for n in names}
        cities = {c.strip().lower() for c in cities}
        national = {p.strip() for p in phones}
        e164 = {"+31" + p[1:] for p in national}
        phone_forms = national | e164 | {p[1:] for p in e164}
        postcode_forms = {p.strip().lower() for p in postcodes} | {p.replace(" ", "").lower() for p in postcodes}
        email_forms = emails | {e.split("@")[0] for e in emails}
        plain = emails | names | cities | phone_forms | postcode_forms
        return cls({
            "email": email_forms,
            "name": names,
            "city": cities,
            "phone": phone_forms,
            "postcode": postcode_forms,
            "sha256": {sha256(value) for value in plain},
        })

    def __len__(self) -> int:
        return sum(len(v) for k, v in self.values.items() if k != "sha256")

    def find(self, text: str) -> list[tuple[str, str]]:
        """(kind, value) of every marker in `text`."""
        lowered = text.lower()
        hits = []
        for kind, shape in _SHAPES.items():
            for token in shape.findall(lowered):
                if token in self.values[kind]:
                    hits.append((kind, token))
        return hits


@dataclass
class ScanResult:
    sources: int = 0
    bytes: int = 0
    hits: list[tuple[str, str, str]] = field(default_factory=list)  # (source, kind, value)


def scan(texts: Mapping[str, str], markers: Markers) -> ScanResult:
    result = ScanResult()
    for source, text in texts.items():
        result.sources += 1
        result.bytes += len(text.encode("utf-8", "replace"))
        result.hits += [(source, kind, value) for kind, value in markers.find(text)]
    return result


def find_secrets(texts: Mapping[str, str], secrets: Mapping[str, str]) -> list[tuple[str, str]]:
    """(source, secret name) for every secret found verbatim (or URL-encoded) in a text."""
    from urllib.parse import quote

    hits = []
    for source, text in texts.items():
        for name, secret in secrets.items():
            if secret in text or quote(secret, safe="") in text:
                hits.append((source, name))
    return hits
