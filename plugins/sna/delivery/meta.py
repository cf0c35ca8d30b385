"""Meta custom audiences through the `facebook_business` SDK: the `/users` and `/usersreplace` edges.

The SDK is used without its global state: no `FacebookAdsApi.init` (which makes a process-wide
default API and, unless `crash_log=False`, installs a `sys.excepthook` that posts tracebacks to
`graph.facebook.com/{app_id}/instruments`), but one `FacebookSession` and one `FacebookAdsApi` per
client, the session's `GRAPH` base URL set on the instance (the SDK builds every URL as
`session.GRAPH/version/path`), and its `requests` session told to ignore proxy and netrc settings
from the environment. So every request of a client goes to its `graph_url` and nowhere else.

Payloads are built by `CustomAudience.format_params(..., is_raw=True, pre_hashed=True)`, the SDK's
path that passes cells through untouched (without `pre_hashed` it would normalize and hash them
again, and turn an empty cell into the SHA-256 of ""), and posted with `FacebookAdsApi.call`.

Secrets stay out of URLs, logs and messages: the access token travels in the form body (the SDK
would put it in every URL's query string, which urllib3 logs at DEBUG level), errors are rebuilt
from Meta's numeric code and error type only (the SDK's `FacebookRequestError` text carries the
request parameters and the response body: hashes and token), and are raised outside the SDK's
exception so no traceback chains to it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import requests
from facebook_business.adobjects.customaudience import CustomAudience
from facebook_business.api import FacebookAdsApi
from facebook_business.exceptions import FacebookRequestError
from facebook_business.session import FacebookSession

from sna.delivery.base import (
    MAX_MEMBERS_PER_REQUEST,
    DeliveryError,
    DeliveryRefused,
    Members,
    PlatformClient,
    SendResult,
)
from sna.errors import ConfigError

log = logging.getLogger(__name__)

DEFAULT_GRAPH_URL = "https://graph.facebook.com"
DEFAULT_API_VERSION: str = FacebookAdsApi.API_VERSION
"""The Graph API version the installed SDK is generated for (`v26.0` with facebook-business 26.0.3)."""

HASHED_KEYS = ("EMAIL", "PHONE", "FN", "LN", "ZIP", "CT", "ST", "COUNTRY", "DOBY", "DOBM", "DOBD", "GEN")
VALUE_KEY = "LOOKALIKE_VALUE"

RETRYABLE_CODES = frozenset({1, 2, 4, 17, 32, 341, 368, 613, 80003})
"""Graph error codes that a wait cures (error handling guide: unknown error, service down; rate
limiting guide: 4 app, 17 user, 32 page, 613 custom, 80003 custom-audience limits; 341, 368
temporary blocks). Meta sends throttling with HTTP 400, so the code decides, not the status."""
FATAL_CODES = frozenset({3, 10, 100, 102, 104, 190, 294, 471, 2635, 2650, *range(200, 300)})
"""Codes no retry can cure: invalid parameter, permissions, token (190 expired or invalid), flagged
audience (471), deprecated version, failed audience update."""
LATER_SUBCODES_2650 = frozenset({1870145, 1870148})
"""Code 2650 subcodes that the next run may cure (audience update in progress; "something went
wrong, try again"): reported as `DeliveryError` at once, without waiting inside this run."""

_EMPTY_REPLACE_CELL = hashlib.sha256(b"sna:empty-replace:matches nobody").hexdigest()
"""The one identifier an empty replace uploads: a SHA-256 of a text that is no normalized e-mail,
phone, name, date or code, so it matches no person (not customer data)."""

_HEX64 = re.compile(r"[0-9a-f]{64}")
_VERSION = re.compile(r"v\d+\.\d+")
_AUDIENCE_ID = re.compile(r"\d{1,32}")
_ERROR_TYPE = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,39}")
_THROTTLE_HEADER = "X-Business-Use-Case-Usage"


@dataclass(frozen=True)
class _Failure:
    """What one failed request means: `retry` now (with backoff), `later` (next run), or `fatal`."""

    kind: str
    reason: str
    wait_s: float = 0.0


