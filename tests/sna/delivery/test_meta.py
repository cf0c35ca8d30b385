"""MetaAudienceClient through the real facebook_business SDK against the Graph contract fake."""

from __future__ import annotations

import json
import logging
import re
import socket
import sys
import traceback
from collections.abc import Callable

import pytest
from facebook_business.api import FacebookAdsApi
from facebook_business.crashreporter import CrashReporter
from facebook_business.session import FacebookSession

from sna.delivery.base import DeliveryError, DeliveryRefused, Members, SendResult
from sna.delivery.meta import DEFAULT_API_VERSION, MetaAudienceClient
from sna.errors import ConfigError
from tests.fakes.meta_graph import MetaGraphFake, identity, sha256_hex
from tests.fixtures.processes import free_port

FULL = ("EMAIL", "PHONE", "FN", "LN", "ZIP", "CT", "ST", "COUNTRY", "DOBY", "DOBM", "DOBD", "GEN")
HEX64 = re.compile(r"[0-9a-f]{64}")

MakeClient = Callable[..., MetaAudienceClient]


def person(n: int, schema: tuple[str, ...] = FULL, *, empty: tuple[str, ...] = ()) -> tuple[str, ...]:
    """A member as the normalizer hands it over: one SHA-256 per identifier, "" where it has none."""
    return tuple("" if key in empty else sha256_hex(f"{key.lower()}:{n}") for key in schema)


def people(count: int, schema: tuple[str, ...] = ("EMAIL",), start: int = 0) -> list[tuple[str, ...]]:
    return [person(n, schema) for n in range(start, start + count)]


def identities(schema: tuple[str, ...], rows: list[tuple[str, ...]]) -> set:
    return {identity(schema, row) for row in rows}


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make_client(meta_fake: MetaGraphFake, sleeps: list[float]) -> MakeClient:
    def make(**overrides: object) -> MetaAudienceClient:
        arguments: dict = {"graph_url": meta_fake.url, "sleep": sleeps.append, **overrides}
        audience_id = arguments.pop("audience_id", meta_fake.audience_id)
        token = arguments.pop("token", meta_fake.token)
        return MetaAudienceClient(audience_id, token, **arguments)
    return make


def assert_safe(error: BaseException, code: int | str, *secrets: str) -> None:
    """One line naming meta and the code; no token, no hash, no SDK exception chained behind it."""
    text = str(error)
    assert text.startswith("meta: ") and "\n" not in text
    assert str(code) in text
    shown = "".join(traceback.format_exception(error))
    assert not HEX64.search(shown)
    for secret in secrets:
        assert secret not in shown
    assert error.__cause__ is None and error.__context__ is None


# -- membership ---------------------------------------------------------------------------------


def test_add_and_remove_change_membership(meta_fake: MetaGraphFake, make_client: MakeClient) -> None:
    client = make_client()
    assert client.destination == f"meta:{meta_fake.audience_id}"
    rows = [person(1), person(2, empty=("PHONE", "DOBD")), person(3, empty=("ZIP",))]

    added = client.add(Members(FULL, rows))
    assert meta_fake.members() == identities(FULL, rows)
    assert (added.sent, added.invalid, added.requests) == (3, 0, 1)

    removed = client.remove(Members(FULL, rows[1:2] + [person(99)]))
    assert meta_fake.members() == identities(FULL, [rows[0], rows[2]])
    assert (removed.sent, removed.requests) == (2, 1)
    assert [(r.method, r.edge, r.rows, r.status) for r in meta_fake.requests] == [
        ("POST", "users", 3, 200), ("DELETE", "users", 2, 200)]
    assert all(r.path == f"/{DEFAULT_API_VERSION}/{meta_fake.audience_id}/users" for r in meta_fake.requests)


def test_replace_makes_the_audience_hold_exactly_the_members(meta_fake: MetaGraphFake,
                                                             make_client: MakeClient) -> None:
    old = people(5, FULL)
    meta_fake.seed(FULL, old)
    new = people(3, FULL, start=3)

    result = make_client().replace(Members(FULL, new))

    assert meta_fake.members() == identities(FULL, new)
    assert (result.sent, result.requests) == (3, 1)
    (request,) = meta_fake.requests
    assert (request.edge, request.batch_seq, request.last_batch_flag, request.estimated_num_total) == (
        "usersreplace", 1, True, 3)
    assert 0 < request.session_id < 2**63


