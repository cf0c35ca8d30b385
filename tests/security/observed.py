"""Full runs of everything that handles customers, on a shop whose customers carry marker values and
behind connections whose passwords are distinctive: what they print, log and store is gathered.

The runs are those of production: DAG runs whose tasks are executed by Airflow's LocalExecutor
(real task processes, real task log files under AIRFLOW_HOME/logs, talking to a real Execution API
server), the `sna` command line as a subprocess, and the engine in process while S3 dies under it.
Everything a person or a log collector could read afterwards is gathered as text: task log files,
the API server's log, standard output and error of the test process and of the subprocesses, every
exception's full traceback, and a dump of Airflow's metadata DB (XComs, task instances, run conf).
The export files and the staging area, which hold customer data by design, are not part of it.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import subprocess
import sys
import time
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tests.fixtures.processes import airflow_api_server, free_port
from tests.security.scan import Markers

PROJECT = Path(__file__).resolve().parents[2]
CUSTOMERS = 300
AS_OF = date(2026, 11, 1)
NL_COUNTRY_ID = 13
MARIADB_ROOT = "mysql+mysqldb://root@127.0.0.1:3306"
POSTGRES_ROOT = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"

GOOGLE = """
name: pii_google
description: customers with marker values (security test)
platform: google
"""
META = """
name: pii_meta
platform: meta
value: total_spent
"""
META_SHA = """
name: pii_meta_sha
platform: meta
hashing: sha256
"""
DELIVER_GOOGLE = """
name: pii_deliver_google
platform: google
require_complete: false
delivery:
  google:
    operating_account_id: "1234567890"
    user_list_id: "4455667788"
    consent: {ad_user_data: granted, ad_personalization: granted}
"""
DELIVER_META_NEW = """
name: pii_deliver_meta_new
platform: meta
require_complete: false
delivery:
  meta: {custom_audience_id: "23850000000000002"}
"""
DELIVER_META = """
name: pii_deliver_meta
platform: meta
require_complete: false
hashing: sha256
value: total_spent
delivery:
  meta: {custom_audience_id: "23850000000000001"}
"""
UNKNOWN_GROUP = """
name: pii_unknown_group
platform: google
filters:
  default_groups: [NoSuchGroupHere]
