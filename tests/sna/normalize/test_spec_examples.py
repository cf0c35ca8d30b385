"""The platforms' published examples (docs/formats.md, "Examples"), through the profiles' public API."""

from __future__ import annotations

import hashlib

import pytest

from tests.sna.normalize.rawframe import CaseTable

EXAMPLES = [
    (
        "google",
        "Email",
        {"email": "  John.Doe@Example.COM "},
        "john.doe@example.com",
        "836f82db99121b3481011f16b49dfa5fbc714a0d1b1b9f784a1ebbbf5b39577f",
    ),
    ("google", "Email", {"email": "Jane.Doe+Shopping@GMAIL.com"}, "janedoe@gmail.com", None),
    (
        "google",
        "Phone",
        {"phone": "06 12 34 56 78", "country": "FR"},
        "+33612345678",
        "42d573cfc315801d4cd8eddd5416b416a0bf298b9b9e12d6b07442c91db42bd8",
    ),
    (
        "google",
        "Phone",
        {"phone": "(650) 253-0000", "country": "US", "postcode": "94043"},
        "+16502530000",
        None,
    ),
    ("google", "First Name", {"firstname": " Élodie "}, "élodie", None),
    ("google", "Zip", {"postcode": "94043-1351", "country": "US"}, "94043-1351", None),
    ("meta", "email", {"email": "Jane.Doe+Shopping@GMAIL.com"}, "jane.doe+shopping@gmail.com", None),
    (
        "meta",
        "phone",
        {"phone": "+33 (0)6 12 34 56 78", "country": "FR"},
        "33612345678",
        "8a3e7886c9335e82e02299fa3e87b46e2de3b0c63d56003e30a5029394a47661",
    ),
    ("meta", "fn", {"firstname": "Jean-Pierre"}, "jeanpierre", None),
    ("meta", "ct", {"city": "Saint-Étienne"}, "saintetienne", None),
    ("meta", "zip", {"postcode": "94043-1351", "country": "US"}, "94043", None),
    (
        "meta",
        "country",
        {"country": "FR"},
        "fr",
        "67ad8f41a7bb0a18c45f3efd8f6a32bdcd832bcf8f3f2eb44006c03d53076e18",
    ),
    ("meta", "gen", {"gender_type": 1.0}, "f", None),
]
TABLE = CaseTable([fields for _, _, fields, _, _ in EXAMPLES])


@pytest.mark.parametrize(("platform", "column", "fields", "expected", "expected_hash"), EXAMPLES)
def test_spec_example(platform, column, fields, expected, expected_hash):
    value = TABLE.row(platform, fields)[column]
    assert value == expected
    if expected_hash is not None:
        assert hashlib.sha256(value.encode("utf-8")).hexdigest() == expected_hash
