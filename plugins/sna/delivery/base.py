"""What every platform client offers, and the hand-off types between the engine and the clients.

The engine computes *which* members to send (the mirror of the last delivered set); a client only
knows *how* to send a batch to its platform: batching under the platform's limits, throttling,
retries of retryable errors, polling of asynchronous requests. Members arrive already normalized
and SHA-256 hashed (64 lowercase hex) in the platform's API schema; an empty identifier is "" and
is never hashed by anyone.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field

from sna.errors import PermanentError, TransientError

MAX_MEMBERS_PER_REQUEST = 10_000
"""Both platforms take at most 10,000 members (rows) per request."""


class DeliveryError(TransientError):
    """The platform could not be reached or kept failing with retryable errors: the next run retries."""


class DeliveryRefused(PermanentError):
    """The platform refused for good (bad token, unknown or flagged audience, invalid request)."""


@dataclass(frozen=True)
class Members:
    """Members in the platform's API schema.

    `schema` names the identifier columns (Google: `email`, `phone`, `given_name`, `family_name`,
    `region_code`, `postal_code`; Meta: `EMAIL`, `PHONE`, `FN`, `LN`, `ZIP`, `CT`, `ST`, `COUNTRY`,
    `DOBY`, `DOBM`, `DOBD`, `GEN`, and `LOOKALIKE_VALUE` for value-based audiences); each row has one
    cell per schema column: 64 lowercase hex for hashed identifiers, plain text where the platform
    wants it plain (Google's region and postal codes, Meta's value), "" when the member has none.
    """

    schema: tuple[str, ...]
    rows: Sequence[tuple[str, ...]]

    def __len__(self) -> int:
        return len(self.rows)

    def batches(self, size: int = MAX_MEMBERS_PER_REQUEST) -> list[Members]:
        return [Members(self.schema, self.rows[start:start + size]) for start in range(0, len(self.rows), size)]


@dataclass
class SendResult:
    """What one client call did: counts only (never identifiers)."""

    sent: int = 0
    """Members sent (in every request of the call, retries not counted twice)."""
    invalid: int = 0
    """Members the platform reported invalid."""
    requests: int = 0
    """HTTP requests sent to the platform, polls and retries included."""
    warnings: list[str] = field(default_factory=list)

    def __iadd__(self, other: SendResult) -> SendResult:
        self.sent += other.sent
        self.invalid += other.invalid
        self.requests += other.requests
        self.warnings.extend(other.warnings)
        return self


class PlatformClient(ABC):
    """One destination (a Google user list, a Meta custom audience) on one platform."""

    platform: str
    destination: str
    """A stable id of the destination, for the mirror state: e.g. `google:1234567890:4455667788`."""

    @abstractmethod
    def add(self, members: Members, *, validate_only: bool = False) -> SendResult:
        """Adds members (already present ones stay; adding twice is harmless on both platforms)."""

    @abstractmethod
    def remove(self, members: Members, *, validate_only: bool = False) -> SendResult:
        """Removes members (absent ones are ignored by the platform)."""

    @abstractmethod
    def replace(self, members: Members, *, validate_only: bool = False) -> SendResult:
        """Makes the destination hold exactly `members` (Meta: a `usersreplace` session; Google:
        ingest, then `removeAll` as of the time before the ingest)."""

    def close(self) -> None:  # noqa: B027 - an optional hook, not an abstract method
        """Releases connections (nothing by default)."""