"""


def _letters(column: str) -> str:
    """SQL turning an id into six letters (0 -> a ... 9 -> j): names that pass validation."""
    expression = f"LPAD({column}, 6, '0')"
    for digit in range(10):
        expression = f"REPLACE({expression}, '{digit}', '{chr(ord('a') + digit)}')"
    return expression


# -- the shop ------------------------------------------------------------------------------------


@dataclass
class MarkerShop:
    database: str
    url: str
    user: str
    password: str
    markers: Markers
    customers: int


def create_marker_shop(password: str) -> MarkerShop:
    """A MariaDB demo shop whose every e-mail, name, phone, postcode and city is a unique marker
    that still passes validation (all addresses in the Netherlands), read through a user that has
    a password."""
    from sna_demo import write_demo_shop

    database = f"sna_t_{secrets.token_hex(6)}"
    user = f"sna_sec_{secrets.token_hex(4)}"
    root = sa.create_engine(MARIADB_ROOT)
    with root.begin() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci")
        connection.exec_driver_sql(f"CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY '{password}'")
        connection.exec_driver_sql(f"GRANT ALL PRIVILEGES ON `{database}`.* TO '{user}'@'127.0.0.1'")
    root.dispose()
    admin_url = f"{MARIADB_ROOT}/{database}?charset=utf8mb4"
    write_demo_shop(admin_url, customers=CUSTOMERS, seed=11, as_of=AS_OF)
    engine = sa.create_engine(admin_url)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "UPDATE ps_customer SET "
            "email = CONCAT('pii-mark-', LPAD(id_customer, 6, '0'), '@example.com'), "
            f"firstname = CONCAT('Zqxfirst', {_letters('id_customer')}), "
            f"lastname = CONCAT('Zqxlast', {_letters('id_customer')})"
        )
        connection.exec_driver_sql(
            f"UPDATE ps_address SET id_country = {NL_COUNTRY_ID}, id_state = 0, "
            "postcode = CONCAT(LPAD(1000 + MOD(id_address, 9000), 4, '0'), ' QZ'), "
            f"city = CONCAT('Zqxcity', {_letters('id_address')}), "
            "phone = CONCAT('06879', LPAD(id_address, 5, '0')), phone_mobile = NULL"
        )
        customers = connection.exec_driver_sql("SELECT email, firstname, lastname FROM ps_customer").all()
        addresses = connection.exec_driver_sql("SELECT postcode, city, phone FROM ps_address").all()
    engine.dispose()
    markers = Markers.of(
        emails=[row[0] for row in customers],
        names=[row[1] for row in customers] + [row[2] for row in customers],
        cities=[row[1] for row in addresses],
        phones=[row[2] for row in addresses],
        postcodes=[row[0] for row in addresses],
    )
    url = f"mysql+mysqldb://{user}:{password}@127.0.0.1:3306/{database}?charset=utf8mb4"
    return MarkerShop(database, url, user, password, markers, len(customers))


def drop_marker_shop(shop: MarkerShop) -> None:
    root = sa.create_engine(MARIADB_ROOT)
    with root.begin() as connection:
        connection.exec_driver_sql(f"DROP DATABASE IF EXISTS `{shop.database}`")
        connection.exec_driver_sql(f"DROP USER IF EXISTS '{shop.user}'@'127.0.0.1'")
    root.dispose()


@contextmanager
def postgres_database() -> Iterator[str]:
    name = f"sna_sec_{secrets.token_hex(6)}"
    admin = sa.create_engine(POSTGRES_ROOT, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


# -- Airflow -------------------------------------------------------------------------------------


@contextmanager
def patched_environ(values: Mapping[str, str | None]) -> Iterator[None]:
    """Sets (or removes, for None) environment variables and restores them all afterwards."""
    saved = {name: os.environ.get(name) for name in values}
    try:
        for name, value in values.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def execution_api_server(log_path: Path) -> Iterator[str]:
    """`airflow api-server --apps execution` on the test's metadata DB: what LocalExecutor's task
    processes talk to. Returns its execution API URL; stopped with its process group."""
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}")
    with airflow_api_server(env, log_path, extra_args=("--apps", "execution"),
                            health_path="/execution/health") as base:
        yield f"{base}/execution/"


def run_with_executor(dag_id: str, logical_date: datetime | None, conf: dict | None = None,
                      retries: int | None = None) -> tuple[Any, dict[str, Any]]:
    """One DAG run whose tasks are executed by LocalExecutor (separate task processes writing task log
    files); `retries` overrides the DAG's retries (a failing run must not wait for the backoff)."""
    from airflow.models.xcom import XComModel
    from airflow.settings import Session

    from tests.airflow.conftest import parse_dags

    bag = parse_dags()
    assert not bag.import_errors, bag.import_errors
    dag = bag.dags[dag_id]
    if retries is not None:
        for task in dag.tasks:
            task.retries = retries
    dag_run = dag.test(logical_date=logical_date, run_conf=conf, use_executor=True)
    with Session() as session:
        query = XComModel.get_many(run_id=dag_run.run_id, dag_ids=dag_id, key="return_value")
        values = {row.task_id: XComModel.deserialize_value(row) for row in session.scalars(query)}
    return dag_run, values


def task_states(dag_run: Any) -> dict[str, str]:
    from tests.airflow.conftest import task_states as states

    return states(dag_run)


def metadata_db_dump() -> str:
    """Every row of Airflow's metadata DB (XComs, task instances, runs, audit log...) as SQL text."""
    from airflow.configuration import conf

    url = conf.get("database", "sql_alchemy_conn")
    path = sa.engine.make_url(url).database
    connection = sqlite3.connect(path)
    try:
        return "\n".join(connection.iterdump())
    finally:
        connection.close()


