"""The Google client, through the real google-ads-datamanager library (REST), against the contract fake.

Time is injected (a fake clock whose sleep advances it): no test waits for real.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time

import pytest
from google.auth.credentials import Credentials

from sna.delivery.base import DeliveryError, DeliveryRefused, Members
from sna.delivery.google import SCOPE, GoogleDataManagerClient, google_credentials
from sna.errors import ConfigError, PermanentError, TransientError
from tests.fakes.google_datamanager import (
    CONSENT_STATUSES,
    ENCODINGS,
    TOS_STATUSES,
    GoogleDataManagerFake,
    Outcome,
    enum_name,
    identity,
    parse_timestamp_ns,
)

ACCOUNT, LIST, LOGIN = "1234567890", "4455667788", "9988776655"
SCHEMA = ("email", "phone", "given_name", "family_name", "region_code", "postal_code")
HEX64 = re.compile(r"[0-9a-f]{64}")
GRANTED = {"ad_user_data": "granted", "ad_personalization": "granted"}


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def person(number: int, *, email: bool = True, phone: bool = True, address: bool = True) -> tuple[str, ...]:
    """A member row as the engine hands it over: hashed names and contacts, plain region and postal code."""
    return (
        sha(f"user{number}@example.com") if email else "",
        sha(f"+3361234{number:04d}") if phone else "",
        sha(f"given{number}") if address else "",
        sha(f"family{number}") if address else "",
        "FR" if address else "",
        f"750{number % 100:02d}" if address else "",
    )


def identity_of(row: tuple[str, ...]) -> tuple[str, ...]:
    email, phone, given, family, region, postal = row
    complete = given and family and region and postal
    return identity(email, phone, (given, family, region.upper(), postal) if complete else None)


def members(*rows: tuple[str, ...]) -> Members:
    return Members(SCHEMA, list(rows))


class FakeTime:
    """A monotonic clock that only moves when the client sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class StaticToken(Credentials):
    """Credentials whose token stays the same when refreshed (like a service account Google no longer
    accepts): google-auth resends after each refresh, then gives up."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def refresh(self, request: object) -> None:
        self.token = self.token


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def connect(google_fake: GoogleDataManagerFake, fake_time: FakeTime):
    """Builds clients on the fake (anonymous, fake time), closed after the test."""
    clients: list[GoogleDataManagerClient] = []

    def build(**options: object) -> GoogleDataManagerClient:
        settings: dict[str, object] = {
            "consent": GRANTED, "credentials": "anonymous", "endpoint": google_fake.endpoint,
            "clock": fake_time.clock, "sleep": fake_time.sleep, "poll_interval": 5.0, "max_retries": 4,
            "backoff": 1.0,
        }
        settings.update(options)
        client = GoogleDataManagerClient(ACCOUNT, LIST, **settings)  # type: ignore[arg-type]
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close()


def held(fake: GoogleDataManagerFake) -> set[tuple[str, ...]]:
    return fake.members(ACCOUNT, LIST)


def assert_clean_message(error: Exception, *secrets: str) -> None:
    """One line, naming google, without any hash, token or other secret."""
    message = str(error)
    assert message.startswith("google: ")
    assert "\n" not in message
    assert not HEX64.search(message), message
    for secret in secrets:
        assert secret not in message


# -- membership ---------------------------------------------------------------------------------------


def test_add_puts_the_members_in_the_list(google_fake, connect):
    client = connect()
    rows = [person(1), person(2), person(3, phone=False)]

    result = client.add(members(*rows))

    assert held(google_fake) == {identity_of(row) for row in rows}
    assert (result.sent, result.invalid, result.warnings) == (3, 0, [])
    assert google_fake.kinds() == ["ingest", "status"]
    assert result.requests == len(google_fake.requests) == 2
    assert client.destination == f"google:{ACCOUNT}:{LIST}"


def test_remove_takes_only_the_given_members_out(google_fake, connect):
    client = connect()
    rows = [person(1), person(2), person(3)]
    client.add(members(*rows))

    result = client.remove(members(rows[1]))

    assert held(google_fake) == {identity_of(rows[0]), identity_of(rows[2])}
    assert (result.sent, result.requests) == (1, 2)
    body = google_fake.of_kind("remove")[0].body
    assert "consent" not in body and "termsOfService" not in body  # remove takes neither
    assert enum_name(body["encoding"], ENCODINGS) == "HEX"


def test_replace_leaves_exactly_the_new_members(google_fake, connect):
    client = connect()
    client.add(members(person(1), person(2), person(3)))
    before = time.time_ns()

    result = client.replace(members(person(2), person(3), person(4)))

    assert held(google_fake) == {identity_of(person(n)) for n in (2, 3, 4)}
    assert google_fake.kinds()[2:] == ["ingest", "status", "removeAll", "status"]
    remove_all = google_fake.of_kind("removeAll")[0].body
    as_of = parse_timestamp_ns(remove_all["removeAsOfTime"])
    assert as_of is not None and before <= as_of <= time.time_ns()
    assert (result.sent, result.requests) == (3, 4)


def test_replace_removes_all_only_after_every_ingest_is_processed(google_fake, connect):
    client = connect(batch_size=2)
    google_fake.preload(ACCOUNT, LIST, [identity_of(person(99))], added_ns=time.time_ns() - 10**12)

    client.replace(members(*(person(n) for n in range(5))))

    assert google_fake.kinds() == ["ingest"] * 3 + ["status"] * 3 + ["removeAll", "status"]
    assert held(google_fake) == {identity_of(person(n)) for n in range(5)}


def test_replace_with_no_members_empties_the_list(google_fake, connect):
    client = connect()
    client.add(members(person(1), person(2)))

    result = client.replace(members())

    assert held(google_fake) == set()
    assert google_fake.kinds()[2:] == ["removeAll", "status"]
    assert result.sent == 0


def test_replace_does_not_empty_the_list_when_the_ingest_failed(google_fake, connect):
    client = connect()
    client.add(members(person(1)))
    google_fake.outcomes.append(Outcome("FAILED", reason="PROCESSING_ERROR_REASON_NO_CONSENT"))

    with pytest.raises(DeliveryRefused) as caught:
        client.replace(members(person(2)))

    assert "PROCESSING_ERROR_REASON_NO_CONSENT" in str(caught.value)
    assert "removeAll" not in google_fake.kinds()
    assert held(google_fake) == {identity_of(person(1))}


def test_members_go_in_batches_of_ten_thousand(google_fake, connect):
    client = connect()
    rows = [(f"{number:064x}", "", "", "", "", "") for number in range(25_001)]

    result = client.add(Members(SCHEMA, rows))

    assert [request.members for request in google_fake.of_kind("ingest")] == [10_000, 10_000, 5_001]
    assert len(held(google_fake)) == 25_001
    assert (result.sent, result.invalid, result.requests) == (25_001, 0, 6)


# -- what a request carries ------------------------------------------------------------------------------


def identifier_names(body: dict, index: int) -> list[str]:
    return [next(iter(item)) for item in body["audienceMembers"][index]["userData"]["userIdentifiers"]]


def test_empty_cells_give_no_identifier_and_address_needs_all_four_parts(google_fake, connect):
    client = connect()
    email_only = person(1, phone=False, address=False)
    no_postal = person(2)[:5] + ("",)
    lowercase_region = person(3)[:4] + ("fr",) + person(3)[5:]
    address_only = person(4, email=False, phone=False)
    nothing = ("", "", "", "", "", "")

    result = client.add(members(email_only, no_postal, lowercase_region, nothing, address_only))

    body = google_fake.of_kind("ingest")[0].body
    assert len(body["audienceMembers"]) == 4
    assert identifier_names(body, 0) == ["emailAddress"]
    assert identifier_names(body, 1) == ["emailAddress", "phoneNumber"]
    assert identifier_names(body, 2) == ["emailAddress", "phoneNumber", "address"]
    assert body["audienceMembers"][2]["userData"]["userIdentifiers"][2]["address"] == {
        "givenName": sha("given3"), "familyName": sha("family3"), "regionCode": "FR", "postalCode": "75003"}
    assert identifier_names(body, 3) == ["address"]
    assert (result.sent, result.invalid) == (4, 1)
    assert len(held(google_fake)) == 4


def test_columns_are_read_by_name_and_hashes_sent_as_given(google_fake, connect):
    client = connect()
    row = person(7)
    reordered = Members(("postal_code", "email", "region_code", "family_name", "given_name"),
                        [(row[5], row[0], row[4], row[3], row[2])])

    client.add(reordered)

    assert held(google_fake) == {identity(row[0], "", (row[2], row[3], row[4], row[5]))}


def test_consent_terms_encoding_and_destination_are_sent(google_fake, connect):
    client = connect(consent={"ad_user_data": "granted", "ad_personalization": "denied"},
                     login_account_id="998-877-6655")

    client.add(members(person(1)))

    body = google_fake.of_kind("ingest")[0].body
    assert enum_name(body["consent"]["adUserData"], CONSENT_STATUSES) == "CONSENT_GRANTED"
    assert enum_name(body["consent"]["adPersonalization"], CONSENT_STATUSES) == "CONSENT_DENIED"
    assert enum_name(body["termsOfService"]["customerMatchTermsOfServiceStatus"], TOS_STATUSES) == "ACCEPTED"
    assert enum_name(body["encoding"], ENCODINGS) == "HEX"
    (destination,) = body["destinations"]
    assert destination["operatingAccount"]["accountId"] == ACCOUNT
    assert destination["loginAccount"]["accountId"] == LOGIN
    assert destination["productDestinationId"] == LIST


def test_no_login_account_unless_given(google_fake, connect):
    connect().add(members(person(1)))

    assert "loginAccount" not in google_fake.of_kind("ingest")[0].body["destinations"][0]


def test_an_unhashed_identifier_is_refused_before_anything_is_sent(google_fake, connect):
    client = connect()
    plain = ("someone@example.com",) + person(1)[1:]

    with pytest.raises(DeliveryRefused) as caught:
        client.add(members(person(2), plain))

    assert_clean_message(caught.value, "someone@example.com")
    assert google_fake.requests == []


def test_validate_only_changes_nothing(google_fake, connect):
    client = connect()
    google_fake.preload(ACCOUNT, LIST, [identity_of(person(1))], added_ns=time.time_ns() - 10**12)

    added = client.add(members(person(2)), validate_only=True)
    replaced = client.replace(members(person(3)), validate_only=True)
    removed = client.remove(members(person(1)), validate_only=True)

    assert held(google_fake) == {identity_of(person(1))}
    assert google_fake.kinds() == ["ingest", "ingest", "removeAll", "remove"]  # no status: nothing to process
    assert all(request.body.get("validateOnly") is True for request in google_fake.requests)
    assert (added.requests, replaced.requests, removed.requests) == (1, 2, 1)


# -- retries and refusals ---------------------------------------------------------------------------------


def test_a_429_storm_is_waited_out_without_duplicates(google_fake, connect, fake_time):
    client = connect()
    google_fake.fail_next(429, "RESOURCE_EXHAUSTED", times=3, kinds={"ingest"})
    rows = [person(1), person(2)]

    result = client.add(members(*rows))

    assert held(google_fake) == {identity_of(row) for row in rows}
    assert [request.status for request in google_fake.of_kind("ingest")] == [429, 429, 429, 200]
    assert result.requests == len(google_fake.requests) == 5
    assert result.sent == 2
    assert fake_time.sleeps[:3] == [1.0, 2.0, 4.0]  # exponential backoff


@pytest.mark.parametrize(("http", "status"), [(503, "UNAVAILABLE"), (500, "INTERNAL"), (409, "ABORTED"),
                                              (504, "DEADLINE_EXCEEDED")])
def test_server_errors_and_aborted_are_retried(google_fake, connect, http, status):
    client = connect()
    google_fake.fail_next(http, status, kinds={"ingest"})
    google_fake.fail_next(http, status, kinds={"status"})

    result = client.add(members(person(1)))

    assert held(google_fake) == {identity_of(person(1))}
    assert result.requests == len(google_fake.requests) == 4


def test_retries_give_up_with_a_transient_error(google_fake, connect):
    client = connect(max_retries=3)
    google_fake.fail_next(429, "RESOURCE_EXHAUSTED", times=10)

    with pytest.raises(DeliveryError) as caught:
        client.add(members(person(1)))

    assert isinstance(caught.value, TransientError)
    assert str(caught.value) == "google: ingest failed: 429 RESOURCE_EXHAUSTED after 4 attempts"
    assert len(google_fake.requests) == 4


@pytest.mark.parametrize(("http", "status"), [(400, "INVALID_ARGUMENT"), (401, "UNAUTHENTICATED"),
                                              (403, "PERMISSION_DENIED"), (404, "NOT_FOUND")])
def test_fatal_errors_are_refused_at_once_without_quoting_the_answer(google_fake, connect, fake_time, http, status):
    client = connect()
    google_fake.fail_next(http, status, reason="INVALID_FORMAT" if http == 400 else None)
    row = person(1)

    with pytest.raises(DeliveryRefused) as caught:
        client.add(members(row))

    assert isinstance(caught.value, PermanentError)
    assert str(caught.value).startswith(f"google: ingest failed: {http} {status}")
    assert row[0] in google_fake.requests[0].answer  # the fake's answer quoted a hash ...
    assert_clean_message(caught.value, row[0])  # ... which the message does not
    assert caught.value.__cause__ is None and caught.value.__context__ is None
    assert len(google_fake.requests) == 1
    assert fake_time.sleeps == []


def test_a_rejected_token_is_refused_and_never_quoted(google_fake, connect):
    google_fake.token = "the-accepted-token"
    client = connect(credentials=StaticToken("ya29.rejected-secret-token"))

    with pytest.raises(DeliveryRefused) as caught:
        client.add(members(person(1)))

    assert str(caught.value) == "google: ingest failed: 401 UNAUTHENTICATED"
    assert "rejected-secret-token" in google_fake.requests[0].answer
    assert_clean_message(caught.value, "rejected-secret-token")
    assert len(google_fake.requests) == 3  # google-auth refreshed and resent twice


def test_an_accepted_token_goes_through(google_fake, connect):
    google_fake.token = "the-accepted-token"
    client = connect(credentials=StaticToken("the-accepted-token"))

    result = client.add(members(person(1)))

    assert held(google_fake) == {identity_of(person(1))}
    assert result.requests == 2


def test_the_server_dying_mid_batch_is_a_transient_error(google_fake, connect):
    client = connect(batch_size=2, max_retries=2)
    google_fake.die_after(1)

    with pytest.raises(DeliveryError) as caught:
        client.add(members(*(person(n) for n in range(5))))

    assert isinstance(caught.value, TransientError)
    assert re.fullmatch(r"google: ingest failed: connection error \(\w+\) after 3 attempts", str(caught.value))
    assert [request.status for request in google_fake.requests][0] == 200
    assert held(google_fake) == set()


# -- asynchronous processing ------------------------------------------------------------------------------


def test_polls_until_the_request_is_processed(google_fake, connect, fake_time):
    client = connect()
    google_fake.processing_polls = 3

    result = client.add(members(person(1)))

    answers = [json.loads(request.answer) for request in google_fake.of_kind("status")]
    states = [answer["requestStatusPerDestination"][0]["requestStatus"] for answer in answers]
    assert states == ["PROCESSING", "PROCESSING", "PROCESSING", "SUCCESS"]
    assert held(google_fake) == {identity_of(person(1))}
    assert result.requests == 5
    assert fake_time.sleeps == [5.0, 10.0, 20.0, 40.0]  # waits grow between polls


def test_a_request_still_processing_at_the_deadline_is_a_transient_error(google_fake, connect, fake_time):
    client = connect(poll_timeout=30.0)
    google_fake.processing_polls = 10**9

    with pytest.raises(DeliveryError) as caught:
        client.add(members(person(1)))

    assert re.fullmatch(r"google: request fake-\d+ still PROCESSING after 30 s", str(caught.value))
    assert fake_time.now - 1000.0 == pytest.approx(30.0)
    assert held(google_fake) == set()


def test_partial_success_counts_the_rejected_members(google_fake, connect):
    client = connect()
    google_fake.outcomes.append(Outcome("PARTIAL_SUCCESS", failed=2))
    rows = [person(n) for n in range(5)]

    result = client.add(members(*rows, ("", "", "", "", "", "")))

    assert (result.sent, result.invalid) == (5, 3)
    assert len(held(google_fake)) == 3
    (warning,) = result.warnings
    assert "PARTIAL_SUCCESS" in warning and "PROCESSING_ERROR_REASON_INVALID_FORMAT" in warning
    assert not HEX64.search(warning)


def test_a_failed_request_is_refused_naming_the_reason(google_fake, connect):
    client = connect()
    google_fake.outcomes.append(Outcome("FAILED", reason="PROCESSING_ERROR_REASON_DENIED_CONSENT"))

    with pytest.raises(DeliveryRefused) as caught:
        client.add(members(person(1)))

    assert re.fullmatch(r"google: ingest request fake-\d+ FAILED: PROCESSING_ERROR_REASON_DENIED_CONSENT",
                        str(caught.value))


def test_a_request_failed_by_an_internal_error_is_transient(google_fake, connect):
    client = connect()
    google_fake.outcomes.append(Outcome("FAILED", reason="PROCESSING_ERROR_REASON_INTERNAL_ERROR"))

    with pytest.raises(DeliveryError):
        client.add(members(person(1)))


# -- throttle --------------------------------------------------------------------------------------------


def test_the_throttle_keeps_under_the_requests_per_minute(google_fake, connect, fake_time):
    client = connect(requests_per_minute=6, poll_interval=0.0)
    google_fake.clock = fake_time.clock  # the fake stamps each arrival with the client's clock

    for number in range(5):
        client.add(members(person(number)))

    arrivals = [request.at for request in google_fake.requests]
    assert len(arrivals) == 10
    for first in range(len(arrivals) - 6):
        assert arrivals[first + 6] - arrivals[first] >= 60.0  # never 7 requests within a minute
    assert all(later - earlier >= 10.0 - 1e-9 for earlier, later in zip(arrivals, arrivals[1:], strict=False))


# -- credentials and endpoints ---------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ["https://datamanager.googleapis.com", "datamanager.googleapis.com",
                                      "https://10.1.2.3:8443"])
def test_anonymous_credentials_are_refused_off_loopback(endpoint):
    with pytest.raises(DeliveryRefused) as caught:
        GoogleDataManagerClient(ACCOUNT, LIST, consent=GRANTED, credentials="anonymous", endpoint=endpoint)

    assert_clean_message(caught.value)
    assert "anonymous" in str(caught.value)


@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:9", "http://localhost:9", "http://[::1]:9"])
def test_anonymous_credentials_are_accepted_on_loopback(endpoint):
    client = GoogleDataManagerClient(ACCOUNT, LIST, consent=GRANTED, credentials="anonymous", endpoint=endpoint)
    client.close()


def test_plain_http_is_refused_off_loopback():
    with pytest.raises(DeliveryRefused):
        GoogleDataManagerClient(ACCOUNT, LIST, consent=GRANTED, credentials=StaticToken("t"),
                                endpoint="http://datamanager.googleapis.com")


@pytest.mark.parametrize("consent", [{}, {"ad_user_data": "granted"},
                                     {"ad_user_data": "yes", "ad_personalization": "granted"}])
def test_consent_must_be_stated(consent):
    with pytest.raises(ConfigError):
        GoogleDataManagerClient(ACCOUNT, LIST, consent=consent, credentials="anonymous",
                                endpoint="http://127.0.0.1:9")


@pytest.mark.parametrize(("account", "user_list"), [("12345abc", LIST), (ACCOUNT, ""), (ACCOUNT, "list-1")])
def test_ids_must_be_digits(account, user_list):
    with pytest.raises(ConfigError):
        GoogleDataManagerClient(account, user_list, consent=GRANTED, credentials="anonymous",
                                endpoint="http://127.0.0.1:9")


def test_google_credentials_maps_the_setting(tmp_path, monkeypatch):
    monkeypatch.delenv("SNA_GOOGLE_CREDENTIALS", raising=False)
    with pytest.raises(ConfigError):
        google_credentials()
    assert google_credentials("anonymous") == "anonymous"
    monkeypatch.setenv("SNA_GOOGLE_CREDENTIALS", "anonymous")
    assert google_credentials() == "anonymous"
    with pytest.raises(ConfigError):
        google_credentials(str(tmp_path / "missing.json"))
    broken = tmp_path / "broken.json"
    broken.write_text('{"type": "service_account", "private_key": "SECRET-KEY-MATERIAL"}')
    with pytest.raises(ConfigError) as caught:
        google_credentials(str(broken))
    assert "SECRET-KEY-MATERIAL" not in str(caught.value)


def test_google_credentials_loads_a_service_account_scoped_to_the_api(tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    path = tmp_path / "sa.json"
    path.write_text(json.dumps({
        "type": "service_account", "project_id": "sna-test", "private_key_id": "k1", "private_key": pem,
        "client_email": "sna@sna-test.iam.gserviceaccount.com", "client_id": "1",
        "token_uri": "https://oauth2.googleapis.com/token"}))

    credentials = google_credentials(str(path))

    assert credentials.service_account_email == "sna@sna-test.iam.gserviceaccount.com"
    assert SCOPE in credentials.scopes
    client = GoogleDataManagerClient(ACCOUNT, LIST, consent=GRANTED, credentials=str(path))
    client.close()


# -- logs ------------------------------------------------------------------------------------------------


def test_no_identifier_reaches_the_logs_even_at_debug_level(google_fake, connect, caplog, monkeypatch):
    google_logger = logging.getLogger("google")
    monkeypatch.setattr(google_logger, "propagate", True)
    monkeypatch.setattr(google_logger, "level", logging.DEBUG)
    caplog.set_level(logging.DEBUG)
    client = connect()
    row = person(1)
    client.add(members(row))
    google_fake.fail_next(400, "INVALID_ARGUMENT")
    with pytest.raises(DeliveryRefused):
        client.remove(members(row))

    assert caplog.records  # the client and the libraries did log
    for record in caplog.records:
        assert not HEX64.search(repr(record.__dict__)), record.name
