"""The rules before the data checks, each on its own and in their order."""

from datetime import date

import pandas as pd
import pytest

from sna.audience import Filters
from sna.filters import FilterPlan, SuppressionList, rule_masks
from tests.sna.rawframes import raw_frame

REFERENCE = date(2026, 11, 1)


def first_reasons(raw, plan, normalized_email=None):
    """The first failing rule per row (None when every rule passes)."""
    emails = normalized_email if normalized_email is not None else raw["email"].str.strip().str.lower()
    reasons = [None] * len(raw)
    for name, mask in rule_masks(raw, emails, plan):
        for i, hit in enumerate(mask.fillna(False).astype(bool).tolist()):
            if hit and reasons[i] is None:
                reasons[i] = name
    return reasons


def plan(**filters):
    default_group_ids = filters.pop("default_group_ids", None)
    suppression = filters.pop("suppression", SuppressionList())
    return FilterPlan(Filters(**filters), REFERENCE, default_group_ids, suppression)


def test_lifecycle_then_anonymized_order():
    raw = raw_frame(
        {"deleted": 1, "active": 0},
        {"active": 0, "email": "anonymous@psgdpr.com"},
        {"email": " ANONYMOUS@psgdpr.com "},
        {"email": "anonymous@anonymous.com"},
        {"email": "pub@prestashop.com"},
        {"firstname": " Anonymous", "lastname": "ANONYMOUS "},
        {"firstname": "Anonymous", "lastname": "Smith"},
        {},
    )
    assert first_reasons(raw, plan()) == [
        "deleted", "inactive", "anonymized", "anonymized", "anonymized", "anonymized", None, None,
    ]


def test_default_groups_and_membership():
    raw = raw_frame({"id_default_group": 4}, {"id_default_group": 3}, {"id_default_group": 4, "in_groups_any": 0})
    assert first_reasons(raw, plan(default_group_ids=(4, 5), groups_any=[5])) == [None, "filtered_group",
                                                                                   "filtered_group"]
    assert first_reasons(raw, plan()) == [None, None, None]


@pytest.mark.parametrize(
    ("email", "patterns", "excluded"),
    [
        ("x@marketplace.amazon.fr", ["marketplace.amazon.fr"], True),
        ("x@MARKETPLACE.AMAZON.FR ", ["marketplace.amazon.fr"], True),
        ("x@eu.marketplace.amazon.fr", ["marketplace.amazon.fr"], True),  # sub-domain
        ("x@notmarketplace.amazon.fr", ["marketplace.amazon.fr"], False),  # not a sub-domain
        ("x@marketplace.amazon.co.uk", ["marketplace.amazon.*"], True),
        ("x@marketplace.amazonia.com", ["marketplace.amazon.*"], False),
        ("123-noreply@clemarche.com", ["clemarche.com"], True),
        ("x@amazon.fr", ["marketplace.amazon.fr"], False),
    ],
)
def test_excluded_domains(email, patterns, excluded):
    raw = raw_frame({"email": email})
    expected = ["excluded_domain" if excluded else None]
    assert first_reasons(raw, plan(exclude_email_domains=patterns)) == expected


@pytest.mark.parametrize(
    ("consent", "flags", "kept"),
    [
        ("newsletter", (1, 0), True), ("newsletter", (0, 1), False),
        ("optin", (0, 1), True), ("optin", (1, 0), False),
        ("newsletter_or_optin", (0, 1), True), ("newsletter_or_optin", (0, 0), False),
        ("any", (0, 0), True),
    ],
)
def test_consent(consent, flags, kept):
    raw = raw_frame({"newsletter": flags[0], "optin": flags[1]})
    assert first_reasons(raw, plan(consent=consent)) == [None if kept else "no_consent"]


def test_countries_exclude_missing_address():
    raw = raw_frame({"country": "FR"}, {"country": "be"}, {"country": "DE"}, {"country": None, "id_address": None})
    assert first_reasons(raw, plan(countries=["FR", "BE"])) == [None, None, "filtered_country", "filtered_country"]


def test_order_filters():
    raw = raw_frame(
        {"valid_orders": 0, "total_spent": 0.0, "last_order": None},
        {"valid_orders": 3, "total_spent": 99.99},
        {"valid_orders": 3, "total_spent": 100.0, "last_order": "2025-11-01 00:00:00"},  # exactly 365 days
        {"valid_orders": 3, "total_spent": 100.0, "last_order": "2025-10-31 23:59:59"},
        {"valid_orders": 3, "total_spent": 100.0, "last_order": "0000-00-00 00:00:00"},
    )
    reasons = first_reasons(raw, plan(min_valid_orders=1, min_total_spent=100, ordered_within_days=365))
    assert reasons == ["filtered_orders", "filtered_orders", None, "filtered_orders", "filtered_orders"]


def test_guests():
    raw = raw_frame({"is_guest": 1}, {"is_guest": 0})
    assert first_reasons(raw, plan(include_guests=False)) == ["filtered_guest", None]
    assert first_reasons(raw, plan()) == [None, None]


def test_filter_order_is_group_domain_consent_country_orders_guest():
    raw = raw_frame({"id_default_group": 3, "email": "a@members.ebay.com", "newsletter": 0, "country": "US",
                     "valid_orders": 0, "is_guest": 1})
    full = dict(default_group_ids=(4,), exclude_email_domains=["members.ebay.com"], consent="newsletter",
                countries=["FR"], min_valid_orders=1, include_guests=False)
    order = ["filtered_group", "excluded_domain", "no_consent", "filtered_country", "filtered_orders", "filtered_guest"]
    for reason in order:
        assert first_reasons(raw, plan(**full)) == [reason]
        if reason == "filtered_group":
            full.pop("default_group_ids")
        elif reason == "excluded_domain":
            full.pop("exclude_email_domains")
        elif reason == "no_consent":
            full.pop("consent")
        elif reason == "filtered_country":
            full.pop("countries")
        elif reason == "filtered_orders":
            full.pop("min_valid_orders")
    assert first_reasons(raw, plan()) == [None]


def test_suppression_list_plain_and_hashed(tmp_path):
    import hashlib

    listing = tmp_path / "objected.txt"
    hashed = hashlib.sha256(b"hashed@example.com").hexdigest()
    listing.write_text(f"# people who objected\n  Jane.Doe@Example.com \n\n{hashed.upper()}\n", encoding="utf-8")
    suppression = SuppressionList.load(listing, lambda s: s.str.strip().str.lower())
    assert len(suppression) == 2
    raw = raw_frame({"email": "jane.doe@example.com"}, {"email": "hashed@example.com"}, {"email": "other@example.com"},
                    {"deleted": 1, "email": "jane.doe@example.com"})
    assert first_reasons(raw, plan(suppression=suppression)) == ["suppressed", "suppressed", None, "deleted"]


def test_suppression_list_missing_file_is_a_config_error(tmp_path):
    from sna.errors import ConfigError

    with pytest.raises(ConfigError, match="suppression_list: file .* does not exist"):
        SuppressionList.load(tmp_path / "nope.txt", lambda s: s)


def test_missing_email_never_matches_domain_or_suppression():
    raw = raw_frame({"email": None})
    suppression = SuppressionList(frozenset({"x@y.fr"}))
    assert first_reasons(raw, plan(exclude_email_domains=["y.fr"], suppression=suppression),
                         pd.Series([None], dtype="str")) == [None]