def airflow_home_files() -> dict[str, str]:
    """Every text file under AIRFLOW_HOME (task logs, server logs, generated files), by path; the
    metadata DB itself is read as a dump instead."""
    home = Path(os.environ["AIRFLOW_HOME"])
    files = {}
    for path in sorted(home.rglob("*")):
        if path.is_file() and ".db" not in path.name:
            files[f"AIRFLOW_HOME/{path.relative_to(home)}"] = path.read_text(encoding="utf-8", errors="replace")
    return files


# -- the gathered evidence -----------------------------------------------------------------------


@dataclass
class Command:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str


@dataclass
class ObservedRuns:
    shop: MarkerShop
    secrets: dict[str, str]
    registry_url: str
    bucket: str
    audiences: Path
    platform_env: dict[str, str] = field(default_factory=dict)
    meta_fake: Any = None
    texts: dict[str, str] = field(default_factory=dict)
    states: dict[str, str] = field(default_factory=dict)
    task_states: dict[str, dict[str, str]] = field(default_factory=dict)
    commands: dict[str, Command] = field(default_factory=dict)
    exceptions: dict[str, BaseException] = field(default_factory=dict)
    exported: dict[str, bytes] = field(default_factory=dict)
    delivered: dict[str, int] = field(default_factory=dict)
    """Members each contract fake holds at the end (the positive control of delivery runs)."""
    seconds: float = 0.0


class OutputCapture:
    """What the test process writes to standard output and error during the runs.

    Under pytest's capture, its global capture is read (it holds both the Python-level and the file
    descriptor-level output, task processes included); without it (`-s`), the descriptors are redirected.
    """

    def __init__(self, capture_manager: Any, folder: Path) -> None:
        self.manager = capture_manager
        self.folder = folder
        self.text = ""

    @contextmanager
    def capturing(self) -> Iterator[None]:
        if self.manager is not None and self.manager.is_globally_capturing():
            self.manager.read_global_capture()  # drop what came before
            try:
                yield
            finally:
                captured = self.manager.read_global_capture()
                self.text = captured.out + "\n" + captured.err
            return
        path = self.folder / "captured-output.txt"
        sys.stdout.flush()
        sys.stderr.flush()
        saved = os.dup(1), os.dup(2)
        with path.open("wb") as sink:
            os.dup2(sink.fileno(), 1)
            os.dup2(sink.fileno(), 2)
            try:
                yield
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os.dup2(saved[0], 1)
                os.dup2(saved[1], 2)
                os.close(saved[0])
                os.close(saved[1])
        self.text = path.read_text(encoding="utf-8", errors="replace")


def connection_env(shop: MarkerShop, registry_db: str, registry_password: str, s3_server: Any, bucket: str,
                   audiences: Path, s3_endpoint: str | None = None) -> dict[str, str | None]:
    import json

    s3_extra: dict[str, Any] = {"endpoint_url": s3_endpoint or s3_server.endpoint_url, "region_name": s3_server.region}
    if s3_endpoint:
        s3_extra["config_kwargs"] = {"connect_timeout": 2, "retries": {"max_attempts": 1}}
    return {
        "AIRFLOW_CONN_SNA_PRESTASHOP": json.dumps({
            "conn_type": "mysql", "host": "127.0.0.1", "port": 3306, "login": shop.user,
            "password": shop.password, "schema": shop.database, "extra": {"charset": "utf8mb4"}}),
        "AIRFLOW_CONN_SNA_S3": json.dumps({
            "conn_type": "aws", "login": s3_server.access_key, "password": s3_server.secret_key, "extra": s3_extra}),
        "AIRFLOW_CONN_SNA_REGISTRY": json.dumps({
            "conn_type": "postgres", "host": "127.0.0.1", "port": 5432, "login": "postgres",
            "password": registry_password, "schema": registry_db}),
        "SNA_S3_BUCKET": bucket,
        "SNA_S3_PREFIX": "exports",
        "SNA_AUDIENCES_DIR": str(audiences),
        "SNA_HOME": None, "SNA_SOURCE_URL": None, "SNA_STORAGE_URL": None, "SNA_REGISTRY_URL": None,
        "AWS_ENDPOINT_URL": None, "AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None, "AWS_PROFILE": None,
    }


