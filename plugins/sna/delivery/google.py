"""Google Customer Match through the Data Manager API (datamanager.googleapis.com).

Google's own client library (`google-ads-datamanager`, REST transport) builds and sends the requests;
this module adds what the library leaves to its caller: batches under the documented limits (10,000
members and 10 identifiers per member), a client-side throttle under the per-project quota (300
requests per minute), retries with exponential backoff of the retryable errors only, and the wait for
the asynchronous processing (`requestStatus:retrieve`) so that a call returns once Google has
processed what was sent, with the members it rejected counted.

Messages, logs and exceptions carry HTTP and API status codes, counts and request ids only: the
library's exceptions may quote the request (identifiers, tokens), so their text is never passed on.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from ipaddress import ip_address
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import google.auth.exceptions
import requests
from google.ads import datamanager_v1 as dm
from google.api_core import exceptions as api_exceptions
from google.auth.credentials import AnonymousCredentials, Credentials
from google.auth.transport.requests import AuthorizedSession
from google.oauth2 import service_account

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

DEFAULT_ENDPOINT = "https://datamanager.googleapis.com"
SCOPE = "https://www.googleapis.com/auth/datamanager"
ANONYMOUS = "anonymous"
"""SNA_GOOGLE_CREDENTIALS for a local fake: no credentials at all (refused for any non-loopback endpoint)."""

SCHEMA = ("email", "phone", "given_name", "family_name", "region_code", "postal_code")
"""The member columns this client reads (by name; a missing column counts as empty)."""
MAX_IDENTIFIERS_PER_MEMBER = 10
REQUESTS_PER_MINUTE = 300
"""The Data Manager API's per-project quota (IngestionService, per minute)."""

RETRYABLE_STATUSES = frozenset({"RESOURCE_EXHAUSTED", "ABORTED", "UNAVAILABLE", "INTERNAL", "DEADLINE_EXCEEDED"})
TRANSIENT_PROCESSING_REASONS = frozenset({"PROCESSING_ERROR_REASON_INTERNAL_ERROR"})
_HTTP_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
                409: "ABORTED", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 501: "NOT_IMPLEMENTED",
                503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}
