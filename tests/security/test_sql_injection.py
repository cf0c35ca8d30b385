"""SQL injection through every string field of an audience file is inert.

Each payload goes into every string-valued key of an audience file. A key either refuses it (a
one-line error naming the file and key) or accepts it; every accepted payload then runs, all keys at
once, through `sna preview` and `sna run` against a real MariaDB shop that also holds the export
registry and a canary table. Proof of inertness, at the boundary where injection would happen:
SQLAlchemy's `before_cursor_execute` sees every SQL text handed to the driver, and no payload is
ever part of one; payloads reach the database only as bound parameters (the registry stores them
verbatim as data). And on the server: the canary survives, no table appears or disappears, no row
count changes. (mysqlclient escapes parameters on the client, so the server's own statement log
shows them as quoted literals; the DBAPI boundary is where "bound, never interpolated" is decided.)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any, Self

import pytest
import sqlalchemy as sa
import yaml

from sna.audience import check_audience_file
from sna.cli import main as sna
from sna.errors import AudienceFileError
from tests.fixtures.mariadb import _create_database, _database_url, _drop_database

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

PAYLOADS = [
    "x';DROP TABLE sna_canary;--inj01",
    "' OR '1'='1' -- inj02",
    '" OR ""=" inj03',
    "1;DELETE FROM ps_customer;inj04",
    "inj05') UNION SELECT passwd FROM ps_customer #",
    "inj06`; DROP DATABASE mysql; `",
    "\\';TRUNCATE sna_canary;--inj07",
    "%' AND SLEEP(5) AND '%'=' inj08",
    "inj09\x00'; DROP TABLE sna_canary",
    "inj10/*!DROP TABLE sna_canary*/",
    "ʼ;DROP TABLE sna_canary;--inj11",
    "inj12\n; DROP TABLE sna_canary",
    "inj13'); INSERT INTO sna_canary VALUES (99, 'pwned'); --",
    "${jndi:ldap://x/inj14} {{7*7}} %s %(x)s :inj14",
]
TAGS = [f"inj{index:02d}" for index in range(1, len(PAYLOADS) + 1)]
CANARY = [(1, "canary one"), (2, "canary two"), (3, "do not drop")]
PAYLOAD_GROUP_BASE = 900


def _fields(payload: str, suppression: Path) -> dict[str, dict[str, Any]]:
    """One audience document per string-valued key, the payload in that key."""
    base = {"name": "sqli_probe", "platform": "google"}
    return {
        "name": {**base, "name": payload},
        "description": {**base, "description": payload},
        "platform": {**base, "platform": payload},
        "hashing": {**base, "hashing": payload},
        "schedule": {**base, "schedule": payload},
        "value": {**base, "value": payload},
        "source.table_prefix": {**base, "source": {"table_prefix": payload}},
        "filters.default_groups": {**base, "filters": {"default_groups": [payload, 3]}},
        "filters.groups_any": {**base, "filters": {"groups_any": [payload]}},
        "filters.exclude_email_domains": {**base, "filters": {"exclude_email_domains": [payload]}},
        "filters.countries": {**base, "filters": {"countries": [payload]}},
        "filters.consent": {**base, "filters": {"consent": payload}},
        "suppression_list": {**base, "suppression_list": str(suppression)},
    }


def _write(path: Path, document: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return path


def _suppression_file(folder: Path, index: int, payload: str) -> Path:
    """A suppression list named after the payload (what a file name can hold) and holding it."""
    safe = "".join(ch for ch in payload if ch not in "/\x00\n")
    path = folder / f"supp {index:02d} {safe}.txt"
    try:
        path.write_text(f"{payload}\npii-mark-000001@example.com\n# {payload}\n", encoding="utf-8")
    except OSError:
        path = folder / f"supp-{index:02d}.txt"
        path.write_text(f"{payload}\n", encoding="utf-8")
    if "\x00" in payload:
        return folder / f"supp {index:02d} {payload}.txt"  # a NUL byte cannot name a file: must be refused
    return path


@pytest.fixture(scope="module")
def shop(mariadb_server) -> Iterator[str]:
    """A MariaDB demo shop with a canary table and one customer group named after each payload."""
    from sna_demo import write_demo_shop

    name = _create_database()
    url = _database_url(name)
    try:
        write_demo_shop(url, customers=300, seed=5, as_of=date(2026, 11, 1))
        engine = sa.create_engine(url)
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE sna_canary (id INT PRIMARY KEY, note VARCHAR(64))")
            connection.execute(sa.text("INSERT INTO sna_canary VALUES (:id, :note)"),
                               [{"id": i, "note": n} for i, n in CANARY])
            groups = [{"id": PAYLOAD_GROUP_BASE + i, "name": p} for i, p in enumerate(PAYLOADS) if len(p) <= 32]
            for lang in (1, 2):
                connection.execute(sa.text("INSERT INTO ps_group_lang (id_group, id_lang, name) "
                                           "VALUES (:id, :lang, :name)"), [{**g, "lang": lang} for g in groups])
            for group in groups:
                connection.execute(sa.text(
                    "INSERT INTO ps_customer_group (id_customer, id_group) "
                    "SELECT id_customer, :id FROM ps_customer WHERE MOD(id_customer, 3) = 0"), {"id": group["id"]})
        engine.dispose()
        yield url
    finally:
        _drop_database(name)


def _snapshot(url: str) -> dict[str, Any]:
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        tables = sorted(sa.inspect(connection).get_table_names())
        counts = {t: connection.exec_driver_sql(f"SELECT COUNT(*) FROM `{t}`").scalar() for t in tables}
        canary = [tuple(row) for row in connection.exec_driver_sql("SELECT id, note FROM sna_canary ORDER BY id")]
    engine.dispose()
    return {"tables": tables, "counts": counts, "canary": canary}


class StatementLog:
    """Every SQL text and its parameters, as handed to any driver in this process."""

    def __init__(self) -> None:
        self.statements: list[tuple[str, str]] = []

    def __call__(self, conn, cursor, statement, parameters, context, executemany) -> None:
        self.statements.append((str(statement), json.dumps(parameters, default=str)))

    def __enter__(self) -> Self:
        sa.event.listen(sa.engine.Engine, "before_cursor_execute", self)
        return self

    def __exit__(self, *exc: object) -> None:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", self)


def test_every_string_key_refuses_or_binds_every_payload(shop, tmp_path, capsys, figures) -> None:
    before = _snapshot(shop)
    file_url = (tmp_path / "exports").as_uri()
    locations = ["--source-url", shop, "--storage-url", file_url, "--registry-url", shop]
    refused: dict[str, int] = {}
    accepted: dict[str, int] = {}
    combined: list[tuple[int, dict[str, Any]]] = []
    for index, payload in enumerate(PAYLOADS):
        suppression = _suppression_file(tmp_path, index, payload)
        document: dict[str, Any] = {"name": f"sqli_{index:02d}", "platform": "google", "filters": {}}
        for key, probe in _fields(payload, suppression).items():
            _audience, errors = check_audience_file(_write(tmp_path / f"probe-{index}.yaml", probe))
            if errors:
                refused[key] = refused.get(key, 0) + 1
                assert all(isinstance(e, AudienceFileError) and "\n" not in str(e) for e in errors), key
                assert errors[0].key.startswith(key.split(".")[-1]) or errors[0].key.startswith(key), \
                    (key, str(errors[0]))
                continue
            accepted[key] = accepted.get(key, 0) + 1
            if key == "filters.default_groups":
                document["filters"]["default_groups"] = [payload, 3]
            elif key == "filters.groups_any":
                document["filters"]["groups_any"] = [payload]
            elif key in ("description", "suppression_list"):
                document[key] = probe[key]
        combined.append((index, document))
    assert set(accepted) <= {"description", "filters.default_groups", "filters.groups_any", "suppression_list"}
    assert accepted.get("description") == len(PAYLOADS) and accepted.get("filters.groups_any", 0) >= 9

    with StatementLog() as log:
        for index, document in combined:
            path = _write(tmp_path / f"sqli_{index:02d}.yaml", document)
            day = ["--reference-date", f"2026-11-{index + 1:02d}"]
            assert sna(["preview", str(path), *day, *locations]) == 0, capsys.readouterr().err
            assert sna(["run", str(path), *day, "--json", *locations]) == 0, capsys.readouterr().err
            report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
            assert report["rows"] > 0 and report["scanned"] == before["counts"]["ps_customer"]

    texts = [statement.lower() for statement, _ in log.statements]
    interpolated = [(tag, text) for tag in TAGS for text in texts if tag in text]
    assert interpolated == [], "a payload became part of an SQL text"
    bound = {tag for tag in TAGS for _, parameters in log.statements if tag in parameters}
    groups_bound = {TAGS[i] for i, d in combined if "groups_any" in d["filters"]}
    assert groups_bound <= bound, "every accepted group payload reached the database as a parameter"

    after = _snapshot(shop)
    assert after["canary"] == before["canary"] == CANARY
    new_tables = set(after["tables"]) - set(before["tables"])
    assert set(before["tables"]) <= set(after["tables"]) and all(t.startswith("sna_") for t in new_tables)
    assert {t: after["counts"][t] for t in before["tables"]} == before["counts"]

    from sna.registry import Registry

    registry = Registry(shop)
    stored = {entry.audience: entry.filters for entry in registry.list(limit=100)}
    registry.dispose()
    for index, document in combined:
        if "groups_any" in document["filters"]:
            assert stored[f"sqli_{index:02d}"]["groups_any"] == [PAYLOADS[index]], "stored verbatim, as data"

    figures.add(
        "sql_injection",
        payloads=len(PAYLOADS),
        string_keys=len(_fields("x", tmp_path)),
        payload_key_pairs=len(PAYLOADS) * len(_fields("x", tmp_path)),
        refused_by_validation=sum(refused.values()),
        accepted_and_run=sum(accepted.values()),
        cli_runs=2 * len(combined),
        sql_statements_checked=len(log.statements),
        payloads_inside_sql_text=len(interpolated),
        payloads_seen_as_bound_parameters=len(bound),
        canary_rows_intact=len(after["canary"]),
        tables_row_counts_unchanged=len(before["tables"]),
    )


def test_the_adhoc_form_checks_its_fields_like_a_file(figures) -> None:
    from sna_airflow.adhoc import audience_from_form

    base = {"name": "adhoc", "platform": "google", "default_groups": [], "exclude_email_domains": [],
            "consent": "any", "countries": [], "hashing": "none"}
    tried = 0
    for payload in PAYLOADS:
        for key, value in (("name", payload), ("platform", payload), ("hashing", payload), ("consent", payload),
                           ("exclude_email_domains", [payload]), ("countries", [payload])):
            tried += 1
            with pytest.raises(AudienceFileError) as refused:
                audience_from_form({**base, key: value})
            assert "\n" not in str(refused.value) and key in str(refused.value)
        tried += 1
        groups = audience_from_form({**base, "default_groups": [payload]}) if len(payload.strip()) <= 32 else None
        if groups is not None:
            assert groups.filters.default_groups == [payload.strip()]
    figures.add("sql_injection", adhoc_form_values_tried=tried)
