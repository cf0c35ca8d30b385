"""The Data Manager fake holds to the documented contract: plain JSON over HTTP, as the REST reference
writes it (enum names), so these checks do not depend on the client under test."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests

from tests.fakes.google_datamanager import GoogleDataManagerFake, identity

ACCOUNT, LIST = "1234567890", "4455667788"
HASH = "a" * 64


def valid_ingest(count: int = 1) -> dict[str, Any]:
    return {
        "destinations": [{"operatingAccount": {"accountType": "GOOGLE_ADS", "accountId": ACCOUNT},
                          "productDestinationId": LIST}],
        "audienceMembers": [{"userData": {"userIdentifiers": [{"emailAddress": f"{number:064x}"}]}}
                            for number in range(count)],
        "consent": {"adUserData": "CONSENT_GRANTED", "adPersonalization": "CONSENT_DENIED"},
        "termsOfService": {"customerMatchTermsOfServiceStatus": "ACCEPTED"},
        "encoding": "HEX",
    }


def post(fake: GoogleDataManagerFake, method: str, body: dict[str, Any]) -> requests.Response:
    return requests.post(f"{fake.endpoint}/v1/audienceMembers:{method}", json=body, timeout=10)


def status(fake: GoogleDataManagerFake, request_id: str) -> requests.Response:
    return requests.get(f"{fake.endpoint}/v1/requestStatus:retrieve", params={"requestId": request_id}, timeout=10)


def mutate(change: Callable[[dict[str, Any]], None], count: int = 1) -> dict[str, Any]:
    body = copy.deepcopy(valid_ingest(count))
    change(body)
    return body


def first_member(body: dict[str, Any]) -> dict[str, Any]:
    return body["audienceMembers"][0]["userData"]


INVALID_INGESTS = {
    "10,001 members": (lambda body: None, 10_001),
    "no member": (lambda body: body.update(audienceMembers=[]), 1),
    "11 identifiers": (lambda body: first_member(body).update(
        userIdentifiers=[{"emailAddress": f"{n:064x}"} for n in range(11)]), 1),
    "uppercase hex": (lambda body: first_member(body).update(userIdentifiers=[{"emailAddress": "A" * 64}]), 1),
    "unhashed e-mail": (lambda body: first_member(body).update(
        userIdentifiers=[{"emailAddress": "someone@example.com"}]), 1),
    "no identifier": (lambda body: first_member(body).update(userIdentifiers=[]), 1),
    "two identifiers in one": (lambda body: first_member(body).update(
        userIdentifiers=[{"emailAddress": HASH, "phoneNumber": HASH}]), 1),
    "no encoding": (lambda body: body.pop("encoding"), 1),
    "base64 encoding": (lambda body: body.update(encoding="BASE64"), 1),
    "no consent": (lambda body: body.pop("consent"), 1),
    "consent yes": (lambda body: body["consent"].update(adUserData="YES"), 1),
    "consent unspecified": (lambda body: body["consent"].update(adPersonalization=0), 1),
    "no terms": (lambda body: body.pop("termsOfService"), 1),
    "terms rejected": (lambda body: body["termsOfService"].update(customerMatchTermsOfServiceStatus="REJECTED"), 1),
    "no destination": (lambda body: body.update(destinations=[]), 1),
    "not google ads": (lambda body: body["destinations"][0]["operatingAccount"].update(
        accountType="DISPLAY_VIDEO_PARTNER"), 1),
    "account id with letters": (lambda body: body["destinations"][0]["operatingAccount"].update(accountId="12a"), 1),
    "no product destination": (lambda body: body["destinations"][0].pop("productDestinationId"), 1),
    "lowercase region": (lambda body: first_member(body).update(userIdentifiers=[{"address": {
        "givenName": HASH, "familyName": HASH, "regionCode": "fr", "postalCode": "75001"}}]), 1),
    "address without postal code": (lambda body: first_member(body).update(userIdentifiers=[{"address": {
        "givenName": HASH, "familyName": HASH, "regionCode": "FR"}}]), 1),
    "unknown field": (lambda body: body.update(removeAsOfTime="2020-01-01T00:00:00Z"), 1),
}


def test_a_valid_ingest_is_accepted_then_processed(google_fake):
    answer = post(google_fake, "ingest", valid_ingest(3))

    assert answer.status_code == 200
    assert google_fake.members(ACCOUNT, LIST) == set()  # accepted, not yet processed
    final = status(google_fake, answer.json()["requestId"]).json()["requestStatusPerDestination"][0]
    assert final["requestStatus"] == "SUCCESS"
    assert final["audienceMembersIngestionStatus"]["userDataIngestionStatus"]["recordCount"] == "3"
    assert google_fake.members(ACCOUNT, LIST) == {identity(f"{n:064x}") for n in range(3)}


@pytest.mark.parametrize("case", sorted(INVALID_INGESTS))
def test_what_the_reference_forbids_is_invalid_argument(google_fake, case):
    change, count = INVALID_INGESTS[case]

    answer = post(google_fake, "ingest", mutate(change, count))

    assert answer.status_code == 400
    assert answer.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert google_fake.members(ACCOUNT, LIST) == set()


def test_remove_takes_no_consent_nor_terms(google_fake):
    body = valid_ingest()
    assert post(google_fake, "remove", body).status_code == 400
    del body["consent"], body["termsOfService"]

    assert post(google_fake, "remove", body).status_code == 200


def test_validate_only_answers_without_a_request_and_changes_nothing(google_fake):
    answer = post(google_fake, "ingest", {**valid_ingest(), "validateOnly": True})

    assert (answer.status_code, answer.json()) == (200, {})
    google_fake.process_all()
    assert google_fake.members(ACCOUNT, LIST) == set()


def test_processing_answers_come_first_when_asked(google_fake):
    google_fake.processing_polls = 2
    request_id = post(google_fake, "ingest", valid_ingest()).json()["requestId"]

    states = [status(google_fake, request_id).json()["requestStatusPerDestination"][0]["requestStatus"]
              for _ in range(3)]

    assert states == ["PROCESSING", "PROCESSING", "SUCCESS"]


def test_remove_all_removes_only_members_added_before_the_time(google_fake):
    old, recent = identity("1" * 64), identity("2" * 64)
    now = time.time_ns()
    google_fake.preload(ACCOUNT, LIST, [old], added_ns=now - 2 * 10**9)
    google_fake.preload(ACCOUNT, LIST, [recent], added_ns=now)
    destination = valid_ingest()["destinations"]
    as_of = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now // 10**9 - 1)) + ".5Z"

    request_id = post(google_fake, "removeAll", {"destinations": destination, "removeAsOfTime": as_of}).json()["requestId"]
    status(google_fake, request_id)

    assert google_fake.members(ACCOUNT, LIST) == {recent}


def test_remove_all_refuses_a_time_in_the_future(google_fake):
    future = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))

    answer = post(google_fake, "removeAll", {"destinations": valid_ingest()["destinations"], "removeAsOfTime": future})

    assert answer.status_code == 400


def test_unknown_request_id_is_invalid(google_fake):
    assert status(google_fake, "nope").status_code == 400


def test_canned_failures_come_before_anything_else(google_fake):
    google_fake.fail_next(503, "UNAVAILABLE", times=2)

    codes = [post(google_fake, "ingest", valid_ingest()).status_code for _ in range(3)]

    assert codes == [503, 503, 200]


def test_the_server_dies_after_the_given_number_of_answers(google_fake):
    google_fake.die_after(1)
    assert post(google_fake, "ingest", valid_ingest()).status_code == 200

    with pytest.raises(requests.exceptions.ConnectionError):
        post(google_fake, "ingest", valid_ingest())