def test_25001_rows_go_in_three_batches_one_session(meta_fake: MetaGraphFake, make_client: MakeClient) -> None:
    rows = people(25_001)
    client = make_client()

    result = client.replace(Members(("EMAIL",), rows))

    sent = meta_fake.requests
    assert [(r.rows, r.batch_seq, r.last_batch_flag) for r in sent] == [
        (10_000, 1, False), (10_000, 2, False), (5_001, 3, True)]
    assert len({r.session_id for r in sent}) == 1
    assert {r.estimated_num_total for r in sent} == {25_001}
    assert meta_fake.members() == identities(("EMAIL",), rows)
    assert (result.sent, result.requests, result.invalid) == (25_001, 3, 0)

    added = client.add(Members(("EMAIL",), people(25_001, start=30_000)))
    assert [r.rows for r in meta_fake.requests[3:]] == [10_000, 10_000, 5_001]
    assert (added.sent, added.requests) == (25_001, 3)
    assert len(meta_fake.members()) == 50_002


def test_each_replace_is_a_new_session(meta_fake: MetaGraphFake, make_client: MakeClient) -> None:
    client = make_client()
    client.replace(Members(("EMAIL",), people(2)))
    client.replace(Members(("EMAIL",), people(2, start=10)))
    first, second = meta_fake.requests
    assert first.session_id != second.session_id
    assert meta_fake.members() == identities(("EMAIL",), people(2, start=10))


def test_empty_replace_leaves_no_member(meta_fake: MetaGraphFake, make_client: MakeClient) -> None:
    old = people(4, ("EMAIL", "FN"))
    meta_fake.seed(("EMAIL", "FN"), old)

    result = make_client().replace(Members(("EMAIL", "FN"), []))

    assert not meta_fake.members() & identities(("EMAIL", "FN"), old)
    (placeholder,) = meta_fake.members()
    assert [key for key, _ in placeholder] == ["EMAIL"]
    assert placeholder[0][1] not in {sha256_hex(""), *(row[0] for row in old)}
    assert (result.sent, result.requests) == (0, 1)
    assert meta_fake.requests[0].last_batch_flag is True
    assert any("empty replace" in warning for warning in result.warnings)


def test_add_or_remove_of_nobody_sends_nothing(meta_fake: MetaGraphFake, make_client: MakeClient) -> None:
    client = make_client()
    assert client.add(Members(FULL, [])) == SendResult()
    assert client.remove(Members(FULL, [])) == SendResult()
    assert meta_fake.requests == []


# -- cells --------------------------------------------------------------------------------------


def test_empty_cells_stay_empty_and_hashes_are_not_hashed_again(meta_fake: MetaGraphFake,
                                                                make_client: MakeClient) -> None:
    row = person(7, empty=("FN", "GEN", "DOBM"))

    make_client().add(Members(FULL, [row]))

    (sent_row,) = meta_fake.requests[0].data
    assert sent_row == list(row)
    assert sha256_hex("") not in sent_row
    assert {key for key, _ in next(iter(meta_fake.members()))} == set(FULL) - {"FN", "GEN", "DOBM"}


def test_lookalike_values_are_sent_as_numbers(meta_fake: MetaGraphFake, make_client: MakeClient) -> None:
    schema = ("EMAIL", "LOOKALIKE_VALUE")
    rows = [(sha256_hex("a"), "44.5"), (sha256_hex("b"), "140"), (sha256_hex("c"), "")]

    make_client().add(Members(schema, rows))

    assert meta_fake.requests[0].data == [[rows[0][0], 44.5], [rows[1][0], 140], [rows[2][0], ""]]
    assert sorted(meta_fake.values().values(), key=str) == sorted([44.5, 140, ""], key=str)


@pytest.mark.parametrize("cell", [
    sha256_hex("x").upper(), "alice@example.com", sha256_hex("x")[:63], sha256_hex("x") + "0", " " + sha256_hex("x")[1:],
])
def test_a_cell_that_is_not_a_hash_is_never_sent(meta_fake: MetaGraphFake, make_client: MakeClient,
                                                  cell: str) -> None:
    rows = [person(1, ("EMAIL", "FN")), (sha256_hex("ok"), cell)]
    with pytest.raises(DeliveryRefused) as refused:
        make_client().add(Members(("EMAIL", "FN"), rows))
    assert "FN" in str(refused.value) and "member 1" in str(refused.value)
    assert cell not in str(refused.value) and "alice" not in str(refused.value)
    assert meta_fake.requests == []


