"""Which scanned customers are exported, and the one reason for each one that is not.

`Selector` decides chunk by chunk (rules of `filters.py`, then the platform's data checks);
`Deduplicator` remembers only a 64-bit key and the ranking facts of each candidate, so that one row
per e-mail can be chosen across all chunks without holding the rows themselves in memory.

Newsletter-only subscribers (raw rows with an `id_subscriber`) come after every customer: the
`Selector` keeps the e-mail key of every customer it has seen, so that a subscriber whose e-mail
belongs to an account is left out whatever became of that account (the account wins).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sna.audience import Audience
from sna.errors import DataContractError
from sna.filters import FilterPlan, rule_masks
from sna.normalize import Profile

# Ranking facts carried beside each candidate row (never written to the file).
KEY, REGISTERED, LAST_ORDER, CREATED, CUSTOMER_ID = "_key", "_registered", "_last_order", "_created", "_id"
RANKING_COLUMNS = (KEY, REGISTERED, LAST_ORDER, CREATED, CUSTOMER_ID)
NO_KEY = np.uint64(0)
MISSING_TIME = np.int64(-(2**62))


def _timestamps(values: pd.Series) -> np.ndarray:
    """Seconds since the epoch; missing or zero dates rank last."""
    parsed = pd.to_datetime(values, errors="coerce", format="%Y-%m-%d %H:%M:%S").to_numpy(dtype="datetime64[s]")
    return np.where(np.isnat(parsed), MISSING_TIME, parsed.astype("int64"))


def email_keys(emails: pd.Series) -> np.ndarray:
    """A 64-bit hash of each normalized e-mail; NO_KEY where there is none (never de-duplicated)."""
    present = emails.notna().to_numpy()
    keys = np.zeros(len(emails), dtype=np.uint64)
    if present.any():
        hashed = pd.util.hash_array(emails[present].to_numpy(dtype=object))
        keys[present] = np.where(hashed == NO_KEY, np.uint64(1), hashed)
    return keys


@dataclass
class Selection:
    """One chunk's outcome: the candidate rows (file columns + ranking facts) and the reasons."""

    candidates: pd.DataFrame
    excluded: Counter[str]


