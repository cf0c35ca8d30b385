"""A contract fake of the Google Data Manager API (Customer Match audience members) on 127.0.0.1.

Written from the public REST reference (developers.google.com/data-manager/api/reference/rest/v1:
`audienceMembers.ingest`, `.remove`, `.removeAll`, `requestStatus.retrieve`, the `AudienceMember`,
`UserData`, `Destination`, `Consent` and `TermsOfService` types) and the "Limits and quotas" guide. It
speaks real HTTP, so the real client library's REST transport talks to it, and it keeps what a test
must assert on: the membership of each destination (a member's identity is its sorted identifiers).

Like the real service it processes requests asynchronously: an ingest, remove or removeAll changes
the membership only when its status is first reported final (after `processing_polls` PROCESSING
answers), and earlier requests are processed first. What the docs forbid is answered 400
INVALID_ARGUMENT; its messages echo the offending value, as Google's do, so a test can show the client
never passes them on. Enums are accepted as names or numbers (proto3 JSON; the library sends numbers).

Fault injection: `fail_next` queues canned error answers, `die_after` stops the server mid-batch,
`outcomes` makes the next requests end PARTIAL_SUCCESS or FAILED, `token` requires a bearer token.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

MAX_MEMBERS = 10_000
MAX_IDENTIFIERS = 10
MAX_DESTINATIONS = 10

ACCOUNT_TYPES = ("ACCOUNT_TYPE_UNSPECIFIED", "GOOGLE_ADS", "DISPLAY_VIDEO_PARTNER", "DISPLAY_VIDEO_ADVERTISER",
                 "DATA_PARTNER", "GOOGLE_ANALYTICS_PROPERTY", "GOOGLE_AD_MANAGER_AUDIENCE_LINK",
                 "FLOODLIGHT_CONFIG", "GOOGLE_AD_MANAGER")
CONSENT_STATUSES = ("CONSENT_STATUS_UNSPECIFIED", "CONSENT_GRANTED", "CONSENT_DENIED")
ENCODINGS = ("ENCODING_UNSPECIFIED", "HEX", "BASE64")
TOS_STATUSES = ("TERMS_OF_SERVICE_STATUS_UNSPECIFIED", "ACCEPTED", "REJECTED")

PATHS = {
    ("POST", "/v1/audienceMembers:ingest"): "ingest",
    ("POST", "/v1/audienceMembers:remove"): "remove",
    ("POST", "/v1/audienceMembers:removeAll"): "removeAll",
    ("GET", "/v1/requestStatus:retrieve"): "status",
}
REQUEST_FIELDS = {
    "ingest": {"destinations", "audienceMembers", "consent", "validateOnly", "encoding", "encryptionInfo",
               "termsOfService"},
    "remove": {"destinations", "audienceMembers", "validateOnly", "encoding", "encryptionInfo"},
    "removeAll": {"destinations", "removeAsOfTime", "validateOnly"},
}
DESTINATION_FIELDS = {"reference", "loginAccount", "linkedAccount", "operatingAccount", "productDestinationId"}
ACCOUNT_FIELDS = {"accountType", "accountId", "product"}
MEMBER_FIELDS = {"destinationReferences", "userData", "consent"}
ADDRESS_FIELDS = {"givenName", "familyName", "regionCode", "postalCode", "addressLine", "city",
                  "administrativeArea"}

_HEX64 = re.compile(r"[0-9a-f]{64}")
_REGION = re.compile(r"[A-Z]{2}")
_DIGITS = re.compile(r"[0-9]+")
_RFC3339 = re.compile(r"(\d{4})-(\d\d)-(\d\d)[Tt](\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?([Zz]|[+-]\d\d:\d\d)")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Identity = tuple[str, ...]
DestinationKey = tuple[str, str]
"""(operating account id, product destination id)."""


def identity(email: str = "", phone: str = "", address: tuple[str, str, str, str] | None = None) -> Identity:
    """The identity the fake keeps for a member with these identifiers (address: given, family, region,
    postal), for tests that compute the expected membership."""
    parts = []
    if email:
        parts.append(f"email:{email}")
    if phone:
        parts.append(f"phone:{phone}")
    if address:
        parts.append("address:" + ":".join(address))
    return tuple(sorted(parts))


def parse_timestamp_ns(text: str) -> int | None:
    """An RFC 3339 timestamp (the JSON form of google.protobuf.Timestamp) in nanoseconds, or None."""
    match = _RFC3339.fullmatch(text)
    if not match:
        return None
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    offset = match.group(8)
    tz: timezone = UTC
    if offset not in ("Z", "z"):
        sign = 1 if offset[0] == "+" else -1
        tz = timezone(sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6])))
    try:
        moment = datetime(year, month, day, hour, minute, second, tzinfo=tz)
    except ValueError:
        return None
    seconds = (moment - _EPOCH) // timedelta(seconds=1)
    return seconds * 1_000_000_000 + int((match.group(7) or "").ljust(9, "0"))


class ApiError(Exception):
    """An error answer in Google's JSON error format."""

    def __init__(self, http: int, status: str, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.http, self.status, self.message, self.reason = http, status, message, reason

    def payload(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.http, "message": self.message, "status": self.status}
        if self.reason:
            error["details"] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": self.reason,
                                 "domain": "datamanager.googleapis.com"}]
        return {"error": error}