class MetaAudienceClient(PlatformClient):
    """One Meta customer-list custom audience.

    `add` / `remove` send batches of at most 10,000 rows one after another (`remove` as a `POST`
    with `method=DELETE`, as the Customer File Custom Audiences guide allows: the SDK sends a
    `DELETE`'s parameters in the URL, megabytes for a full batch). `replace` is one `usersreplace`
    session. Retryable failures are retried with exponential backoff (`backoff_s * 2**n`, at least
    what Meta's `X-Business-Use-Case-Usage` header announces, at most `max_backoff_s`: a longer
    announced block fails the run at once, as a `DeliveryError`, for the next run to retry).
    Proxy settings in the environment are ignored; `proxies` (requests' format) sets one explicitly.
    """

    platform = "meta"

    def __init__(self, custom_audience_id: str, access_token: str, *, graph_url: str = DEFAULT_GRAPH_URL,
                 api_version: str = DEFAULT_API_VERSION, max_retries: int = 5, backoff_s: float = 1.0,
                 max_backoff_s: float = 300.0, timeout_s: float = 60.0,
                 proxies: Mapping[str, str] | None = None, sleep: Callable[[float], None] = time.sleep) -> None:
        audience_id = str(custom_audience_id)
        if not _AUDIENCE_ID.fullmatch(audience_id):
            raise ConfigError("meta: the custom audience id must be digits")
        if not access_token:
            raise ConfigError("meta: an access token is required")
        if not _VERSION.fullmatch(api_version):
            raise ConfigError(f"meta: api_version must look like {DEFAULT_API_VERSION}")
        graph_url = graph_url.rstrip("/")
        if not re.fullmatch(r"https?://[^/?#\s]+", graph_url):
            raise ConfigError("meta: graph_url must be http(s)://host[:port] without a path")
        if max_retries < 0 or backoff_s < 0 or max_backoff_s < 0 or timeout_s <= 0:
            raise ConfigError("meta: retries, backoff and timeout must not be negative")
        self.custom_audience_id = audience_id
        self.destination = f"meta:{audience_id}"
        self._token = access_token
        self._max_retries = max_retries
        self._backoff_s = backoff_s
        self._max_backoff_s = max_backoff_s
        self._sleep = sleep
        self._session = FacebookSession(timeout=timeout_s, proxies=dict(proxies) if proxies else None)
        self._session.GRAPH = graph_url
        self._session.requests.params.pop("access_token", None)
        self._session.requests.trust_env = False
        self._api = FacebookAdsApi(self._session, api_version=api_version)

    # -- the interface ------------------------------------------------------------------------

    def add(self, members: Members, *, validate_only: bool = False) -> SendResult:
        return self._users("add", members, validate_only)

    def remove(self, members: Members, *, validate_only: bool = False) -> SendResult:
        return self._users("remove", members, validate_only)

    def replace(self, members: Members, *, validate_only: bool = False) -> SendResult:
        """One `usersreplace` session: a random 64-bit `session_id`, `batch_seq` 1, 2, ... (a retry
        resends the same number), `last_batch_flag` on the last batch, `estimated_num_total`.

        Meta applies the new membership when the last batch arrives; a session that fails half-way
        raises (`DeliveryError` / `DeliveryRefused`) and Meta ends it after 90 minutes, so the
        engine's next full replace starts a new one.

        An empty replace cannot be an empty session: the docs make `payload` with `data` required
        and describe no "remove everyone" call (`/users` removes only members it is given, which
        the client does not know; deleting the audience would change its id). So it is a session
        of one row whose only identifier is `_EMPTY_REPLACE_CELL` (value 0 in a value-based
        schema): Meta drops what the audience held and adds nobody, as "the information does not
        match with a user" (guide, Customer File Custom Audiences); the result carries a warning.
        """
        schema, rows = self._prepare("replace", members)
        result = SendResult()
        if validate_only:
            return self._validated(result, len(rows))
        if not rows:
            rows = [self._placeholder(schema)]
            result.warnings.append("meta: empty replace: uploaded one placeholder that matches nobody")
        batches = _chunks(rows)
        session_id = secrets.randbelow(2**63 - 1) + 1
        answers: list[Mapping[str, Any]] = []
        for seq, batch in enumerate(batches, start=1):
            session = {"session_id": session_id, "batch_seq": seq, "last_batch_flag": seq == len(batches),
                       "estimated_num_total": len(rows)}
            params = CustomAudience.format_params(list(schema), batch, is_raw=True, pre_hashed=True,
                                                  session=session)
            answers.append(self._call("usersreplace", params, f"replace batch {seq} of {len(batches)}", result))
        result.sent = len(members)
        result.invalid = _session_invalid(answers, len(rows), len(batches[-1]))
        return result

    def close(self) -> None:
        self._session.requests.close()

    # -- sending ------------------------------------------------------------------------------

    def _users(self, operation: str, members: Members, validate_only: bool) -> SendResult:
        schema, rows = self._prepare(operation, members)
        result = SendResult()
        if validate_only:
            return self._validated(result, len(rows))
        batches = _chunks(rows)
        for number, batch in enumerate(batches, start=1):
            params = CustomAudience.format_params(list(schema), batch, is_raw=True, pre_hashed=True)
            if operation == "remove":
                params["method"] = "DELETE"
            answer = self._call("users", params, f"{operation} batch {number} of {len(batches)}", result)
            result.sent += len(batch)
            result.invalid += _count(answer.get("num_invalid_entries"))
        return result

    def _call(self, edge: str, params: dict[str, Any], what: str, result: SendResult) -> Mapping[str, Any]:
        """One request, retried: returns Meta's answer or raises a one-line Delivery error."""
        params = {**params, "access_token": self._token}
        attempt = 0
        while True:
            result.requests += 1
            outcome = self._attempt(edge, params)
            if not isinstance(outcome, _Failure):
                return outcome
            if outcome.kind == "fatal":
                raise DeliveryRefused(f"meta: {what} failed: {outcome.reason}")
            if outcome.kind == "later":
                raise DeliveryError(f"meta: {what} failed: {outcome.reason}; the next run retries")
            if attempt >= self._max_retries:
                raise DeliveryError(f"meta: {what} failed after {attempt + 1} attempts: {outcome.reason}")
            if outcome.wait_s > self._max_backoff_s:
                raise DeliveryError(f"meta: {what} failed: {outcome.reason}, throttled for about "
                                    f"{math.ceil(outcome.wait_s / 60)} min; the next run retries")
            delay = min(max(self._backoff_s * 2**attempt, outcome.wait_s), self._max_backoff_s)
            attempt += 1
            log.warning("meta: %s: %s; retry %d of %d in %.1f s", what, outcome.reason, attempt,
                        self._max_retries, delay)
            self._sleep(delay)

    def _attempt(self, edge: str, params: dict[str, Any]) -> Mapping[str, Any] | _Failure:
        try:
            response = self._api.call("POST", (self.custom_audience_id, edge), params=params)
        except FacebookRequestError as error:
            return _classify(error)
        except requests.RequestException as error:
            return _Failure("retry", f"connection error ({type(error).__name__})")
        except (ValueError, TypeError, KeyError, AttributeError):
            # The SDK fails to build its error from some non-JSON bodies (a proxy's 5xx page).
            return _Failure("retry", "unreadable error response")
        # The SDK calls any body without an "error" key a success, whatever the status: a proxy's
        # "502 Bad Gateway" page included.
        status = _int_or_none(response.status())
        answer = response.json()
        if status is None or not 200 <= status < 300:
            return _status_failure(status)
        if not isinstance(answer, Mapping):
            return _Failure("retry", f"unexpected answer (HTTP {status})")
        return answer

    # -- members ------------------------------------------------------------------------------

    def _prepare(self, operation: str, members: Members) -> tuple[tuple[str, ...], list[list[Any]]]:
        """Checks the schema and every cell before anything is sent (a cell that is not a hash would
        send customer data in clear), and turns `LOOKALIKE_VALUE` into the number Meta expects."""
        schema = tuple(members.schema)
        refused = f"meta: {operation} refused"
        if not schema or len(set(schema)) != len(schema):
            raise DeliveryRefused(f"{refused}: the schema is empty or names a column twice")
        for key in schema:
            if key not in HASHED_KEYS and key != VALUE_KEY:
                shown = key if re.fullmatch(r"[A-Za-z_]{1,32}", str(key)) else "?"
                raise DeliveryRefused(f"{refused}: unknown schema column {shown}")
        if set(schema) == {VALUE_KEY}:
            raise DeliveryRefused(f"{refused}: the schema has no identifier column")
        rows: list[list[Any]] = []
        for index, row in enumerate(members.rows):
            if len(row) != len(schema):
                raise DeliveryRefused(f"{refused}: member {index} has {len(row)} cells for {len(schema)} columns")
            cells: list[Any] = []
            for key, cell in zip(schema, row, strict=True):
                if key == VALUE_KEY:
                    cells.append(_value(cell, f"{refused}: member {index}: {VALUE_KEY}"))
                elif cell == "" or (isinstance(cell, str) and _HEX64.fullmatch(cell)):
                    cells.append(cell)
                else:
                    raise DeliveryRefused(f"{refused}: member {index}: {key} is neither empty nor 64 lowercase hex")
            rows.append(cells)
        return schema, rows

    @staticmethod
    def _placeholder(schema: Sequence[str]) -> list[Any]:
        first = next(key for key in schema if key != VALUE_KEY)
        return [_EMPTY_REPLACE_CELL if key == first else 0 if key == VALUE_KEY else "" for key in schema]

    @staticmethod
    def _validated(result: SendResult, count: int) -> SendResult:
        result.warnings.append(f"meta: validate_only: {count} members checked here; Meta has no "
                               "validate-only mode, nothing was sent")
        return result