class Selector:
    """Applies the exclusion rules of docs/formats.md (every reason but `duplicate_email`) to one chunk at a time."""

    def __init__(self, audience: Audience, profile: Profile, plan: FilterPlan) -> None:
        self.audience = audience
        self.profile = profile
        self.plan = plan
        self.with_value = audience.value == "total_spent"
        self._account_parts: list[np.ndarray] = []
        self._account_keys: np.ndarray | None = None
        """The sorted e-mail keys of every customer, fixed when the first subscriber arrives."""

    def _accounts(self, keys: np.ndarray, subscriber: np.ndarray) -> np.ndarray:
        """Remembers the customers' e-mail keys; returns, per row, whether it is a subscriber whose
        e-mail is a customer's."""
        first_subscriber = int(np.argmax(subscriber)) if subscriber.any() else len(subscriber)
        if not subscriber[first_subscriber:].all() or (self._account_keys is not None and not subscriber.all()):
            raise DataContractError("a customer row came after a subscriber row: subscribers must follow every customer")
        if self._account_keys is None:
            customers = keys[~subscriber]
            self._account_parts.append(customers[customers != NO_KEY])
            if not subscriber.any():
                return subscriber
            self._account_keys = np.unique(np.concatenate(self._account_parts))
            self._account_parts = []
        return subscriber & np.isin(keys, self._account_keys, assume_unique=False)

    def _data_reasons(self, normalized: pd.DataFrame, undecided: pd.Series, reason: pd.Series,
                      subscriber: pd.Series) -> None:
        if self.audience.require_complete:
            # A subscriber has an e-mail only: never the complete record the audience asks for.
            hit = undecided & subscriber
            reason.loc[hit] = "subscriber_incomplete"
            undecided &= ~hit
        fields = self.profile.required_fields if self.audience.require_complete else ("email", "phone")
        failing = {f: normalized[f"status_{f}"] != "ok" for f in fields}
        if not self.audience.require_complete:
            # Any one valid main identifier is enough; otherwise the first failing one is the reason.
            none_valid = failing["email"] & failing["phone"]
            failing = {"email": failing["email"] & none_valid}
        for name, fails in failing.items():
            hit = undecided & fails
            if hit.any():
                status = normalized.loc[hit, f"status_{name}"]
                reason.loc[hit] = np.where(status == "missing", f"missing_{name}", f"invalid_{name}")
                undecided &= ~hit

    def select(self, raw: pd.DataFrame) -> Selection:
        normalized = self.profile.normalize(raw, self.plan.reference_date)
        reason = pd.Series(None, index=raw.index, dtype=object)
        undecided = pd.Series(True, index=raw.index)
        subscriber = raw["id_subscriber"].to_numpy() > 0
        keys = None
        if self.audience.source.include_subscribers:  # every row's key, only when subscribers need them
            keys = email_keys(normalized["dedupe_email"])
            has_account = pd.Series(self._accounts(keys, subscriber), index=raw.index)
            reason.loc[has_account] = "subscriber_is_customer"
            undecided &= ~has_account
        for name, mask in rule_masks(raw, normalized["dedupe_email"], self.plan):
            hit = undecided & mask.fillna(False).astype(bool)
            reason.loc[hit] = name
            undecided &= ~hit
        self._data_reasons(normalized, undecided, reason, pd.Series(subscriber, index=raw.index))

        kept = normalized.loc[undecided]
        rows = raw.loc[undecided]
        candidates = self.profile.output_frame(
            kept, require_complete=self.audience.require_complete, with_value=self.with_value
        ).reset_index(drop=True)
        candidates[KEY] = email_keys(kept["dedupe_email"]) if keys is None else keys[undecided.to_numpy()]
        candidates[REGISTERED] = (rows["is_guest"].to_numpy() == 0).astype("int64")
        candidates[LAST_ORDER] = _timestamps(rows["last_order"])
        candidates[CREATED] = _timestamps(rows["date_add"])
        # Subscribers only ever compete with subscribers (an account's e-mail left them out already).
        candidates[CUSTOMER_ID] = np.where(rows["id_subscriber"].to_numpy() > 0, rows["id_subscriber"].to_numpy(),
                                           rows["id_customer"].to_numpy()).astype("int64")
        return Selection(candidates, Counter(reason.dropna().tolist()))


def ranking_facts(candidates: pd.DataFrame) -> np.ndarray:
    """The 64-bit key and ranking facts of candidate rows, as one record array (40 bytes a row)."""
    return np.rec.fromarrays([candidates[c].to_numpy() for c in RANKING_COLUMNS], names=list(RANKING_COLUMNS))


@dataclass
class Deduplicator:
    """One row per e-mail across chunks: registered over guest, latest valid order, newest account."""

    _parts: list[np.ndarray] = field(default_factory=list)

    def add(self, candidates: pd.DataFrame) -> None:
        self._parts.append(ranking_facts(candidates))

    def add_facts(self, facts: np.ndarray) -> None:
        """Candidates already reduced to their ranking facts (`ranking_facts`: a partition's)."""
        self._parts.append(facts)

    def keep_mask(self) -> np.ndarray:
        """True for the rows to export, in the order they were added."""
        if not self._parts:
            return np.zeros(0, dtype=bool)
        facts = np.concatenate(self._parts)
        keys = facts[KEY]
        # lexsort sorts by the last key first: e-mail, then the best candidate first within it.
        order = np.lexsort((-facts[CUSTOMER_ID], -facts[CREATED], -facts[LAST_ORDER], -facts[REGISTERED], keys))
        sorted_keys = keys[order]
        first_of_key = np.ones(len(order), dtype=bool)
        first_of_key[1:] = sorted_keys[1:] != sorted_keys[:-1]
        first_of_key |= sorted_keys == NO_KEY
        keep = np.empty(len(order), dtype=bool)
        keep[order] = first_of_key
        return keep