DAG_RUNS = [
    # label, dag id, logical date, conf, expected state
    ("dag google plain", "sna_pii_google", datetime(2026, 11, 2, tzinfo=UTC), None, "success"),
    ("dag google sha256", "sna_pii_google", datetime(2026, 11, 3, tzinfo=UTC), {"hashing": "sha256"}, "success"),
    ("dag meta plain", "sna_pii_meta", datetime(2026, 11, 2, tzinfo=UTC), None, "success"),
    ("dag meta sha256", "sna_pii_meta", datetime(2026, 11, 3, tzinfo=UTC), {"hashing": "sha256"}, "success"),
    ("dag google dry run", "sna_pii_google", datetime(2026, 11, 4, tzinfo=UTC), {"dry_run": True}, "success"),
    ("dag google delivery", "sna_pii_deliver_google", datetime(2026, 11, 2, tzinfo=UTC), None, "success"),
    ("dag meta delivery", "sna_pii_deliver_meta", datetime(2026, 11, 2, tzinfo=UTC), None, "success"),
]


def platform_env(google_fake: Any, meta_fake: Any, meta_token: str) -> dict[str, str]:
    """The platforms as Airflow connections (the token a secret of the scan) and the fakes' endpoints."""
    import json

    return {
        "AIRFLOW_CONN_SNA_GOOGLE": json.dumps({"conn_type": "google_cloud_platform", "extra": {"anonymous": True}}),
        "AIRFLOW_CONN_SNA_META": json.dumps({"conn_type": "generic", "password": meta_token}),
        "SNA_GOOGLE_DATAMANAGER_URL": google_fake.endpoint,
        "SNA_GOOGLE_POLL_SECONDS": "0.01",
        "SNA_META_GRAPH_URL": meta_fake.url,
    }


def _cli(label: str, runs: ObservedRuns, args: list[str], env: Mapping[str, str]) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "sna", *args], cwd=PROJECT, env=dict(env), capture_output=True, text=True,
        timeout=180, check=False,
    )
    runs.commands[label] = Command(args, completed.returncode, completed.stdout, completed.stderr)
    runs.texts[f"cli {label}: stdout"] = completed.stdout
    runs.texts[f"cli {label}: stderr"] = completed.stderr