def _chunks(rows: list[list[Any]]) -> list[list[list[Any]]]:
    return [rows[start:start + MAX_MEMBERS_PER_REQUEST] for start in range(0, len(rows), MAX_MEMBERS_PER_REQUEST)]


def _value(cell: Any, where: str) -> Any:
    """`LOOKALIKE_VALUE` as a JSON number (Meta's examples: 44.5, 140), "" when unknown."""
    if cell == "":
        return ""
    try:
        number = float(cell)
    except (TypeError, ValueError):
        raise DeliveryRefused(f"{where} is not a number") from None
    if not math.isfinite(number) or number < 0:
        raise DeliveryRefused(f"{where} must be a finite number >= 0")
    return int(number) if number.is_integer() else number


def _count(value: Any) -> int:
    """Meta documents counts as int32 or numeric strings."""
    try:
        return max(int(value), 0)
    except (TypeError, ValueError):
        return 0


def _session_invalid(answers: Sequence[Mapping[str, Any]], total: int, last_batch: int) -> int:
    """Invalid entries of a replace session. The Replace users API guide says `num_received` is
    "received in this session so far"; when the last answer counts the whole session, its
    `num_invalid_entries` does too, otherwise the answers count their own request and are summed."""
    if not answers:
        return 0
    last_received = _count(answers[-1].get("num_received"))
    if len(answers) > 1 and last_received == total and last_received != last_batch:
        return _count(answers[-1].get("num_invalid_entries"))
    return sum(_count(answer.get("num_invalid_entries")) for answer in answers)


