"""A contract fake of the Meta Graph API custom-audience user edges, on 127.0.0.1 over real HTTP.

Written from Meta's public docs, so the real `facebook_business` SDK can talk to it:
- Custom Audience Users reference (`POST` / `DELETE /{version}/{custom_audience_id}/users`: `payload`
  with `schema` and `data`, at most 10,000 rows, response `audience_id`, `session_id`,
  `num_received`, `num_invalid_entries`, `invalid_entry_samples`);
- Customer File Custom Audiences guide: "Remove members" (a `DELETE`, or a `POST` with
  `method=DELETE`) and "Replace users API" (`POST .../usersreplace` with a `session`: `session_id`,
  `batch_seq` starting at 1, `last_batch_flag`, `estimated_num_total`; `num_received` counts the
  session so far; errors are code 2650 with subcodes 1870145 update in progress, 1870147 first batch
  missing, 1870159 session finished; no `/users` changes while a replace runs);
- Graph API error handling and rate limiting (`{"error": {"message", "type", "code",
  "error_subcode", "fbtrace_id"}}`; 190 OAuthException; throttling 4, 17, 613, 80003 with HTTP 400;
  the `X-Business-Use-Case-Usage` header).

It keeps the membership of every audience (a member is the tuple of its non-empty keyed values;
`LOOKALIKE_VALUE` is an attribute, not an identity), records every request, and injects faults: a
queue of canned errors and a switch that stops the server after N more requests. Stricter than
Meta where the docs leave room: `batch_seq` must be 1 (start or restart), the previous one again (a
retry) or the next one.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
import threading
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

HASHED_KEYS = frozenset({"EMAIL", "PHONE", "FN", "LN", "ZIP", "CT", "ST", "COUNTRY", "DOBY", "DOBM", "DOBD", "GEN"})
VALUE_KEY = "LOOKALIKE_VALUE"
MAX_ROWS = 10_000
DEFAULT_TOKEN = "fake-meta-token-0123456789"
DEFAULT_AUDIENCE_ID = "23850000000000001"

_HEX64 = re.compile(r"[0-9a-f]{64}")
_VERSION = re.compile(r"v\d+\.\d+")

Identity = tuple[tuple[str, str], ...]


def identity(schema: Sequence[str], row: Sequence[Any]) -> Identity:
    """A member as the fake (and Meta's matching) sees it: its non-empty identifier cells, by key."""
    return tuple(sorted((key, str(cell)) for key, cell in zip(schema, row, strict=True)
                        if key != VALUE_KEY and cell != ""))


@dataclass
class Recorded:
    """One request as the fake received it (`method` is the effective one: a `POST` with
    `method=DELETE` is a `DELETE`; `status` None: dropped without an answer)."""

    http_method: str
    method: str
    path: str
    query: str
    edge: str | None
    rows: int | None = None
    data: list[list[Any]] | None = None
    batch_seq: int | None = None
    last_batch_flag: bool | None = None
    session_id: int | None = None
    estimated_num_total: int | None = None
    status: int | None = None
    error_code: int | None = None
    error_subcode: int | None = None


@dataclass
class CannedError:
    """An answer the fake gives to the next request instead of handling it."""

    http_status: int
    code: int | None = None
    type: str = "OAuthException"
    subcode: int | None = None
    is_transient: bool | None = None
    text: str | None = None
    """A raw (non-JSON) body, as proxies and load balancers send with a 5xx."""
    headers: Mapping[str, str] = field(default_factory=dict)


class GraphError(Exception):
    def __init__(self, status: int, code: int, message: str, *, subcode: int | None = None,
                 type: str = "OAuthException") -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.subcode, self.type = status, code, message, subcode, type


@dataclass
class _Session:
    session_id: int
    schema: tuple[str, ...]
    batches: dict[int, list[list[Any]]] = field(default_factory=dict)
    last_seq: int = 0


@dataclass
class _Audience:
    members: dict[Identity, Any] = field(default_factory=dict)
    session: _Session | None = None
    finished_sessions: set[int] = field(default_factory=set)
    flagged: bool = False


class MetaGraphFake:
    """The fake server; `url` is what a client takes as its graph URL."""

    def __init__(self, *, token: str = DEFAULT_TOKEN, audience_ids: Sequence[str] = (DEFAULT_AUDIENCE_ID,),
                 bad_token_status: int = 400) -> None:
        self.token = token
        self.bad_token_status = bad_token_status
        self.audience_id = audience_ids[0]
        self.requests: list[Recorded] = []
        self._audiences = {audience_id: _Audience() for audience_id in audience_ids}
        self._canned: deque[CannedError | None] = deque()
        """Answers for the next requests in order; None: handle that one normally."""
        self._answers_left: int | None = None
        self._dead = False
        self._lock = threading.Lock()
        self._ids = itertools.count(7_000_000_000)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.fake = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="meta-graph-fake", daemon=True)

    # -- life cycle ---------------------------------------------------------------------------

    @property
    def address(self) -> tuple[str, int]:
        return self._server.server_address[:2]  # type: ignore[return-value]

    @property
    def url(self) -> str:
        host, port = self.address
        return f"http://{host}:{port}"

    def start(self) -> MetaGraphFake:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> MetaGraphFake:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- state and fault injection ------------------------------------------------------------

    def add_audience(self, audience_id: str) -> None:
        with self._lock:
            self._audiences.setdefault(audience_id, _Audience())

    def flag(self, audience_id: str | None = None) -> None:
        """Marks the audience flagged for integrity (`operation_status` 471): edits are refused."""
        with self._lock:
            self._audiences[audience_id or self.audience_id].flagged = True

    def seed(self, schema: Sequence[str], rows: Sequence[Sequence[Any]], audience_id: str | None = None) -> None:
        """Puts members in an audience without a request (what an earlier upload left there)."""
        with self._lock:
            members = self._audiences[audience_id or self.audience_id].members
            for row in rows:
                members[identity(schema, row)] = _value(schema, row)

    def members(self, audience_id: str | None = None) -> set[Identity]:
        with self._lock:
            return set(self._audiences[audience_id or self.audience_id].members)

    def values(self, audience_id: str | None = None) -> dict[Identity, Any]:
        with self._lock:
            return dict(self._audiences[audience_id or self.audience_id].members)

    def replace_in_progress(self, audience_id: str | None = None) -> bool:
        with self._lock:
            return self._audiences[audience_id or self.audience_id].session is not None

    def fail_next(self, code: int, *, http_status: int = 400, type: str = "OAuthException",
                  subcode: int | None = None, is_transient: bool | None = None, times: int = 1,
                  after: int = 0, headers: Mapping[str, str] | None = None) -> None:
        """Queues a Graph error answer (throttling is HTTP 400 with code 4, 17, 613 or 80003) for
        `times` requests, once `after` more requests have been handled normally."""
        self._canned.extend([None] * after)
        for _ in range(times):
            self._canned.append(CannedError(http_status, code, type, subcode, is_transient, None, dict(headers or {})))

    def fail_next_http(self, http_status: int, text: str = "Service Unavailable", *, times: int = 1,
                       after: int = 0) -> None:
        """Queues a raw HTTP error (no Graph error body), as a proxy in front of Graph sends."""
        self._canned.extend([None] * after)
        for _ in range(times):
            self._canned.append(CannedError(http_status, text=text))

    def die_after(self, requests: int) -> None:
        """Answers `requests` more requests, then stops: every later request is read and its
        connection closed without an answer (the server went away mid-batch)."""
        with self._lock:
            self._answers_left = requests

    def kill(self) -> None:
        self.die_after(0)

    # -- request handling ---------------------------------------------------------------------

    def _should_drop(self) -> bool:
        with self._lock:
            if self._dead:
                return True
            if self._answers_left is not None:
                if self._answers_left <= 0:
                    self._dead = True
                    return True
                self._answers_left -= 1
            return False

    def handle(self, http_method: str, target: str, headers: Mapping[str, str],
               body: bytes) -> tuple[int, dict[str, str], bytes] | None:
        drop = self._should_drop()
        parts = urlsplit(target)
        segments = [segment for segment in parts.path.split("/") if segment]
        record = Recorded(http_method, http_method, parts.path, parts.query,
                          segments[-1] if len(segments) >= 2 else None)
        with self._lock:
            self.requests.append(record)
        try:
            params = {key: values[-1] for key, values in parse_qs(parts.query, keep_blank_values=True).items()}
            params.update(_body_params(headers.get("Content-Type", ""), body))
            if http_method == "POST" and str(params.get("method", "")).upper() == "DELETE":
                record.method = "DELETE"
            payload, session = _parse_json_param(params, "payload"), _parse_json_param(params, "session")
            _note(record, payload, session)
            if drop:
                return None
            try:
                canned = self._canned.popleft()
            except IndexError:
                canned = None  # nothing queued
            if canned is not None:
                return self._canned_answer(record, canned)
            answer = self._serve(record.method, segments, params, payload, session)
        except GraphError as error:
            return None if drop else _error_answer(record, error)
        record.status = 200
        return 200, {}, _json(answer)

    def _canned_answer(self, record: Recorded, canned: CannedError) -> tuple[int, dict[str, str], bytes]:
        record.status = canned.http_status
        if canned.text is not None:
            return canned.http_status, {"Content-Type": "text/plain", **canned.headers}, canned.text.encode()
        record.error_code, record.error_subcode = canned.code, canned.subcode
        error: dict[str, Any] = {"message": "(canned) error", "type": canned.type, "code": canned.code,
                                 "fbtrace_id": "AfakeTraceId"}
        if canned.subcode is not None:
            error["error_subcode"] = canned.subcode
        if canned.is_transient is not None:
            error["is_transient"] = canned.is_transient
        return canned.http_status, dict(canned.headers), _json({"error": error})

    def _serve(self, method: str, segments: list[str], params: Mapping[str, Any],
               payload: Any, session: Any) -> dict[str, Any]:
        if not segments or not _VERSION.fullmatch(segments[0]):
            raise GraphError(400, 2635, "You are calling a deprecated version of the Ads API. "
                                        "Please update to the latest version.")
        if params.get("access_token") in (None, ""):
            raise GraphError(self.bad_token_status, 190, "An active access token must be used to query "
                                                         "information about the current user.")
        if params.get("access_token") != self.token:
            raise GraphError(self.bad_token_status, 190, "Invalid OAuth access token - Cannot parse access token")
        if len(segments) != 3 or segments[2] not in ("users", "usersreplace"):
            raise GraphError(400, 100, "Unsupported request: unknown path components", type="GraphMethodException")
        audience_id, edge = segments[1], segments[2]
        with self._lock:
            audience = self._audiences.get(audience_id)
            if audience is None:
                raise GraphError(400, 100, "Unsupported post request. Object does not exist, cannot be loaded "
                                           "due to missing permissions, or does not support this operation",
                                 subcode=33, type="GraphMethodException")
            if audience.flagged:
                raise GraphError(400, 100, "Invalid parameter", subcode=1713230)
            schema, data = _check_payload(payload)
            if edge == "users":
                if method not in ("POST", "DELETE"):
                    raise GraphError(400, 100, f"Unsupported {method.lower()} request.", type="GraphMethodException")
                return self._users(audience_id, audience, method, schema, data, session)
            if method != "POST":
                raise GraphError(400, 100, f"Unsupported {method.lower()} request.", type="GraphMethodException")
            return self._replace(audience_id, audience, schema, data, session)

    def _users(self, audience_id: str, audience: _Audience, method: str, schema: tuple[str, ...],
               data: list[list[Any]], session: Any) -> dict[str, Any]:
        if audience.session is not None:
            raise GraphError(400, 2650, "Audience Update In Progress", subcode=1870145)
        valid, samples = _split_valid(schema, data)
        for row in valid:
            key = identity(schema, row)
            if method == "POST":
                audience.members[key] = _value(schema, row)
            else:
                audience.members.pop(key, None)
        session_id = session.get("session_id") if isinstance(session, dict) else None
        return _answer(audience_id, session_id or next(self._ids), len(data), len(data) - len(valid), samples)

    def _replace(self, audience_id: str, audience: _Audience, schema: tuple[str, ...],
                 data: list[list[Any]], session: Any) -> dict[str, Any]:
        if not isinstance(session, dict):
            raise GraphError(400, 100, "(#100) The parameter session is required")
        session_id, seq = session.get("session_id"), session.get("batch_seq")
        if not _positive_int(session_id) or not _positive_int(seq):
            raise GraphError(400, 100, "(#100) session_id and batch_seq must be positive integers")
        if "last_batch_flag" in session and not isinstance(session["last_batch_flag"], bool):
            raise GraphError(400, 100, "(#100) last_batch_flag must be a boolean")
        if session_id in audience.finished_sessions:
            raise GraphError(400, 2650, "Replace Session Finished", subcode=1870159)
        current = audience.session
        if seq == 1:
            if current is not None and current.session_id != session_id:
                raise GraphError(400, 2650, "Audience Update In Progress", subcode=1870145)
            current = audience.session = _Session(session_id, schema)
        elif current is None or current.session_id != session_id or seq not in (current.last_seq,
                                                                                  current.last_seq + 1):
            raise GraphError(400, 2650, "Invalid Upload Batch for Replace", subcode=1870147)
        if schema != current.schema:
            raise GraphError(400, 2650, "Failed to update the custom audience: schema changed within a session")
        current.batches[seq] = data
        current.last_seq = seq
        received = [row for rows in current.batches.values() for row in rows]
        valid, _ = _split_valid(schema, received)
        _, samples = _split_valid(schema, data)
        if session.get("last_batch_flag") is True:
            audience.members = {identity(schema, row): _value(schema, row) for row in valid}
            audience.finished_sessions.add(session_id)
            audience.session = None
        return _answer(audience_id, session_id, len(received), len(received) - len(valid), samples)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        fake: MetaGraphFake = self.server.fake  # type: ignore[attr-defined]
        answer = fake.handle(self.command, self.path, self.headers, body)
        if answer is None:
            self.close_connection = True
            return
        status, headers, content = answer
        self.send_response(status)
        self.send_header("Content-Type", headers.pop("Content-Type", "application/json; charset=UTF-8"))
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    do_GET = do_POST = do_DELETE = _dispatch

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: request lines carry query strings that tests do not want in their output."""


# -- payload checks ---------------------------------------------------------------------------


def _body_params(content_type: str, body: bytes) -> dict[str, Any]:
    if not body:
        return {}
    if content_type.startswith("application/json"):
        try:
            decoded = json.loads(body)
        except ValueError:
            raise GraphError(400, 100, "(#100) The request body is not valid JSON") from None
        return decoded if isinstance(decoded, dict) else {}
    return {key: values[-1] for key, values in parse_qs(body.decode("utf-8"), keep_blank_values=True).items()}


def _parse_json_param(params: Mapping[str, Any], name: str) -> Any:
    value = params.get(name)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise GraphError(400, 100, f"(#100) param {name} must be JSON") from None
    return value


def _note(record: Recorded, payload: Any, session: Any) -> None:
    if isinstance(payload, dict) and isinstance(payload.get("data"), list):
        record.rows, record.data = len(payload["data"]), payload["data"]
    if isinstance(session, dict):
        record.session_id = session.get("session_id")
        record.batch_seq = session.get("batch_seq")
        record.last_batch_flag = session.get("last_batch_flag")
        record.estimated_num_total = session.get("estimated_num_total")


def _check_payload(payload: Any) -> tuple[tuple[str, ...], list[list[Any]]]:
    if not isinstance(payload, dict):
        raise GraphError(400, 100, "(#100) The parameter payload is required")
    schema, data = payload.get("schema"), payload.get("data")
    if not isinstance(schema, list) or not schema or not all(isinstance(key, str) for key in schema):
        raise GraphError(400, 100, "(#100) Invalid schema: a list of keys is expected")
    unknown = [key for key in schema if key not in HASHED_KEYS and key != VALUE_KEY]
    if unknown or len(set(schema)) != len(schema) or set(schema) == {VALUE_KEY}:
        raise GraphError(400, 100, "(#100) Invalid schema")
    if payload.get("is_raw") is not True:
        raise GraphError(400, 100, "(#100) multi-key schemas need is_raw true")
    if not isinstance(data, list) or not data or not all(isinstance(row, list) and len(row) == len(schema)
                                                         for row in data):
        raise GraphError(400, 100, "(#100) Data is missing or does not match schema")
    if len(data) > MAX_ROWS:
        raise GraphError(400, 100, f"(#100) Too many users in one request: at most {MAX_ROWS}")
    return tuple(schema), data


def _cell_ok(key: str, cell: Any) -> bool:
    if key == VALUE_KEY:
        if cell == "":
            return True
        if isinstance(cell, bool) or not isinstance(cell, int | float | str):
            return False
        try:
            number = float(cell)
        except ValueError:
            return False
        return math.isfinite(number) and number >= 0
    return isinstance(cell, str) and (cell == "" or _HEX64.fullmatch(cell) is not None)


def _split_valid(schema: Sequence[str], data: Sequence[Sequence[Any]]) -> tuple[list[Sequence[Any]], dict[str, str]]:
    """Rows Meta would take, and samples of the others (bad hashing or no identifier at all)."""
    valid: list[Sequence[Any]] = []
    samples: dict[str, str] = {}
    for index, row in enumerate(data):
        if all(_cell_ok(key, cell) for key, cell in zip(schema, row, strict=True)) and identity(schema, row):
            valid.append(row)
        elif len(samples) < 100:
            samples[str(index)] = json.dumps(row)
    return valid, samples


def _value(schema: Sequence[str], row: Sequence[Any]) -> Any:
    return dict(zip(schema, row, strict=True)).get(VALUE_KEY)


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**63


def _answer(audience_id: str, session_id: int, received: int, invalid: int, samples: dict[str, str]) -> dict[str, Any]:
    return {"audience_id": audience_id, "session_id": str(session_id), "num_received": received,
            "num_invalid_entries": invalid, "invalid_entry_samples": samples}


def _error_answer(record: Recorded, error: GraphError) -> tuple[int, dict[str, str], bytes]:
    record.status, record.error_code, record.error_subcode = error.status, error.code, error.subcode
    body: dict[str, Any] = {"message": error.message, "type": error.type, "code": error.code,
                            "fbtrace_id": "AfakeTraceId"}
    if error.subcode is not None:
        body["error_subcode"] = error.subcode
    return error.status, {}, _json({"error": body})


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


def sha256_hex(text: str) -> str:
    """Test data helper: the SHA-256 a normalizer would have produced."""
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def meta_fake() -> Iterator[MetaGraphFake]:
    """A fresh fake Graph API (one audience, `DEFAULT_AUDIENCE_ID`, token `DEFAULT_TOKEN`) per test."""
    with MetaGraphFake() as fake:
        yield fake