@pytest.mark.parametrize(("schema", "rows", "expected"), [
    (("EMAIL", "MADID"), [("", "")], "unknown schema column MADID"),
    (("EMAIL", "EMAIL"), [("", "")], "twice"),
    (("LOOKALIKE_VALUE",), [("1",)], "no identifier"),
    (("EMAIL", "FN"), [(sha256_hex("a"),)], "1 cells for 2 columns"),
    (("EMAIL", "LOOKALIKE_VALUE"), [(sha256_hex("a"), "abc")], "not a number"),
    (("EMAIL", "LOOKALIKE_VALUE"), [(sha256_hex("a"), "-1")], ">= 0"),
    (("EMAIL", "LOOKALIKE_VALUE"), [(sha256_hex("a"), "nan")], ">= 0"),
])
def test_malformed_members_are_refused_before_sending(meta_fake: MetaGraphFake, make_client: MakeClient,
                                                      schema: tuple[str, ...], rows: list, expected: str) -> None:
    for operation in ("add", "remove", "replace"):
        with pytest.raises(DeliveryRefused, match=re.escape(expected)):
            getattr(make_client(), operation)(Members(schema, rows))
    assert meta_fake.requests == []


def test_validate_only_checks_here_and_sends_nothing(meta_fake: MetaGraphFake, make_client: MakeClient) -> None:
    client = make_client()
    for operation in (client.add, client.remove, client.replace):
        result = operation(Members(FULL, people(3, FULL)), validate_only=True)
        assert (result.sent, result.requests) == (0, 0)
        assert "nothing was sent" in result.warnings[0]
    with pytest.raises(DeliveryRefused):
        client.add(Members(("EMAIL",), [("raw@example.com",)]), validate_only=True)
    assert meta_fake.requests == []


def test_invalid_entries_are_summed_per_request_and_taken_per_session(meta_fake: MetaGraphFake,
                                                                      make_client: MakeClient) -> None:
    schema = ("EMAIL", "FN")
    rows = people(10_001, schema)
    rows[0] = rows[10_000] = ("", "")  # no identifier at all: Meta counts them invalid
    client = make_client()

    added = client.add(Members(schema, rows))
    assert (added.invalid, added.sent, added.requests) == (2, 10_001, 2)
    assert len(meta_fake.members()) == 9_999

    replaced = client.replace(Members(schema, rows))
    assert [r.batch_seq for r in meta_fake.requests[2:]] == [1, 2]
    assert replaced.invalid == 2  # the session's answers count it so far: 1, then 2
    assert len(meta_fake.members()) == 9_999


# -- retries and refusals -----------------------------------------------------------------------


@pytest.mark.parametrize("code", [17, 613, 80003, 4, 2])
def test_throttling_is_retried_by_error_code_then_succeeds(meta_fake: MetaGraphFake, make_client: MakeClient,
                                                           sleeps: list[float], code: int) -> None:
    meta_fake.fail_next(code, http_status=400, times=2)
    rows = people(3, FULL)

    result = make_client().add(Members(FULL, rows))

    assert [r.status for r in meta_fake.requests] == [400, 400, 200]
    assert [r.error_code for r in meta_fake.requests] == [code, code, None]
    assert meta_fake.members() == identities(FULL, rows)
    assert (result.requests, result.sent) == (3, 3)
    assert sleeps == [1.0, 2.0]


def test_a_retry_inside_a_session_resends_the_same_batch_seq(meta_fake: MetaGraphFake, make_client: MakeClient,
                                                             sleeps: list[float]) -> None:
    meta_fake.seed(("EMAIL",), people(3, start=100_000))
    meta_fake.fail_next(80003, subcode=2446079, after=1)
    meta_fake.fail_next_http(503, after=0)
    rows = people(25_001)

    result = make_client().replace(Members(("EMAIL",), rows))

    assert [(r.batch_seq, r.status) for r in meta_fake.requests] == [(1, 200), (2, 400), (2, 503), (2, 200),
                                                                    (3, 200)]
    assert len({r.session_id for r in meta_fake.requests}) == 1
    assert meta_fake.members() == identities(("EMAIL",), rows)
    assert (result.requests, result.sent) == (5, 25_001)
    assert len(sleeps) == 2


@pytest.mark.parametrize("text", ["Service Unavailable", "upstream connect error", "<html>502</html>", "{}",
                                  '{"message": "backend down"}', "Service Unavailable: upstream error"])
@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_retried(meta_fake: MetaGraphFake, make_client: MakeClient, status: int,
                                   text: str) -> None:
    meta_fake.fail_next_http(status, text)
    rows = people(2)

    result = make_client().add(Members(("EMAIL",), rows))

    assert [r.status for r in meta_fake.requests] == [status, 200]
    assert result.requests == 2 and meta_fake.members() == identities(("EMAIL",), rows)