def run_cli(runs: ObservedRuns, s3_server: Any) -> None:
    """The command line on the same shop: preview and run, with and without --json, and errors."""
    bad_password = runs.secrets["wrong MariaDB password"]
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_CONN_", "SNA_", "AWS_"))}
    base.update(
        PYTHONPATH=f"{PROJECT / 'plugins'}:{PROJECT}",
        SNA_SOURCE_URL=runs.shop.url,
        SNA_STORAGE_URL=f"s3://{runs.bucket}/cli",
        SNA_REGISTRY_URL=runs.registry_url,
        AWS_ENDPOINT_URL=s3_server.endpoint_url,
        AWS_ACCESS_KEY_ID=s3_server.access_key,
        AWS_SECRET_ACCESS_KEY=s3_server.secret_key,
        AWS_DEFAULT_REGION=s3_server.region,
    )
    a = runs.audiences
    google, meta, meta_sha = str(a / "pii_google.yaml"), str(a / "pii_meta.yaml"), str(a / "pii_meta_sha.yaml")
    day = ["--reference-date", "2026-11-10"]
    _cli("preview google", runs, ["preview", google, *day], base)
    _cli("preview meta --json", runs, ["preview", meta, *day, "--json"], base)
    _cli("run google", runs, ["run", google, *day], base)
    _cli("run meta sha256 --json", runs, ["run", meta_sha, *day, "--json"], base)
    _cli("run google --dry-run --json", runs, ["run", google, "--reference-date", "2026-11-11", "--dry-run",
                                               "--json"], base)
    _cli("exports list --json", runs, ["exports", "list", "--json"], base)
    _cli("error: unknown group", runs, ["preview", str(a.parent / "unknown_group.yaml"), *day], base)
    down = dict(base, AWS_ENDPOINT_URL=f"http://127.0.0.1:{free_port()}", AWS_MAX_ATTEMPTS="1")
    _cli("error: S3 stopped", runs, ["run", google, "--reference-date", "2026-11-12"], down)
    wrong = dict(base, SNA_SOURCE_URL=runs.shop.url.replace(runs.shop.password, bad_password))
    _cli("error: wrong database password", runs, ["preview", google, *day], wrong)
    registry_down = dict(base, SNA_REGISTRY_URL=runs.registry_url.replace(":5432/", f":{free_port()}/"))
    _cli("error: registry unreachable", runs, ["run", google, *day], registry_down)
    platforms = {key: value for key, value in runs.platform_env.items() if key.startswith("SNA_")}
    delivering = dict(base, **platforms, SNA_GOOGLE_CREDENTIALS="anonymous",
                      SNA_META_ACCESS_TOKEN=runs.secrets["Meta access token"])
    deliver_meta = str(a / "pii_deliver_meta.yaml")
    _cli("run meta delivery --json", runs, ["run", deliver_meta, *day, "--json"], delivering)
    _cli("run google delivery --dry-run --json", runs,
         ["run", str(a / "pii_deliver_google.yaml"), *day, "--dry-run", "--json"], delivering)
    runs.meta_fake.fail_next(190, type="OAuthException")  # a first delivery to a new audience: it sends
    _cli("error: expired meta token", runs, ["run", str(a / "pii_deliver_meta_new.yaml"), *day], delivering)


def run_engine_while_s3_dies(runs: ObservedRuns, s3_server: Any) -> None:
    """The engine in process; SeaweedFS is killed when the file is being published (data in flight).
    The exception (with its whole chain) is kept; the server is started again."""
    from sna.audience import load_audience
    from sna.pipeline import ExportJob
    from sna.runtime import Runtime
    from sna.settings import Locations, load_settings
    from sna.storage.s3 import S3Storage

    locations = Locations(runs.shop.url, f"s3://{runs.bucket}/engine", runs.registry_url)
    runtime = Runtime(locations, load_settings(PROJECT), PROJECT)
    client = s3_server.client(connect_timeout=1, max_attempts=1)

    def kill_server(**_: Any) -> None:
        s3_server.stop(kill=True)

    client.meta.events.register("before-call.s3.CopyObject", kill_server)
    client.meta.events.register("before-call.s3.UploadPartCopy", kill_server)
    runtime.__dict__["storage"] = S3Storage(runs.bucket, "engine/", client)
    job = ExportJob(load_audience(runs.audiences / "pii_google.yaml"), date(2026, 11, 13))
    try:
        runtime.pipeline().run(job)
    except BaseException as error:  # noqa: BLE001 - kept for the scan
        runs.exceptions["engine: S3 killed while publishing"] = error
    finally:
        runtime.close()
        s3_server.start()