_CODE = re.compile(r"[A-Z][A-Z0-9_]{1,79}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_REGION = re.compile(r"[A-Z]{2}")
_HASHED_COLUMNS = ("email", "phone", "given_name", "family_name")
# The library logs whole request bodies (identifiers) at DEBUG level; so does google-auth's transport.
_PAYLOAD_LOGGERS = ("google.ads.datamanager_v1", "google.auth.transport.requests")

_RequestStatus = dm.RequestStatusPerDestination.RequestStatus
_Identifier = tuple[str, str] | tuple[str, tuple[str, str, str, str]]


def google_credentials(value: str | None = None) -> Credentials | str:
    """The credentials SNA_GOOGLE_CREDENTIALS names: a service-account JSON file (scoped to the Data
    Manager API), or "anonymous" (which only a loopback endpoint accepts)."""
    raw = (os.environ.get("SNA_GOOGLE_CREDENTIALS", "") if value is None else value).strip()
    if not raw:
        raise ConfigError("SNA_GOOGLE_CREDENTIALS is not set: a service-account JSON file, or 'anonymous' "
                          "for a local fake")
    if raw == ANONYMOUS:
        return ANONYMOUS
    path = Path(raw).expanduser()
    if not path.is_file():
        raise ConfigError(f"SNA_GOOGLE_CREDENTIALS: {path}: no such file")
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(info, dict) or info.get("type") != "service_account":
            problem = "not a service-account key file"
        else:
            return service_account.Credentials.from_service_account_info(info, scopes=[SCOPE])
    except (google.auth.exceptions.GoogleAuthError, ValueError, OSError) as error:
        problem = type(error).__name__  # never its text: it may quote the private key
    raise ConfigError(f"SNA_GOOGLE_CREDENTIALS: {path}: unusable Google credentials ({problem})")


@dataclass(frozen=True)
class _Failure:
    """One failed attempt, described by codes only."""

    text: str
    retryable: bool
    retry_after: float = 0.0


class GoogleDataManagerClient(PlatformClient):
    """One Customer Match user list of one Google Ads account, fed through the Data Manager API."""

    platform = "google"

    def __init__(
        self,
        operating_account_id: str,
        user_list_id: str,
        *,
        consent: Mapping[str, str],
        credentials: Credentials | str,
        login_account_id: str | None = None,
        endpoint: str = DEFAULT_ENDPOINT,
        requests_per_minute: float = REQUESTS_PER_MINUTE,
        batch_size: int = MAX_MEMBERS_PER_REQUEST,
        poll_interval: float = 60.0,
        poll_max_interval: float = 600.0,
        poll_timeout: float = 3600.0,
        max_retries: int = 5,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        timeout: float = 120.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """`consent` states the users' consent for the whole list: {"ad_user_data": "granted"|"denied",
        "ad_personalization": "granted"|"denied"}. `credentials`: google.auth credentials, a credentials
        file path, or "anonymous" (loopback endpoints only). `clock`/`sleep` drive the throttle, the
        backoff and the polling (tests inject them); `now` gives the wall-clock time of `replace`."""
        self.operating_account_id = _account_id(operating_account_id, "operating_account_id")
        self.user_list_id = _account_id(user_list_id, "user_list_id")
        self.login_account_id = _account_id(login_account_id, "login_account_id") if login_account_id else None
        self.destination = f"google:{self.operating_account_id}:{self.user_list_id}"
        if not 1 <= batch_size <= MAX_MEMBERS_PER_REQUEST:
            raise ConfigError(f"google: batch_size must be 1..{MAX_MEMBERS_PER_REQUEST}, got {batch_size}")
        if requests_per_minute <= 0 or max_retries < 0 or min(poll_interval, poll_timeout, backoff) < 0:
            raise ConfigError("google: requests_per_minute must be positive; retries, intervals and timeouts "
                              "not negative")
        self._consent = _consent(consent)
        api_endpoint, host, loopback = _endpoint(endpoint)
        if isinstance(credentials, str):
            credentials = google_credentials(credentials)
        anonymous = credentials == ANONYMOUS
        if anonymous and not loopback:
            raise DeliveryRefused(f"google: anonymous credentials refused for {host}: they are accepted only "
                                  "for a loopback endpoint (127.0.0.1, localhost, ::1)")
        for name in _PAYLOAD_LOGGERS:
            payload_logger = logging.getLogger(name)
            if payload_logger.level < logging.INFO:
                payload_logger.setLevel(logging.INFO)
        self._api = dm.IngestionServiceClient(
            credentials=AnonymousCredentials() if anonymous else credentials,
            transport="rest",
            client_options={"api_endpoint": api_endpoint},
        )
        session = getattr(self._api.transport, "_session", None)
        if not isinstance(session, AuthorizedSession):
            raise RuntimeError("google-ads-datamanager: the REST transport has no AuthorizedSession (unsupported "
                               "library version)")
        # Every HTTP response is counted, including google-auth's resend after refreshing a token on 401.
        session.hooks["response"].append(self._count_response)
        if anonymous:
            session._refresh_status_codes = ()  # nothing to refresh: a 401 is final
        self._batch_size = batch_size
        self._min_interval = 60.0 / requests_per_minute
        self._poll_interval = poll_interval
        self._poll_max_interval = max(poll_max_interval, poll_interval)
        self._poll_timeout = poll_timeout
        self._max_retries = max_retries
        self._backoff = backoff
        self._max_backoff = max_backoff
        self._timeout = timeout
        self._clock = clock
        self._sleep = sleep
        self._now = now
        self._next_slot = float("-inf")
        self._http_requests = 0
        self._destination_pb = dm.Destination.pb(self._destination_message())
        self._consent_pb = dm.Consent.pb(self._consent)

    # -- the interface -----------------------------------------------------------------------------

    def add(self, members: Members, *, validate_only: bool = False) -> SendResult:
        start = self._http_requests
        result = self._send("ingest", members, validate_only)
        result.requests = self._http_requests - start
        return result

    def remove(self, members: Members, *, validate_only: bool = False) -> SendResult:
        start = self._http_requests
        result = self._send("remove", members, validate_only)
        result.requests = self._http_requests - start
        return result

    def replace(self, members: Members, *, validate_only: bool = False) -> SendResult:
        """Ingests `members`, waits until Google has processed them, then sends `audienceMembers:removeAll`
        with `removeAsOfTime` = the time noted just before the first ingest: only members last added
        before that time are removed, so the list ends holding exactly `members`. A failed ingest raises
        before removeAll is sent (the list is never emptied by a failed upload). The time is this host's
        clock: it must be synchronized (NTP), since the API refuses a removeAsOfTime in the future."""
        start = self._http_requests
        as_of = self._now()
        result = self._send("ingest", members, validate_only)
        request = dm.RemoveAllAudienceMembersRequest(
            destinations=[self._destination_message()], remove_as_of_time=as_of, validate_only=validate_only)
        response = self._call("removeAll", self._api.remove_all_audience_members, request)
        if not validate_only:
            self._await("removeAll", self._request_ids("removeAll", [response], result), result)
        result.requests = self._http_requests - start
        return result

    def close(self) -> None:
        self._api.transport.close()

    # -- sending -----------------------------------------------------------------------------------

    def _send(self, kind: str, members: Members, validate_only: bool) -> SendResult:
        prepared, invalid = self._prepare(members)
        result = SendResult(invalid=invalid)
        responses = []
        batches = range(0, len(prepared), self._batch_size)
        for number, first in enumerate(batches, start=1):
            batch = prepared[first:first + self._batch_size]
            if kind == "ingest":
                request, method = self._ingest_request(batch, validate_only), self._api.ingest_audience_members
            else:
                request, method = self._remove_request(batch, validate_only), self._api.remove_audience_members
            responses.append(self._call(kind, method, request))
            result.sent += len(batch)
            log.info("google: %s batch %d/%d sent: %d members%s", kind, number, len(batches), len(batch),
                     " (validate only)" if validate_only else "")
        if invalid:
            log.info("google: %d members without any identifier were not sent", invalid)
        if not validate_only:
            self._await(kind, self._request_ids(kind, responses, result), result)
        return result

    def _request_ids(self, kind: str, responses: Sequence[Any], result: SendResult) -> list[str]:
        ids = []
        for response in responses:
            warnings = list(getattr(response, "field_warnings", ()))
            if warnings:
                reasons = ", ".join(sorted({_enum_name(warning.reason) for warning in warnings}))
                result.warnings.append(f"google: {kind} returned {len(warnings)} field warnings ({reasons})")
            if response.request_id:
                ids.append(response.request_id)
            else:
                result.warnings.append(f"google: {kind} answered without a requestId: its processing is unchecked")
        return ids

    def _prepare(self, members: Members) -> tuple[list[list[_Identifier]], int]:
        """The identifiers of each member that has any, and the count of members without any."""
        unknown = sorted(set(members.schema) - set(SCHEMA))
        if unknown:
            raise DeliveryRefused(f"google: unknown member columns {', '.join(unknown)} (expected {', '.join(SCHEMA)})")
        at = {name: members.schema.index(name) for name in SCHEMA if name in members.schema}

        def cell(row: tuple[str, ...], name: str) -> str:
            index = at.get(name)
            return row[index].strip() if index is not None else ""

        prepared: list[list[_Identifier]] = []
        invalid = 0
        for row in members.rows:
            values = {name: cell(row, name) for name in SCHEMA}
            for name in _HASHED_COLUMNS:
                if values[name] and not _HEX64.fullmatch(values[name]):
                    raise DeliveryRefused(f"google: a member's {name} is not a SHA-256 hash (64 lowercase hex): "
                                          "members must be hashed before delivery")
            identifiers: list[_Identifier] = []
            if values["email"]:
                identifiers.append(("email", values["email"]))
            if values["phone"]:
                identifiers.append(("phone", values["phone"]))
            region = values["region_code"].upper()
            # AddressInfo requires all four (given and family name hashed, region ISO alpha-2, postal code).
            if values["given_name"] and values["family_name"] and _REGION.fullmatch(region) and values["postal_code"]:
                identifiers.append(("address", (values["given_name"], values["family_name"], region,
                                                values["postal_code"])))
            if identifiers:
                prepared.append(identifiers[:MAX_IDENTIFIERS_PER_MEMBER])
            else:
                invalid += 1
        return prepared, invalid

    @staticmethod
    def _fill_members(repeated: Any, batch: Sequence[list[_Identifier]]) -> None:
        """Builds the AudienceMember messages in place (raw protobuf: ten times faster than proto-plus)."""
        for identifiers in batch:
            user_identifiers = repeated.add().user_data.user_identifiers
            for kind, value in identifiers:
                if kind == "email":
                    user_identifiers.add().email_address = value
                elif kind == "phone":
                    user_identifiers.add().phone_number = value
                else:
                    address = user_identifiers.add().address
                    address.given_name, address.family_name, address.region_code, address.postal_code = value

    def _ingest_request(self, batch: Sequence[list[_Identifier]], validate_only: bool) -> Any:
        pb = dm.IngestAudienceMembersRequest.pb()()
        pb.destinations.add().CopyFrom(self._destination_pb)
        self._fill_members(pb.audience_members, batch)
        pb.consent.CopyFrom(self._consent_pb)
        pb.terms_of_service.customer_match_terms_of_service_status = dm.TermsOfServiceStatus.ACCEPTED
        pb.encoding = dm.Encoding.HEX
        pb.validate_only = validate_only
        return dm.IngestAudienceMembersRequest.wrap(pb)

    def _remove_request(self, batch: Sequence[list[_Identifier]], validate_only: bool) -> Any:
        """Remove takes destinations, members, encoding and validateOnly (no consent, no terms)."""
        pb = dm.RemoveAudienceMembersRequest.pb()()
        pb.destinations.add().CopyFrom(self._destination_pb)
        self._fill_members(pb.audience_members, batch)
        pb.encoding = dm.Encoding.HEX
        pb.validate_only = validate_only
        return dm.RemoveAudienceMembersRequest.wrap(pb)

    def _destination_message(self) -> Any:
        google_ads = dm.ProductAccount.AccountType.GOOGLE_ADS
        destination = dm.Destination(
            operating_account=dm.ProductAccount(account_type=google_ads, account_id=self.operating_account_id),
            product_destination_id=self.user_list_id,
        )
        if self.login_account_id:
            destination.login_account = dm.ProductAccount(account_type=google_ads, account_id=self.login_account_id)
        return destination

    # -- HTTP: throttle, retries, polling ------------------------------------------------------------

    def _count_response(self, response: Any, *args: Any, **kwargs: Any) -> None:
        self._http_requests += 1

    def _throttle(self) -> None:
        """At least 60/requests_per_minute seconds between two requests: never over the quota in any minute."""
        now = self._clock()
        if now < self._next_slot:
            self._sleep(self._next_slot - now)
            now = max(self._clock(), self._next_slot)
        self._next_slot = now + self._min_interval

    def _call(self, what: str, method: Callable[..., Any], request: Any) -> Any:
        """One API call with the retries of retryable failures; raises outside any `except` so that no
        library exception (which may quote the request) is chained to ours."""
        attempt = 0
        while True:
            self._throttle()
            try:
                return method(request=request, retry=None, timeout=self._timeout)
            except api_exceptions.GoogleAPICallError as error:
                failure = _api_failure(error)
            except google.auth.exceptions.RefreshError as error:
                failure = _Failure("credentials could not be refreshed", bool(getattr(error, "retryable", False)))
            except google.auth.exceptions.TransportError as error:
                failure = _Failure(f"credentials transport error ({type(error).__name__})", True)
            except google.auth.exceptions.GoogleAuthError as error:
                failure = _Failure(f"credentials error ({type(error).__name__})", False)
            except requests.exceptions.RequestException as error:
                self._http_requests += 1  # sent, or tried, without an answer
                failure = _Failure(f"connection error ({type(error).__name__})", True)
            if not failure.retryable:
                raise DeliveryRefused(f"google: {what} failed: {failure.text}")
            if attempt >= self._max_retries:
                raise DeliveryError(f"google: {what} failed: {failure.text} after {attempt + 1} attempts")
            delay = min(self._max_backoff, self._backoff * 2 ** attempt)
            if failure.retry_after:
                delay = max(delay, min(failure.retry_after, self._max_backoff))
            log.info("google: %s failed (%s), retry %d/%d in %.1f s", what, failure.text, attempt + 1,
                     self._max_retries, delay)
            self._sleep(delay)
            attempt += 1

    def _await(self, what: str, request_ids: list[str], result: SendResult) -> None:
        """Polls `requestStatus:retrieve` for every request until each is final, waiting poll_interval,
        then twice as long each round (up to poll_max_interval), as Google's diagnostics guide advises;
        gives up after poll_timeout seconds with a DeliveryError (sending again is harmless)."""
        pending = list(request_ids)
        if not pending:
            return
        deadline = self._clock() + self._poll_timeout
        wait = self._poll_interval
        while True:
            self._sleep(max(0.0, min(wait, deadline - self._clock())))
            still = []
            for request_id in pending:
                status = self._call("requestStatus", self._api.retrieve_request_status,
                                    dm.RetrieveRequestStatusRequest(request_id=request_id))
                if not self._settle(what, request_id, status, result):
                    still.append(request_id)
            pending = still
            if not pending:
                return
            if self._clock() >= deadline:
                more = f" (and {len(pending) - 1} more)" if len(pending) > 1 else ""
                raise DeliveryError(f"google: request {pending[0]}{more} still PROCESSING after "
                                    f"{self._poll_timeout:g} s")
            wait = min(wait * 2, self._poll_max_interval)

    @staticmethod
    def _settle(what: str, request_id: str, status: Any, result: SendResult) -> bool:
        """True when the request is final; counts the members a PARTIAL_SUCCESS rejected."""
        entries = list(status.request_status_per_destination)
        if not entries:
            return False
        states = [entry.request_status for entry in entries]
        if _RequestStatus.FAILED in states:
            reasons = _reasons(entries)
            error = DeliveryError if reasons and set(reasons) <= TRANSIENT_PROCESSING_REASONS else DeliveryRefused
            raise error(f"google: {what} request {request_id} FAILED: {', '.join(reasons) or 'no reason given'}")
        if any(state not in (_RequestStatus.SUCCESS, _RequestStatus.PARTIAL_SUCCESS) for state in states):
            return False
        for entry in entries:
            if entry.request_status == _RequestStatus.PARTIAL_SUCCESS:
                failed = sum(count.record_count for count in entry.error_info.error_counts)
                result.invalid += failed
                reasons = ", ".join(_reasons([entry])) or "no reason given"
                result.warnings.append(f"google: {what} request {request_id} PARTIAL_SUCCESS: {failed} members "
                                       f"failed ({reasons})")
        return True


def _account_id(value: str, name: str) -> str:
    """A Google Ads id: digits (the dashes of 123-456-7890 are dropped)."""
    digits = str(value).strip().replace("-", "")
    if not digits.isdigit() or not digits.isascii():
        raise ConfigError(f"google: {name} must be digits (dashes allowed), got {value!r}")
    return digits


def _consent(consent: Mapping[str, str]) -> Any:
    statuses = {"granted": dm.ConsentStatus.CONSENT_GRANTED, "denied": dm.ConsentStatus.CONSENT_DENIED}
    keys = {"ad_user_data", "ad_personalization"}
    if not isinstance(consent, Mapping) or set(consent) != keys:
        raise ConfigError("google: consent must give ad_user_data and ad_personalization, each granted or denied")
    values = {key: statuses.get(str(consent[key]).strip().lower()) for key in keys}
    bad = sorted(key for key, status in values.items() if status is None)
    if bad:
        raise ConfigError(f"google: consent {bad[0]} must be granted or denied, got {consent[bad[0]]!r}")
    return dm.Consent(ad_user_data=values["ad_user_data"], ad_personalization=values["ad_personalization"])


def _endpoint(endpoint: str) -> tuple[str, str, bool]:
    """(the api_endpoint for the library, the host, whether it is loopback); plain http only on loopback."""
    parts = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
    try:
        host, _port = parts.hostname, parts.port
    except ValueError:
        host = None
    if parts.scheme not in ("http", "https") or not host or parts.username or parts.path not in ("", "/") \
            or parts.query or parts.fragment:
        raise ConfigError(f"google: endpoint must be http(s)://host[:port], got {endpoint!r}")
    loopback = _is_loopback(host)
    if parts.scheme == "http" and not loopback:
        raise DeliveryRefused(f"google: plain-http endpoint {host} refused: only a loopback endpoint may use http")
    return f"{parts.scheme}://{parts.netloc}", host, loopback


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


def _api_failure(error: api_exceptions.GoogleAPICallError) -> _Failure:
    """Codes only: the HTTP status, the API status (RESOURCE_EXHAUSTED, ...) and the ErrorInfo reason."""
    http = error.code if isinstance(error.code, int) else None
    response = getattr(error, "response", None)
    status = None
    retry_after = 0.0
    if response is not None and hasattr(response, "json"):
        try:
            payload = response.json()
            status = payload.get("error", {}).get("status") if isinstance(payload, dict) else None
        except ValueError:
            status = None
        try:
            retry_after = float(response.headers.get("Retry-After", 0) or 0)
        except (TypeError, ValueError, AttributeError):
            retry_after = 0.0
    if not isinstance(status, str) or not _CODE.fullmatch(status):
        status = _HTTP_STATUS.get(http or 0, "UNKNOWN")
    reason = error.reason if isinstance(error.reason, str) and _CODE.fullmatch(error.reason) else None
    text = f"{http or 'no HTTP status'} {status}" + (f" ({reason})" if reason and reason != status else "")
    retryable = status in RETRYABLE_STATUSES or http == 429 or (http is not None and http >= 500)
    return _Failure(text, retryable, retry_after)


def _enum_name(value: Any) -> str:
    name = getattr(value, "name", None)
    return name if isinstance(name, str) else str(int(value))


def _reasons(entries: Sequence[Any]) -> list[str]:
    return sorted({_enum_name(count.reason) for entry in entries for count in entry.error_info.error_counts})