def test_graph_errors_with_5xx_and_transient_flags_are_retried(meta_fake: MetaGraphFake,
                                                               make_client: MakeClient) -> None:
    meta_fake.fail_next(1, http_status=500)
    meta_fake.fail_next(9999, http_status=400, is_transient=True)
    assert make_client().add(Members(("EMAIL",), people(1))).requests == 3


def test_retries_give_up_with_a_delivery_error(meta_fake: MetaGraphFake, make_client: MakeClient,
                                               sleeps: list[float]) -> None:
    meta_fake.fail_next(17, times=10)
    with pytest.raises(DeliveryError) as failed:
        make_client(max_retries=3).add(Members(("EMAIL",), people(1)))
    assert not isinstance(failed.value, DeliveryRefused)
    assert "after 4 attempts" in str(failed.value)
    assert_safe(failed.value, 17, meta_fake.token)
    assert len(meta_fake.requests) == 4 and sleeps == [1.0, 2.0, 4.0]
    assert meta_fake.members() == set()


def test_announced_throttling_sets_the_wait_and_a_long_one_fails_at_once(meta_fake: MetaGraphFake,
                                                                         make_client: MakeClient,
                                                                         sleeps: list[float]) -> None:
    def usage(minutes: int) -> dict[str, str]:
        return {"X-Business-Use-Case-Usage": json.dumps(
            {"1234567": [{"type": "custom_audience", "call_count": 100, "estimated_time_to_regain_access": minutes}]})}

    meta_fake.fail_next(80003, subcode=2446079, headers=usage(2))
    make_client().add(Members(("EMAIL",), people(1)))
    assert sleeps == [120.0]

    meta_fake.fail_next(80003, subcode=2446079, headers=usage(30))
    with pytest.raises(DeliveryError, match="about 30 min"):
        make_client(max_backoff_s=600).add(Members(("EMAIL",), people(1)))
    assert sleeps == [120.0] and len(meta_fake.requests) == 3


@pytest.mark.parametrize(("code", "subcode"), [(190, None), (471, None), (100, 33), (200, None), (294, None),
                                               (2650, None), (10, None)])
def test_fatal_codes_are_refused_at_once(meta_fake: MetaGraphFake, make_client: MakeClient, sleeps: list[float],
                                         code: int, subcode: int | None) -> None:
    meta_fake.fail_next(code, subcode=subcode)
    with pytest.raises(DeliveryRefused) as refused:
        make_client().replace(Members(FULL, people(3, FULL)))
    assert_safe(refused.value, code, meta_fake.token)
    assert f"error {code} OAuthException" in str(refused.value)
    assert len(meta_fake.requests) == 1 and sleeps == []


@pytest.mark.parametrize("status", [400, 401])
def test_a_wrong_token_is_refused_at_once_without_showing_either_token(status: int, sleeps: list[float]) -> None:
    with MetaGraphFake(bad_token_status=status) as fake:
        wrong = "EAAwrongTokenValue0123456789"
        client = MetaAudienceClient(fake.audience_id, wrong, graph_url=fake.url, sleep=sleeps.append)
        with pytest.raises(DeliveryRefused) as refused:
            client.add(Members(FULL, people(2, FULL)))
    assert_safe(refused.value, 190, wrong, fake.token)
    assert [(r.status, r.error_code) for r in fake.requests] == [(status, 190)]
    assert sleeps == []


def test_a_flagged_audience_is_refused(meta_fake: MetaGraphFake, make_client: MakeClient) -> None:
    meta_fake.flag()
    with pytest.raises(DeliveryRefused) as refused:
        make_client().add(Members(("EMAIL",), people(1)))
    assert_safe(refused.value, "error 100 OAuthException (subcode 1713230)")


def test_an_audience_busy_with_another_replace_fails_for_the_next_run(meta_fake: MetaGraphFake,
                                                                      make_client: MakeClient,
                                                                      sleeps: list[float]) -> None:
    meta_fake.fail_next(2650, subcode=1870145)
    with pytest.raises(DeliveryError) as failed:
        make_client().replace(Members(("EMAIL",), people(1)))
    assert not isinstance(failed.value, DeliveryRefused)
    assert "next run" in str(failed.value) and sleeps == [] and len(meta_fake.requests) == 1


def test_the_server_dying_mid_replace_is_a_delivery_error(meta_fake: MetaGraphFake, make_client: MakeClient,
                                                          sleeps: list[float]) -> None:
    old = people(3, start=100_000)
    meta_fake.seed(("EMAIL",), old)
    meta_fake.die_after(1)

    with pytest.raises(DeliveryError) as failed:
        make_client(max_retries=2).replace(Members(("EMAIL",), people(25_001)))

    assert not isinstance(failed.value, DeliveryRefused)
    assert_safe(failed.value, "connection error", meta_fake.token)
    assert "replace batch 2 of 3" in str(failed.value)
    assert [r.batch_seq for r in meta_fake.requests] == [1, 2, 2, 2]
    assert [r.status for r in meta_fake.requests] == [200, None, None, None]
    assert meta_fake.members() == identities(("EMAIL",), old)  # the session never ended
    assert sleeps == [1.0, 2.0]