@contextmanager
def observe(s3_server: Any, boto3_client: Any, folder: Path, capture_manager: Any) -> Iterator[ObservedRuns]:
    """Runs everything once (DAGs, command line, engine) and yields what it left to read."""
    started = time.monotonic()
    s3_server.start()  # a fault test before may have left it stopped
    mariadb_password = f"MariaPw-{secrets.token_hex(8)}"
    registry_password = f"PgPw-{secrets.token_hex(8)}"
    shop = create_marker_shop(mariadb_password)
    bucket = f"sna-sec-{secrets.token_hex(6)}"
    boto3_client.create_bucket(Bucket=bucket)
    audiences = folder / "audiences"
    audiences.mkdir()
    for text in (GOOGLE, META, META_SHA, DELIVER_GOOGLE, DELIVER_META, DELIVER_META_NEW):
        name = text.split("name:", 1)[1].split()[0]
        (audiences / f"{name}.yaml").write_text(text.lstrip(), encoding="utf-8")
    (folder / "unknown_group.yaml").write_text(UNKNOWN_GROUP.lstrip(), encoding="utf-8")
    from tests.fakes.google_datamanager import GoogleDataManagerFake
    from tests.fakes.meta_graph import MetaGraphFake

    meta_token = f"MetaTok-{secrets.token_hex(12)}"
    google_fake, meta_fake = GoogleDataManagerFake().start(), MetaGraphFake(
        token=meta_token, audience_ids=("23850000000000001", "23850000000000002")).start()
    try:
        with postgres_database() as registry_db:
            registry_url = f"postgresql+psycopg2://postgres:{registry_password}@127.0.0.1:5432/{registry_db}"
            runs = ObservedRuns(
                shop=shop, registry_url=registry_url, bucket=bucket, audiences=audiences,
                secrets={
                    "MariaDB password": mariadb_password,
                    "PostgreSQL password": registry_password,
                    "S3 secret key": s3_server.secret_key,
                    "wrong MariaDB password": f"WrongPw-{secrets.token_hex(8)}",
                    "Meta access token": meta_token,
                },
                platform_env=platform_env(google_fake, meta_fake, meta_token), meta_fake=meta_fake,
            )
            env = {**connection_env(shop, registry_db, registry_password, s3_server, bucket, audiences),
                   **runs.platform_env, "AIRFLOW__CORE__PARALLELISM": "2"}
            output = OutputCapture(capture_manager, folder)
            with output.capturing(), patched_environ(env):
                api_log = Path(os.environ["AIRFLOW_HOME"]) / "sna-security-api-server.log"
                with execution_api_server(api_log) as api_url, \
                        patched_environ({"AIRFLOW__CORE__EXECUTION_API_SERVER_URL": api_url}):
                    for label, dag_id, logical_date, conf, _expected in DAG_RUNS:
                        dag_run, values = run_with_executor(dag_id, logical_date, conf)
                        runs.states[label] = str(dag_run.state)
                        runs.task_states[label] = task_states(dag_run)
                        runs.texts[f"{label}: XCom return values"] = repr(values)
                    stopped = connection_env(shop, registry_db, registry_password, s3_server, bucket, audiences,
                                             s3_endpoint=f"http://127.0.0.1:{free_port()}")
                    with patched_environ(stopped):
                        dag_run, _ = run_with_executor("sna_pii_google", datetime(2026, 11, 5, tzinfo=UTC),
                                                       retries=0)
                        runs.states["dag google, S3 stopped"] = str(dag_run.state)
                        runs.task_states["dag google, S3 stopped"] = task_states(dag_run)
                run_cli(runs, s3_server)
                run_engine_while_s3_dies(runs, s3_server)
            runs.texts["test process stdout+stderr"] = output.text
            for label, error in runs.exceptions.items():
                runs.texts[f"exception {label}"] = "".join(traceback.format_exception(error))
            runs.texts.update(airflow_home_files())
            runs.texts["Airflow metadata DB dump"] = metadata_db_dump()
            for page in boto3_client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                for item in page.get("Contents", []):
                    runs.exported[item["Key"]] = boto3_client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            runs.delivered = {"google": len(google_fake.members("1234567890", "4455667788")),
                              "meta": len(meta_fake.members())}
            runs.seconds = time.monotonic() - started
            yield runs
    finally:
        google_fake.stop()
        meta_fake.stop()
        _remove_bucket(boto3_client, bucket)
        drop_marker_shop(shop)


def _remove_bucket(client: Any, bucket: str) -> None:
    try:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for item in page.get("Contents", []):
                client.delete_object(Bucket=bucket, Key=item["Key"])
        client.delete_bucket(Bucket=bucket)
    except Exception:  # noqa: BLE001, S110 - cleanup must not hide the test's outcome
        pass