def _invalid(message: str, reason: str = "INVALID_ARGUMENT") -> ApiError:
    return ApiError(400, "INVALID_ARGUMENT", message, reason)


@dataclass
class RecordedRequest:
    """One HTTP request the fake received (its body is kept for the tests, never for the client)."""

    method: str
    path: str
    kind: str
    """ingest, remove, removeAll, status, or unknown."""
    members: int
    validate_only: bool
    at: float
    """The fake's `clock()` on arrival (a test injects the client's clock to check the throttle)."""
    body: dict[str, Any]
    status: int = 0
    """The HTTP status answered (0: the connection was dropped)."""
    answer: str = ""
    request_id: str | None = None


@dataclass
class Outcome:
    """How the next processed request ends: SUCCESS, PARTIAL_SUCCESS (its last `failed` members are not
    applied) or FAILED (nothing applied)."""

    status: str = "SUCCESS"
    failed: int = 0
    reason: str = "PROCESSING_ERROR_REASON_INVALID_FORMAT"


@dataclass
class _Canned:
    http: int
    status: str
    kinds: frozenset[str] | None
    reason: str | None


@dataclass
class _Pending:
    request_id: str
    kind: str
    destinations: list[dict[str, Any]]
    keys: list[DestinationKey]
    members: list[Identity]
    identifiers: int
    received_ns: int
    remove_as_of_ns: int | None
    polls_left: int
    outcome: Outcome
    done: bool = False


