"""The Graph fake keeps to the documented contract, checked with plain HTTP (no SDK, no client)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from tests.fakes.meta_graph import MAX_ROWS, MetaGraphFake, identity, sha256_hex


def post(fake: MetaGraphFake, edge: str, payload: Any, session: Any = None, *, token: str | None = None,
         version: str = "v24.0", http_method: str = "POST", **extra: str) -> requests.Response:
    form = {"access_token": fake.token if token is None else token, "payload": json.dumps(payload), **extra}
    if session is not None:
        form["session"] = json.dumps(session)
    path = f"/{version}/{fake.audience_id}/{edge}" if version else f"/{fake.audience_id}/{edge}"
    return requests.request(http_method, fake.url + path, data=form, timeout=10)


def users(*names: str) -> dict[str, Any]:
    return {"schema": ["EMAIL"], "is_raw": True, "data": [[sha256_hex(name)] for name in names]}


def session(seq: int, last: bool = False, session_id: int = 42) -> dict[str, Any]:
    return {"session_id": session_id, "batch_seq": seq, "last_batch_flag": last, "estimated_num_total": 3}


def error_of(response: requests.Response) -> tuple[int, int, int | None]:
    error = response.json()["error"]
    return response.status_code, error["code"], error.get("error_subcode")


def emails(*names: str) -> set:
    return {identity(("EMAIL",), (sha256_hex(name),)) for name in names}


def test_add_remove_and_remove_by_method_parameter(meta_fake: MetaGraphFake) -> None:
    answer = post(meta_fake, "users", users("a", "b", "c")).json()
    assert answer["audience_id"] == meta_fake.audience_id
    assert (answer["num_received"], answer["num_invalid_entries"], answer["invalid_entry_samples"]) == (3, 0, {})
    assert post(meta_fake, "users", users("a"), http_method="DELETE").status_code == 200
    assert post(meta_fake, "users", users("b", "zz"), method="delete").status_code == 200
    assert meta_fake.members() == emails("c")
    assert [r.method for r in meta_fake.requests] == ["POST", "DELETE", "DELETE"]


def test_a_replace_takes_effect_with_the_last_batch(meta_fake: MetaGraphFake) -> None:
    meta_fake.seed(["EMAIL"], [[sha256_hex("old")]])
    assert post(meta_fake, "usersreplace", users("a"), session(1)).json()["num_received"] == 1
    assert post(meta_fake, "usersreplace", users("b"), session(2)).json()["num_received"] == 2
    assert meta_fake.members() == emails("old") and meta_fake.replace_in_progress()
    assert error_of(post(meta_fake, "users", users("x"))) == (400, 2650, 1870145)
    assert post(meta_fake, "usersreplace", users("b"), session(2)).status_code == 200  # a retry
    assert post(meta_fake, "usersreplace", users("c"), session(3, last=True)).json()["num_received"] == 3
    assert meta_fake.members() == emails("a", "b", "c") and not meta_fake.replace_in_progress()
    assert error_of(post(meta_fake, "usersreplace", users("d"), session(4))) == (400, 2650, 1870159)


@pytest.mark.parametrize("sequence", [[2], [1, 3], [1, 2, 4], [1, 2, 1, 3]])
def test_batch_seq_starts_at_1_and_goes_up_by_1(meta_fake: MetaGraphFake, sequence: list[int]) -> None:
    statuses = [post(meta_fake, "usersreplace", users(f"u{seq}"), session(seq)) for seq in sequence]
    assert error_of(statuses[-1]) == (400, 2650, 1870147)
    assert all(response.status_code == 200 for response in statuses[:-1])


def test_a_second_session_waits_for_the_first(meta_fake: MetaGraphFake) -> None:
    post(meta_fake, "usersreplace", users("a"), session(1, session_id=1))
    assert error_of(post(meta_fake, "usersreplace", users("b"), session(1, session_id=2))) == (400, 2650, 1870145)


@pytest.mark.parametrize(("payload", "why"), [
    ({"schema": ["EMAIL", "FN"], "is_raw": True, "data": [[sha256_hex("a")]]}, "width"),
    ({"schema": ["EMAIL"], "is_raw": True, "data": []}, "empty"),
    ({"schema": ["EMAIL", "MADID"], "is_raw": True, "data": [["", ""]]}, "unknown key"),
    ({"schema": ["EMAIL"], "is_raw": True, "data": [[sha256_hex(str(n))] for n in range(MAX_ROWS + 1)]}, "size"),
    ({"schema": ["EMAIL"], "data": [[sha256_hex("a")]]}, "is_raw"),
    (None, "no payload"),
])
def test_malformed_payloads_are_error_100(meta_fake: MetaGraphFake, payload: Any, why: str) -> None:
    assert error_of(post(meta_fake, "users", payload)) == (400, 100, None), why
    assert meta_fake.members() == set()


def test_bad_hashes_and_empty_rows_are_counted_invalid_not_added(meta_fake: MetaGraphFake) -> None:
    payload = {"schema": ["EMAIL", "FN", "LOOKALIKE_VALUE"], "is_raw": True,
               "data": [[sha256_hex("a"), "", 3], [sha256_hex("b").upper(), "", 1], ["", "", 2],
                        [sha256_hex("c"), sha256_hex("c"), "x"]]}
    answer = post(meta_fake, "users", payload).json()
    assert (answer["num_received"], answer["num_invalid_entries"]) == (4, 3)
    assert sorted(answer["invalid_entry_samples"]) == ["1", "2", "3"]
    assert meta_fake.values() == {identity(("EMAIL",), (sha256_hex("a"),)): 3}


def test_version_token_and_audience_are_checked(meta_fake: MetaGraphFake) -> None:
    assert error_of(post(meta_fake, "users", users("a"), version="")) == (400, 2635, None)
    assert error_of(post(meta_fake, "users", users("a"), token="")) == (400, 190, None)
    assert error_of(post(meta_fake, "users", users("a"), token="wrong")) == (400, 190, None)
    assert post(meta_fake, "users", users("a"), token="wrong").json()["error"]["type"] == "OAuthException"
    other = requests.post(f"{meta_fake.url}/v24.0/999/users", timeout=10,
                          data={"access_token": meta_fake.token, "payload": json.dumps(users("a"))})
    assert error_of(other) == (400, 100, 33)
    meta_fake.flag()
    assert error_of(post(meta_fake, "users", users("a"))) == (400, 100, 1713230)
    assert meta_fake.members() == set()


def test_the_token_may_come_in_the_query_string(meta_fake: MetaGraphFake) -> None:
    response = requests.delete(f"{meta_fake.url}/v24.0/{meta_fake.audience_id}/users", timeout=10,
                               params={"access_token": meta_fake.token, "payload": json.dumps(users("a"))})
    assert response.status_code == 200 and meta_fake.requests[0].method == "DELETE"


def test_canned_errors_come_in_order_then_normal_answers(meta_fake: MetaGraphFake) -> None:
    meta_fake.fail_next(613, after=1)
    meta_fake.fail_next_http(502, "Bad Gateway")
    answers = [post(meta_fake, "users", users("a")) for _ in range(4)]
    assert [answer.status_code for answer in answers] == [200, 400, 502, 200]
    assert answers[1].json()["error"]["code"] == 613 and answers[2].text == "Bad Gateway"


def test_die_after_answers_n_requests_then_drops_every_connection(meta_fake: MetaGraphFake) -> None:
    meta_fake.die_after(2)
    assert [post(meta_fake, "users", users("a")).status_code for _ in range(2)] == [200, 200]
    for _ in range(2):
        with pytest.raises(requests.ConnectionError):
            post(meta_fake, "users", users("b"))
    assert [r.status for r in meta_fake.requests] == [200, 200, None, None]
    assert meta_fake.members() == emails("a")