def test_an_unreachable_graph_url_is_a_delivery_error(sleeps: list[float]) -> None:
    with MetaGraphFake() as fake:
        url = fake.url
    client = MetaAudienceClient("123", "token-value-xyz", graph_url=url, max_retries=1, sleep=sleeps.append)
    with pytest.raises(DeliveryError) as failed:
        client.remove(Members(("EMAIL",), people(1)))
    assert_safe(failed.value, "connection error", "token-value-xyz")


# -- where requests go --------------------------------------------------------------------------


def test_no_request_goes_anywhere_but_the_graph_url(meta_fake: MetaGraphFake, make_client: MakeClient,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Every connection (and name lookup) is to the fake, even with proxies set in the environment;
    no crash reporter is installed and the SDK's globals are untouched."""
    connects: list[object] = []
    lookups: list[object] = []
    real_connect, real_getaddrinfo = socket.socket.connect, socket.getaddrinfo

    def connect(sock: socket.socket, address: object) -> None:
        connects.append(address)
        real_connect(sock, address)

    def getaddrinfo(host: object, *args: object, **kwargs: object) -> object:
        lookups.append(host)
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{free_port()}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    excepthook, default_api = sys.excepthook, FacebookAdsApi.get_default_api()

    with MetaGraphFake() as other:
        client, elsewhere = make_client(), MetaAudienceClient(other.audience_id, other.token, graph_url=other.url)
        client.add(Members(("EMAIL",), people(2)))
        elsewhere.add(Members(("EMAIL",), people(1, start=50)))
        meta_fake.fail_next(190)
        with pytest.raises(DeliveryRefused):
            client.replace(Members(("EMAIL",), people(1)))
        elsewhere.close()
        assert len(other.members()) == 1 and len(meta_fake.members()) == 2
        assert set(connects) <= {meta_fake.address, other.address} and len(connects) >= 2
        assert set(lookups) <= {"127.0.0.1"}

    assert CrashReporter.reporter_instance is None
    assert sys.excepthook is excepthook and FacebookAdsApi.get_default_api() is default_api
    assert FacebookSession.GRAPH == "https://graph.facebook.com"


def test_the_token_is_in_no_url_and_no_log(meta_fake: MetaGraphFake, make_client: MakeClient,
                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    meta_fake.fail_next(17)
    client = make_client()
    client.add(Members(FULL, people(2, FULL)))
    client.remove(Members(FULL, people(1, FULL)))
    client.replace(Members(FULL, people(2, FULL)))

    assert len(meta_fake.requests) == 4
    assert all(meta_fake.token not in r.query and meta_fake.token not in r.path for r in meta_fake.requests)
    assert "retry 1 of 5" in caplog.text
    assert meta_fake.token not in caplog.text and not HEX64.search(caplog.text)


def test_the_api_version_is_in_the_path(meta_fake: MetaGraphFake, make_client: MakeClient) -> None:
    make_client(api_version="v24.0").add(Members(("EMAIL",), people(1)))
    make_client().add(Members(("EMAIL",), people(1)))
    assert [r.path.split("/")[1] for r in meta_fake.requests] == ["v24.0", FacebookAdsApi.API_VERSION]


@pytest.mark.parametrize(("audience_id", "token", "options"), [
    ("act_123", "t", {}), ("", "t", {}), ("123", "", {}), ("123", "t", {"api_version": "24.0"}),
    ("123", "t", {"graph_url": "ftp://graph.example"}), ("123", "t", {"graph_url": "http://127.0.0.1:1/v24.0"}),
    ("123", "t", {"max_retries": -1}),
])
def test_bad_settings_are_config_errors(audience_id: str, token: str, options: dict) -> None:
    with pytest.raises(ConfigError) as error:
        MetaAudienceClient(audience_id, token, **options)
    assert str(error.value).startswith("meta: ")


def test_an_explicit_proxy_is_used(meta_fake: MetaGraphFake, make_client: MakeClient) -> None:
    client = make_client(proxies={"http": f"http://127.0.0.1:{free_port()}"}, max_retries=0)
    with pytest.raises(DeliveryError, match=r"connection error \(ProxyError\)"):
        client.add(Members(("EMAIL",), people(1)))
    assert meta_fake.requests == []