def _classify(error: FacebookRequestError) -> _Failure:
    """The meaning of a Graph error, from its numbers only (never its text: it may echo data)."""
    status = _int_or_none(error.http_status())
    code = _int_or_none(error.api_error_code())
    if code is None:
        return _status_failure(status)
    subcode = _int_or_none(error.api_error_subcode())
    kind_of_error = error.api_error_type()
    type_name = kind_of_error if isinstance(kind_of_error, str) and _ERROR_TYPE.fullmatch(kind_of_error) else "unknown"
    reason = f"error {code} {type_name}" + (f" (subcode {subcode})" if subcode is not None else "")
    if code == 2650 and subcode in LATER_SUBCODES_2650:
        return _Failure("later", reason)
    if code in FATAL_CODES:
        return _Failure("fatal", reason)
    if code in RETRYABLE_CODES or error.api_transient_error() is True or (status or 0) >= 500:
        return _Failure("retry", reason, _announced_wait_s(error.http_headers()))
    return _Failure("fatal", reason)


def _status_failure(status: int | None) -> _Failure:
    """A failure without a Graph error code: only the HTTP status tells (a 200 here is the SDK's
    "Service Unavailable" body)."""
    reason = f"HTTP {status}" if status is not None else "no HTTP status"
    retry = status is None or status >= 500 or status in (200, 408, 429)
    return _Failure("retry" if retry else "fatal", reason)


def _announced_wait_s(headers: Any) -> float:
    """The longest `estimated_time_to_regain_access` (minutes) in `X-Business-Use-Case-Usage`."""
    try:
        usage = json.loads(headers.get(_THROTTLE_HEADER) or headers.get(_THROTTLE_HEADER.lower()) or "{}")
        minutes = [_count(entry.get("estimated_time_to_regain_access"))
                   for entries in usage.values() for entry in entries if isinstance(entry, Mapping)]
    except (AttributeError, TypeError, ValueError):
        return 0.0
    return 60.0 * max(minutes, default=0)


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