@dataclass
class GoogleDataManagerFake:
    """The fake's state and behaviour; `start()` serves it on 127.0.0.1 and sets `endpoint`."""

    processing_polls: int = 0
    """How many status polls of a request answer PROCESSING before it is processed."""
    token: str | None = None
    """When set, every request must carry `Authorization: Bearer <token>` (else 401 UNAUTHENTICATED)."""
    clock: Callable[[], float] = time.monotonic
    now_ns: Callable[[], int] = time.time_ns
    requests: list[RecordedRequest] = field(default_factory=list)
    outcomes: deque[Outcome] = field(default_factory=deque)
    endpoint: str = ""
    _membership: dict[DestinationKey, dict[Identity, int]] = field(default_factory=dict)
    _pending: dict[str, _Pending] = field(default_factory=dict)
    _canned: deque[_Canned] = field(default_factory=deque)
    _budget: int | None = None
    _dead: bool = False
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    # -- test controls -------------------------------------------------------------------------

    def fail_next(self, http: int, status: str, *, times: int = 1, kinds: Iterable[str] | None = None,
                  reason: str | None = None) -> None:
        """Answers the next `times` requests (of these kinds, if given) with this error, before anything
        else is checked: e.g. `fail_next(429, "RESOURCE_EXHAUSTED", times=3)`."""
        wanted = frozenset(kinds) if kinds is not None else None
        with self._lock:
            self._canned.extend(_Canned(http, status, wanted, reason) for _ in range(times))

    def die_after(self, answered: int) -> None:
        """Stops the server once `answered` more requests have been answered: later requests find the
        connection dropped, then refused."""
        with self._lock:
            self._budget = answered

    def members(self, account_id: str, list_id: str) -> set[Identity]:
        """The identities the destination holds now."""
        with self._lock:
            return set(self._membership.get((account_id, list_id), {}))

    def preload(self, account_id: str, list_id: str, identities: Iterable[Identity], added_ns: int) -> None:
        """Puts members in a destination as if an earlier run had added them at `added_ns`."""
        with self._lock:
            held = self._membership.setdefault((account_id, list_id), {})
            held.update(dict.fromkeys(identities, added_ns))

    def process_all(self) -> None:
        """Processes every pending request now (as the real service eventually does)."""
        with self._lock:
            for pending in list(self._pending.values()):
                self._process(pending)

    def kinds(self) -> list[str]:
        return [request.kind for request in self.requests]

    def of_kind(self, kind: str) -> list[RecordedRequest]:
        return [request for request in self.requests if request.kind == kind]

    # -- serving -------------------------------------------------------------------------------

    def start(self) -> GoogleDataManagerFake:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        server.fake = self  # type: ignore[attr-defined]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="google-datamanager-fake", daemon=True)
        self._thread.start()
        self.endpoint = f"http://127.0.0.1:{server.server_port}"
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def handle(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> tuple[int, dict] | None:
        """Answers one HTTP request (header names in lower case): (status, JSON payload), or None to drop
        the connection."""
        url = urlsplit(target)
        kind = PATHS.get((method, url.path), "unknown")
        with self._lock:
            if self._dead:
                self.requests.append(RecordedRequest(method, url.path, kind, 0, False, self.clock(), {}))
                return None
            body: dict[str, Any] = {}
            record = RecordedRequest(method, url.path, kind, 0, False, self.clock(), body)
            self.requests.append(record)
            try:
                if raw:
                    try:
                        body = json.loads(raw)
                    except ValueError:
                        raise _invalid("Invalid JSON payload received.") from None
                    if not isinstance(body, dict):
                        raise _invalid("Invalid JSON payload received: not an object.")
                    record.body = body
                    members = body.get("audienceMembers")
                    record.members = len(members) if isinstance(members, list) else 0
                    record.validate_only = body.get("validateOnly") is True
                status, payload = 200, self._answer(kind, headers, body, parse_qs(url.query), raw)
            except ApiError as error:
                status, payload = error.http, error.payload()
            record.status = status
            record.answer = json.dumps(payload)
            record.request_id = payload.get("requestId")
            if self._budget is not None:
                self._budget -= 1
                if self._budget <= 0:
                    self._dead = True
                    threading.Thread(target=self._shut_listener, daemon=True).start()
            return status, payload

    def _shut_listener(self) -> None:
        server = self._server
        if server is not None:
            server.shutdown()
            server.server_close()

    # -- the API -------------------------------------------------------------------------------

    def _answer(self, kind: str, headers: dict[str, str], body: dict[str, Any], query: dict[str, list[str]],
                raw: bytes) -> dict[str, Any]:
        for index, canned in enumerate(self._canned):
            if canned.kinds is None or kind in canned.kinds:
                del self._canned[index]
                # Like Google's own messages, the canned ones may carry request content (here: the
                # credentials and the start of the body), which a client must never pass on.
                echo = f"credentials {headers.get('authorization', '')!r}, request {raw[:400]!r}"
                raise ApiError(canned.http, canned.status, f"{canned.status}: {echo}", canned.reason)
        if self.token is not None:
            given = headers.get("authorization", "")
            if given != f"Bearer {self.token}":
                raise ApiError(401, "UNAUTHENTICATED",
                               f"Request had invalid authentication credentials: {given!r}.")
        if kind == "unknown":
            raise ApiError(404, "NOT_FOUND", "The requested URL was not found on this server.")
        if kind == "status":
            return self._status(query)
        self._check_fields(body, REQUEST_FIELDS[kind], "")
        destinations = self._destinations(body.get("destinations"))
        validate_only = body.get("validateOnly", False)
        if not isinstance(validate_only, bool):
            raise _invalid(f"Invalid value at 'validate_only' (TYPE_BOOL), {validate_only!r}")
        members: list[Identity] = []
        identifiers = 0
        remove_as_of_ns: int | None = None
        if kind in ("ingest", "remove"):
            encoding = enum_name(body.get("encoding"), ENCODINGS)
            if encoding is None or encoding == "ENCODING_UNSPECIFIED":
                raise _invalid("encoding must be provided for UserData uploads.", "REQUIRED_FIELD_MISSING")
            if encoding != "HEX":
                raise _invalid(f"The fake supports HEX encoding only, got {encoding}.", "INVALID_FORMAT")
            if "encryptionInfo" in body:
                raise _invalid("The fake does not support encryptionInfo.")
            members, identifiers = self._members(body.get("audienceMembers"))
        if kind == "ingest":
            self._consent(body.get("consent"), "consent", required=True)
            terms = body.get("termsOfService")
            status = enum_name(terms.get("customerMatchTermsOfServiceStatus"), TOS_STATUSES) \
                if isinstance(terms, dict) else None
            if status != "ACCEPTED":
                raise _invalid("The Customer Match terms of service must be accepted.",
                               "TERMS_AND_CONDITIONS_NOT_SIGNED")
        if kind == "removeAll":
            moment = body.get("removeAsOfTime")
            if moment is not None:
                remove_as_of_ns = parse_timestamp_ns(moment) if isinstance(moment, str) else None
                if remove_as_of_ns is None:
                    raise _invalid(f"Invalid value at 'remove_as_of_time' (type.googleapis.com/"
                                   f"google.protobuf.Timestamp), {moment!r}")
                if remove_as_of_ns > self.now_ns():
                    raise _invalid("The remove as of time must not be in the future.")
        if validate_only:
            return {}  # "Only errors are returned, not results."
        request_id = f"fake-{next(self._ids):06d}"
        self._pending[request_id] = _Pending(
            request_id, kind, [dict(destination) for destination in destinations],
            [(d["operatingAccount"]["accountId"], d["productDestinationId"]) for d in destinations],
            members, identifiers, self.now_ns(), remove_as_of_ns, self.processing_polls,
            self.outcomes.popleft() if self.outcomes else Outcome())
        return {"requestId": request_id}

    def _status(self, query: dict[str, list[str]]) -> dict[str, Any]:
        request_id = (query.get("requestId") or [""])[0]
        pending = self._pending.get(request_id)
        if pending is None:
            raise _invalid(f"Unknown request id {request_id!r}.", "INVALID_REQUEST_ID")
        if not pending.done and pending.polls_left > 0:
            pending.polls_left -= 1
            return {"requestStatusPerDestination": [
                {"destination": destination, "requestStatus": "PROCESSING"} for destination in pending.destinations]}
        self._process(pending)
        outcome = pending.outcome
        entries = []
        for destination in pending.destinations:
            entry: dict[str, Any] = {"destination": destination, "requestStatus": outcome.status}
            counts = {"recordCount": str(len(pending.members)), "userIdentifierCount": str(pending.identifiers)}
            if pending.kind == "ingest":
                entry["audienceMembersIngestionStatus"] = {"userDataIngestionStatus": counts}
            elif pending.kind == "remove":
                entry["audienceMembersRemovalStatus"] = {"userDataRemovalStatus": counts}
            else:
                entry["removeAllAudienceMembersStatus"] = {}
            if outcome.status in ("PARTIAL_SUCCESS", "FAILED"):
                failed = outcome.failed if outcome.status == "PARTIAL_SUCCESS" else len(pending.members)
                entry["errorInfo"] = {"errorCounts": [{"recordCount": str(failed), "reason": outcome.reason}]}
            entries.append(entry)
        return {"requestStatusPerDestination": entries}

    def _process(self, target: _Pending) -> None:
        """Processes `target` and, first, every request received before it."""
        for pending in self._pending.values():
            if not pending.done:
                pending.done = True
                self._apply(pending)
            if pending is target:
                return

    def _apply(self, pending: _Pending) -> None:
        outcome = pending.outcome
        if outcome.status == "FAILED":
            return
        members = pending.members
        if outcome.status == "PARTIAL_SUCCESS" and outcome.failed:
            members = members[:max(0, len(members) - outcome.failed)]
        for key in pending.keys:
            held = self._membership.setdefault(key, {})
            if pending.kind == "ingest":
                held.update(dict.fromkeys(members, pending.received_ns))
            elif pending.kind == "remove":
                for member in members:
                    held.pop(member, None)
            else:
                as_of = pending.remove_as_of_ns if pending.remove_as_of_ns is not None else pending.received_ns
                for member in [member for member, added in held.items() if added < as_of]:
                    del held[member]

    # -- checks from the reference ---------------------------------------------------------------

    @staticmethod
    def _check_fields(value: dict[str, Any], allowed: set[str], where: str) -> None:
        unknown = sorted(set(value) - allowed)
        if unknown:
            raise _invalid(f"Invalid JSON payload received. Unknown name {unknown[0]!r} at '{where}'.")

    def _destinations(self, destinations: Any) -> list[dict[str, Any]]:
        if not isinstance(destinations, list) or not destinations:
            raise _invalid("destinations is required.", "REQUIRED_FIELD_MISSING")
        if len(destinations) > MAX_DESTINATIONS:
            raise _invalid("Too many destinations.", "TOO_MANY_DESTINATIONS")
        for index, destination in enumerate(destinations):
            where = f"destinations[{index}]"
            if not isinstance(destination, dict):
                raise _invalid(f"Invalid value at '{where}'.")
            self._check_fields(destination, DESTINATION_FIELDS, where)
            self._account(destination.get("operatingAccount"), f"{where}.operating_account", ("GOOGLE_ADS",))
            if "loginAccount" in destination:
                self._account(destination["loginAccount"], f"{where}.login_account", ("GOOGLE_ADS", "DATA_PARTNER"))
            product = destination.get("productDestinationId")
            if not isinstance(product, str) or not _DIGITS.fullmatch(product):
                raise _invalid(f"Invalid value at '{where}.product_destination_id', {product!r}",
                               "INVALID_USER_LIST_ID")
        return destinations

    def _account(self, account: Any, where: str, types: tuple[str, ...]) -> None:
        if not isinstance(account, dict):
            raise _invalid(f"{where} is required.", "REQUIRED_FIELD_MISSING")
        self._check_fields(account, ACCOUNT_FIELDS, where)
        kind = enum_name(account.get("accountType"), ACCOUNT_TYPES)
        if kind not in types:
            raise _invalid(f"Invalid value at '{where}.account_type', {account.get('accountType')!r}",
                           "INVALID_DESTINATION")
        account_id = account.get("accountId")
        if not isinstance(account_id, str) or not _DIGITS.fullmatch(account_id):
            raise _invalid(f"Invalid value at '{where}.account_id', {account_id!r}", "INVALID_DESTINATION")

    def _consent(self, consent: Any, where: str, *, required: bool) -> None:
        # The reference marks consent optional; the fake requires it on ingest because SNA always states
        # it (an EEA audience without consent would be silently unusable).
        if consent is None and not required:
            return
        if not isinstance(consent, dict):
            raise _invalid(f"{where} is required.", "REQUIRED_FIELD_MISSING")
        self._check_fields(consent, {"adUserData", "adPersonalization"}, where)
        for name in ("adUserData", "adPersonalization"):
            if enum_name(consent.get(name), CONSENT_STATUSES) not in ("CONSENT_GRANTED", "CONSENT_DENIED"):
                raise _invalid(f"Invalid value at '{where}.{name}', {consent.get(name)!r}", "INVALID_ENUM_VALUE")

    def _members(self, members: Any) -> tuple[list[Identity], int]:
        if not isinstance(members, list) or not members:
            raise _invalid("audience_members is required.", "REQUIRED_FIELD_MISSING")
        if len(members) > MAX_MEMBERS:
            raise _invalid(f"{len(members)} audience members; at most {MAX_MEMBERS} per request.",
                           "TOO_MANY_AUDIENCE_MEMBERS")
        identities: list[Identity] = []
        count = 0
        for index, member in enumerate(members):
            where = f"audience_members[{index}]"
            if not isinstance(member, dict):
                raise _invalid(f"Invalid value at '{where}'.")
            self._check_fields(member, MEMBER_FIELDS, where)
            self._consent(member.get("consent"), f"{where}.consent", required=False)
            user_data = member.get("userData")
            identifiers = user_data.get("userIdentifiers") if isinstance(user_data, dict) else None
            if not isinstance(identifiers, list) or not identifiers:
                raise _invalid(f"{where}.user_data.user_identifiers: at least one identifier is required.",
                               "INVALID_AUDIENCE_MEMBER")
            if len(identifiers) > MAX_IDENTIFIERS:
                raise _invalid(f"{where}: {len(identifiers)} user identifiers; at most {MAX_IDENTIFIERS}.",
                               "TOO_MANY_USER_IDENTIFIERS")
            parts = [self._identifier(item, f"{where}.user_data.user_identifiers[{position}]")
                     for position, item in enumerate(identifiers)]
            identities.append(tuple(sorted(parts)))
            count += len(parts)
        return identities, count

    def _identifier(self, item: Any, where: str) -> str:
        if not isinstance(item, dict) or len(item) != 1:
            raise _invalid(f"Invalid value at '{where}': exactly one identifier must be set.")
        (name, value), = item.items()
        if name in ("emailAddress", "phoneNumber"):
            self._hashed(value, f"{where}.{name}")
            return f"{'email' if name == 'emailAddress' else 'phone'}:{value}"
        if name != "address":
            raise _invalid(f"Invalid JSON payload received. Unknown name {name!r} at '{where}'.")
        if not isinstance(value, dict):
            raise _invalid(f"Invalid value at '{where}.address'.")
        self._check_fields(value, ADDRESS_FIELDS, f"{where}.address")
        for required in ("givenName", "familyName", "regionCode", "postalCode"):
            if not value.get(required):
                raise _invalid(f"{where}.address.{required} is required.", "REQUIRED_FIELD_MISSING")
        self._hashed(value["givenName"], f"{where}.address.given_name")
        self._hashed(value["familyName"], f"{where}.address.family_name")
        if not isinstance(value["regionCode"], str) or not _REGION.fullmatch(value["regionCode"]):
            raise _invalid(f"Invalid value at '{where}.address.region_code', {value['regionCode']!r}",
                           "INVALID_FORMAT")
        if not isinstance(value["postalCode"], str):
            raise _invalid(f"Invalid value at '{where}.address.postal_code'.", "INVALID_POSTAL_CODE")
        return f"address:{value['givenName']}:{value['familyName']}:{value['regionCode']}:{value['postalCode']}"

    @staticmethod
    def _hashed(value: Any, where: str) -> None:
        if not isinstance(value, str) or not _HEX64.fullmatch(value):
            raise _invalid(f"Invalid value at '{where}', {value!r}: not a HEX encoded SHA-256 hash.",
                           "INVALID_SHA256_FORMAT")


def enum_name(value: Any, names: tuple[str, ...]) -> str | None:
    """The enum name of a proto3 JSON enum value (name or number), or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return names[value] if 0 <= value < len(names) else None
    return value if isinstance(value, str) and value in names else None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._serve()

    def do_POST(self) -> None:  # noqa: N802
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Quiet: the test output stays readable."""

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        answer = self.server.fake.handle(self.command, self.path, headers, raw)  # type: ignore[attr-defined]
        if answer is None:
            self.close_connection = True  # the server "died": no answer at all
            return
        status, payload = answer
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def google_fake() -> Iterator[GoogleDataManagerFake]:
    """A running fake of the Data Manager API; `google_fake.endpoint` is its http://127.0.0.1:PORT."""
    fake = GoogleDataManagerFake().start()
    try:
        yield fake
    finally:
        fake.stop()
