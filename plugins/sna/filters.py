"""The rules before the data checks: lifecycle, anonymized, suppressed, then the audience filters.

Each rule is a vectorized mask over a raw customer frame; `rule_masks` yields them in the order of
docs/formats.md ("One reason for each customer left out"), so the first rule a customer fails is its one exclusion reason. The
original module's two filters (default customer group, excluded e-mail domains) come first among
the filters, as there.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from sna.audience import Filters
from sna.errors import ConfigError

ANONYMIZED_EMAILS = frozenset({"anonymous@psgdpr.com", "anonymous@anonymous.com", "pub@prestashop.com"})
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class SuppressionList:
    """E-mails of people who objected, normalized as the platform does (or their sha256)."""

    emails: frozenset[str] = frozenset()
    hashes: frozenset[str] = frozenset()

    @classmethod
    def load(cls, path: Path, normalize: Callable[[pd.Series], pd.Series]) -> SuppressionList:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            raise ConfigError(f"suppression_list: file {path} does not exist") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"suppression_list: file {path} cannot be read ({type(exc).__name__})") from None
        entries = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
        hashes = {entry.lower() for entry in entries if _SHA256_HEX.match(entry.lower())}
        plain = pd.Series([entry for entry in entries if entry.lower() not in hashes], dtype="str")
        emails = {value for value in normalize(plain).dropna().tolist() if value}
        return cls(frozenset(emails), frozenset(hashes))

    def __len__(self) -> int:
        return len(self.emails) + len(self.hashes)

    def matches(self, normalized_email: pd.Series) -> pd.Series:
        hit = normalized_email.isin(self.emails)
        if self.hashes:
            digests = normalized_email.map(
                lambda v: hashlib.sha256(v.encode("utf-8")).hexdigest() if isinstance(v, str) else None
            )
            hit |= digests.isin(self.hashes)
        return hit.fillna(False).astype(bool)


@dataclass(frozen=True)
class FilterPlan:
    """An audience's filters made concrete for one shop and one reference date."""

    filters: Filters
    reference_date: date
    default_group_ids: tuple[int, ...] | None = None
    suppression: SuppressionList = field(default_factory=SuppressionList)

    def needs_account(self) -> bool:
        """Whether a filter asks what only a customer has (a group, an order, an account rather than a
        guest checkout): newsletter-only subscribers have none of that, so such an audience leaves them out."""
        f = self.filters
        return bool(self.default_group_ids is not None or f.groups_any or f.min_valid_orders
                    or f.min_total_spent or f.ordered_within_days is not None or not f.include_guests)

    def domain_pattern(self) -> re.Pattern[str] | None:
        if not self.filters.exclude_email_domains:
            return None
        alternatives = "|".join(
            re.escape(domain).replace(r"\*", ".*") for domain in self.filters.exclude_email_domains
        )
        return re.compile(rf"^(?:.*\.)?(?:{alternatives})$")


def _email_domain(raw_email: pd.Series) -> pd.Series:
    return raw_email.str.strip().str.lower().str.extract(r"@([^@]*)$", expand=False)


def _older_than(timestamps: pd.Series, limit: date) -> pd.Series:
    parsed = pd.to_datetime(timestamps, errors="coerce", format="%Y-%m-%d %H:%M:%S")
    # Compared as timestamps: `.dt.date` of a chunk where no date parses is not a date column.
    return parsed.isna() | (parsed < pd.Timestamp(limit))


def rule_masks(raw: pd.DataFrame, normalized_email: pd.Series, plan: FilterPlan
               ) -> Iterator[tuple[str, pd.Series]]:
    """(reason, excluded?) for every rule before the data checks, in the documented order."""
    f = plan.filters
    yield "deleted", raw["deleted"] == 1
    yield "inactive", raw["active"] == 0

    email = raw["email"].str.strip().str.lower()
    anonymous_names = (raw["firstname"].str.strip().str.lower() == "anonymous") & (
        raw["lastname"].str.strip().str.lower() == "anonymous"
    )
    yield "anonymized", email.isin(ANONYMIZED_EMAILS) | anonymous_names

    if len(plan.suppression):
        yield "suppressed", plan.suppression.matches(normalized_email)

    if plan.needs_account():
        yield "subscriber_filtered", raw["id_subscriber"] > 0

    group_excluded = pd.Series(False, index=raw.index)
    if plan.default_group_ids is not None:
        group_excluded |= ~raw["id_default_group"].isin(plan.default_group_ids)
    if f.groups_any:
        group_excluded |= raw["in_groups_any"] == 0
    yield "filtered_group", group_excluded

    pattern = plan.domain_pattern()
    if pattern is not None:
        yield "excluded_domain", _email_domain(raw["email"]).str.match(pattern)

    if f.consent != "any":
        newsletter, optin = raw["newsletter"] == 1, raw["optin"] == 1
        consented = {"newsletter": newsletter, "optin": optin, "newsletter_or_optin": newsletter | optin}[f.consent]
        yield "no_consent", ~consented

    if f.countries is not None:
        yield "filtered_country", ~raw["country"].str.strip().str.upper().isin(f.countries)

    orders_excluded = pd.Series(False, index=raw.index)
    if f.min_valid_orders is not None:
        orders_excluded |= raw["valid_orders"] < f.min_valid_orders
    if f.min_total_spent is not None:
        orders_excluded |= raw["total_spent"].round(6) < f.min_total_spent
    if f.ordered_within_days is not None:
        orders_excluded |= _older_than(raw["last_order"], plan.reference_date - timedelta(days=f.ordered_within_days))
    yield "filtered_orders", orders_excluded

    if not f.include_guests:
        yield "filtered_guest", raw["is_guest"] == 1
