"""Parsing the DAG package: ids, schedules, params, tags, retries, docs, broken files, cheap parsing."""

from __future__ import annotations

import copy
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from tests.airflow.conftest import GOOGLE_AUDIENCE, META_AUDIENCE, PROJECT, parse_dags, write_audience

EXAMPLE_DAGS = {"sna_vip_google", "sna_newsletter_meta", "sna_recent_buyers_google"}


@pytest.fixture
def examples(sna_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SNA_AUDIENCES_DIR", str(PROJECT / "config" / "audiences"))


def test_the_example_audiences_give_one_dag_each_without_import_error(examples) -> None:
    bag = parse_dags()

    assert bag.import_errors == {}
    assert set(bag.dag_ids) == EXAMPLE_DAGS | {"sna_adhoc_export", "sna_housekeeping"}
    assert bag.dags["sna_recent_buyers_google"].schedule == "0 5 * * *"
    assert bag.dags["sna_vip_google"].schedule == "@daily"
    assert bag.dags["sna_adhoc_export"].schedule is None
    assert bag.dags["sna_housekeeping"].schedule == "@daily"


def test_an_audience_dag_has_tags_limits_params_retries_and_docs(examples) -> None:
    dag = parse_dags().dags["sna_vip_google"]

    assert dag.tags == {"sna", "google"}
    assert dag.max_active_runs == 1 and dag.catchup is False
    assert [t.task_id for t in dag.topological_sort()] == ["plan", "partition", "join", "publish", "record"]
    assert set(dag.params) == {"dry_run", "hashing", "require_complete"}
    assert dag.params["hashing"] == "none" and dag.params["require_complete"] is True
    assert dag.params.get_param("hashing").schema["enum"] == ["none", "sha256", None]
    record = dag.get_task("record")
    assert [asset.uri for asset in record.outlets] == ["sna://audiences/vip_google"]
    assert record.retries == 4 and record.retry_exponential_backoff == 2.0
    assert record.retry_delay == timedelta(minutes=1) and record.max_retry_delay == timedelta(minutes=30)
    assert record.retry_policy is not None
    for expected in ("Google Ads", "default_groups", "VIP", "marketplace.amazon.*", "required fields",
                     "first_name", "zip"):
        assert expected in dag.doc_md


def test_the_partition_tasks_are_bounded_by_the_settings(sna_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_audience(sna_env, GOOGLE_AUDIENCE)
    partition = parse_dags().dags["sna_vip_test"].get_task("partition")
    assert partition.max_active_tis_per_dagrun == 4 and partition.pool == "default_pool", "the defaults"

    monkeypatch.setenv("SNA_PARTITION_TASKS", "2")
    monkeypatch.setenv("SNA_PARTITION_POOL", "sna_partitions")
    partition = parse_dags().dags["sna_vip_test"].get_task("partition")
    assert (partition.max_active_tis_per_dagrun, partition.pool) == (2, "sna_partitions"), "seen by the next parse"


def test_yaml_values_become_param_defaults_and_tags(sna_env: Path) -> None:
    write_audience(sna_env, META_AUDIENCE.replace("platform: meta", "platform: meta\nhashing: sha256\n"
                                                  "require_complete: false\nschedule: null"))
    dag = parse_dags().dags["sna_newsletter_test"]

    assert dag.tags == {"sna", "meta"}
    assert dag.params["hashing"] == "sha256" and dag.params["require_complete"] is False
    assert dag.schedule is None
    assert "`value`" in dag.doc_md


def test_trigger_params_are_validated_by_their_schema(examples) -> None:
    from airflow.sdk.exceptions import ParamValidationError

    dag = parse_dags().dags["sna_vip_google"]
    good = copy.deepcopy(dag.params)
    good.update({"hashing": "sha256", "dry_run": True})
    assert good.validate() == {"dry_run": True, "hashing": "sha256", "require_complete": True}
    for bad_conf in ({"hashing": "md5"}, {"dry_run": "yes"}, {"require_complete": 1}):
        with pytest.raises(ParamValidationError):
            copy.deepcopy(dag.params).update(bad_conf)


def test_airflow_checks_each_distinct_trigger_form_once_per_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    """Airflow's check of a scheduled DAG's form costs about 2 ms; thousands of audiences share a few forms."""
    from airflow.sdk import Param

    from sna.audience import Audience
    from sna_airflow import audience_dag as module

    resolved: list[str] = []
    resolve = Param.resolve

    def counting(self: Param, *args: object, **kwargs: object) -> object:
        resolved.append(self.schema.get("title"))
        return resolve(self, *args, **kwargs)

    monkeypatch.setattr(Param, "resolve", counting)
    module._form.cache_clear()
    dags = [module.audience_dag(Audience(name=f"form_{i}", platform="google", hashing=("none", "sha256")[i % 2]))
            for i in range(6)]

    assert len(resolved) == 2 * 3, "two distinct forms of three params, each checked once"
    assert [dag.params["hashing"] for dag in dags] == ["none", "sha256"] * 3
    assert dags[1].params.get_param("hashing").schema["values_display"]["null"] == "as in the audience file (sha256)"


def test_the_tasks_share_the_trigger_forms_read_only_schemas(examples) -> None:
    """Airflow deep-copies the form into every task, four times a task: the schemas are not copied."""
    import pickle

    dag = parse_dags().dags["sna_vip_google"]
    schema = dag.params.get_param("hashing").schema

    assert all(task.params.get_param("hashing").schema is schema for task in dag.tasks)
    assert copy.deepcopy(dag.params).get_param("hashing").schema is schema
    assert dag.get_task("record").params.get_param("hashing") is not dag.params.get_param("hashing")
    with pytest.raises(TypeError, match="read-only"):
        schema["enum"] = ["md5"]
    with pytest.raises(TypeError, match="read-only"):
        schema.update(enum=["md5"])
    assert schema["enum"] == ["none", "sha256", None]
    assert pickle.loads(pickle.dumps(schema)) == dict(schema)


def test_adhoc_form_mirrors_the_module_configuration_page(examples) -> None:
    dag = parse_dags().dags["sna_adhoc_export"]

    assert dag.params.get_param("platform").schema["enum"] == ["google", "meta"]
    assert dag.params.get_param("default_groups").schema["type"] == ["array", "null"]
    assert dag.params.get_param("exclude_email_domains").schema["type"] == ["array", "null"]
    assert dag.params.get_param("consent").schema["enum"] == ["any", "newsletter", "optin", "newsletter_or_optin",
                                                                None]
    assert dag.params.get_param("countries").schema["type"] == ["array", "null"]
    assert dag.params.get_param("hashing").schema["enum"] == ["none", "sha256", None]
    assert dag.params["exclude_email_domains"] == ["marketplace.amazon.*"] and dag.params["name"] == "adhoc"


def test_a_broken_audience_file_is_an_import_error_of_its_own_and_the_valid_dags_load(sna_env: Path) -> None:
    write_audience(sna_env, GOOGLE_AUDIENCE)
    write_audience(sna_env, META_AUDIENCE)
    write_audience(sna_env, "name: broken_one\nplatform: tiktok\n", "broken_one.yaml")
    write_audience(sna_env, "name: typo\nplatform: google\nfilterz: {}\nhashing: md5\n", "typo.yaml")

    bag = parse_dags()

    assert {"sna_vip_test", "sna_newsletter_test", "sna_adhoc_export", "sna_housekeeping"} == set(bag.dag_ids)
    assert list(bag.import_errors) == ["sna_audience_errors.py"]
    message = bag.import_errors["sna_audience_errors.py"]
    assert "Traceback" not in message and "`" not in message and 'File "' not in message, message
    header, *lines = message.splitlines()
    assert "2 broken audience files" in header and str(sna_env) in header
    assert len(lines) == 2, "one line per broken file"
    assert lines[0].startswith("broken_one.yaml: platform: ") and "google" in lines[0]
    assert lines[1].startswith("typo.yaml: ") and "filterz: unknown key" in lines[1] and "hashing: " in lines[1]


def test_a_task_process_logs_nothing_about_other_broken_files(sna_env: Path, monkeypatch: pytest.MonkeyPatch,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    """Every task parses the DAG file again: the broken files are the import error's business only."""
    import logging
    import warnings

    from sna_airflow.dag_factory import build_dags

    write_audience(sna_env, GOOGLE_AUDIENCE)
    write_audience(sna_env, "name: broken_one\nplatform: tiktok\n", "broken_one.yaml")
    monkeypatch.setenv("_AIRFLOW_PARSING_CONTEXT_DAG_ID", "sna_vip_test")
    with caplog.at_level(logging.DEBUG), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert list(build_dags()) == ["sna_vip_test"]
    assert not [r for r in caplog.records if "broken_one" in r.getMessage() and r.levelno >= logging.INFO]
    assert not [w for w in caught if "broken_one" in str(w.message)]


def test_a_missing_audiences_folder_is_reported_and_the_other_dags_stay(sna_env: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SNA_AUDIENCES_DIR", str(sna_env / "nowhere"))

    bag = parse_dags()

    assert set(bag.dag_ids) == {"sna_adhoc_export", "sna_housekeeping"}
    assert "nowhere: audiences folder does not exist" in bag.import_errors["sna_audience_errors.py"]


def test_each_audience_dag_lives_in_the_dag_file_of_its_names_shard(sna_env: Path) -> None:
    from sna_airflow.config import AUDIENCE_SHARDS, shard_of

    names = [f"shard_test_{i}" for i in range(24)]
    for name in names:
        write_audience(sna_env, GOOGLE_AUDIENCE.replace("vip_test", name))
    expected = {0: "sna_audiences.py", **{k: f"sna_audiences_{k}.py" for k in range(1, AUDIENCE_SHARDS)}}

    bag = parse_dags()

    assert sorted(path.name for path in (PROJECT / "dags").glob("sna_audiences*.py")) == sorted(expected.values())
    assert bag.import_errors == {}
    assert set(bag.dag_ids) == {f"sna_{name}" for name in names} | {"sna_adhoc_export", "sna_housekeeping"}
    for name in names:
        assert Path(bag.dags[f"sna_{name}"].fileloc).name == expected[shard_of(name)]
    assert len({shard_of(name) for name in names}) == AUDIENCE_SHARDS, "24 names fill every shard"
    assert Path(bag.dags["sna_adhoc_export"].fileloc).name == Path(bag.dags["sna_housekeeping"].fileloc).name \
        == "sna_audiences.py"


def test_the_shard_of_a_name_is_the_same_in_every_process() -> None:
    """Python's `hash` of a string changes with each interpreter: a DAG would hop between files."""
    import subprocess

    from sna_airflow.config import shard_of

    code = "from sna_airflow.config import shard_of; print([shard_of(f'n{i}') for i in range(40)])"
    seen = {subprocess.run([sys.executable, "-c", code], env={"PYTHONPATH": str(PROJECT / "plugins"),
                                                             "PYTHONHASHSEED": seed}, capture_output=True,
                           text=True, check=True).stdout.strip() for seed in ("1", "2")}
    assert seen == {str([shard_of(f"n{i}") for i in range(40)])}


def test_two_files_with_one_name_are_reported_and_give_no_dag_in_any_shard(sna_env: Path) -> None:
    write_audience(sna_env, GOOGLE_AUDIENCE, "first.yaml")
    write_audience(sna_env, GOOGLE_AUDIENCE.replace("platform: google", "platform: meta"), "second.yaml")

    bag = parse_dags()

    assert "sna_vip_test" not in bag.dag_ids
    assert "duplicate name 'vip_test'" in bag.import_errors["sna_audience_errors.py"]


def test_a_task_process_builds_only_its_own_dag(examples, monkeypatch: pytest.MonkeyPatch) -> None:
    from sna_airflow.dag_factory import build_dags

    monkeypatch.setenv("_AIRFLOW_PARSING_CONTEXT_DAG_ID", "sna_newsletter_meta")
    assert list(build_dags()) == ["sna_newsletter_meta"]
    monkeypatch.setenv("_AIRFLOW_PARSING_CONTEXT_DAG_ID", "sna_housekeeping")
    assert list(build_dags()) == ["sna_housekeeping"]


def test_a_task_process_finds_its_dag_only_in_its_own_shards_file(examples, monkeypatch: pytest.MonkeyPatch) -> None:
    from sna_airflow.config import AUDIENCE_SHARDS, shard_of
    from sna_airflow.dag_factory import build_dags

    monkeypatch.setenv("_AIRFLOW_PARSING_CONTEXT_DAG_ID", "sna_newsletter_meta")
    found = {shard: list(build_dags(shard=shard)) for shard in range(AUDIENCE_SHARDS)}
    assert found == {shard: ["sna_newsletter_meta"] if shard == shard_of("newsletter_meta") else []
                     for shard in range(AUDIENCE_SHARDS)}
    monkeypatch.setenv("_AIRFLOW_PARSING_CONTEXT_DAG_ID", "sna_adhoc_export")
    assert [list(build_dags(shard=shard)) for shard in range(AUDIENCE_SHARDS)] == \
        [["sna_adhoc_export"]] + [[]] * (AUDIENCE_SHARDS - 1)


def test_parsing_opens_no_database_and_no_network_connection(examples, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_SNA_PRESTASHOP", '{"conn_type": "mysql", "host": "192.0.2.1", "schema": "x"}')
    monkeypatch.setenv("AIRFLOW_CONN_SNA_REGISTRY", '{"conn_type": "postgres", "host": "192.0.2.1"}')
    events: list[tuple[str, tuple]] = []
    watching = [True]

    def audit(event: str, args: tuple) -> None:
        if watching[0] and event in ("socket.connect", "sqlite3.connect", "socket.getaddrinfo"):
            events.append((event, args))

    sys.addaudithook(audit)
    try:
        bag = parse_dags()
    finally:
        watching[0] = False

    assert set(bag.dag_ids) >= EXAMPLE_DAGS
    assert events == []


def test_retry_policy_retries_transient_errors_and_fails_permanent_ones() -> None:
    from airflow.sdk import RetryAction

    from sna.errors import AudienceFileError, DataContractError, RegistryError, SourceError, StorageError
    from sna_airflow.retry import RETRY_POLICY

    for error in (SourceError("db down"), StorageError("s3 down"), RegistryError("registry down")):
        assert RETRY_POLICY.evaluate(error, try_number=1, max_tries=5).action == RetryAction.RETRY
    for error in (AudienceFileError("a.yaml", "platform", "bad"), DataContractError("identity broken")):
        assert RETRY_POLICY.evaluate(error, try_number=1, max_tries=5).action == RetryAction.FAIL
    assert RETRY_POLICY.evaluate(KeyError("bug"), try_number=1, max_tries=5).action == RetryAction.DEFAULT


def test_the_scheduler_knows_every_task_has_a_retry_policy(examples) -> None:
    """The policy object is evaluated by the worker (which parses the DAG file); the serialized DAG
    the scheduler reads carries the flag and the backoff settings."""
    from airflow.serialization.serialized_objects import DagSerialization

    dag = parse_dags().dags["sna_vip_google"]
    restored = DagSerialization.deserialize_dag(DagSerialization.serialize_dag(dag))

    for task in restored.tasks:
        assert task.has_retry_policy is True
        assert task.retry_exponential_backoff == 2.0 and task.retries == 4



DATA_LIBRARIES = ("pandas", "numpy", "pyarrow", "boto3", "botocore", "connectorx", "phonenumbers")
"""Paid by the tasks (in the worker), not by a parse: their import took ~1.5 s of each DAG file's parse."""
AIRFLOWS_OWN = {"boto3", "botocore"}
"""Airflow imports these itself at parse: an Asset with a URI loads every provider's URI handler, and
the Amazon provider's S3 handler imports its S3 hook (boto3). SNA's own modules must not."""

_WATCH = """
import json, runpy, sys, traceback
from pathlib import Path
watched, importers = set(json.loads(sys.argv[1])), {}
class Watch:
    def find_spec(self, name, path=None, target=None):
        top = name.split(".")[0]
        if top in watched and top not in importers:
            frames = [f.filename for f in traceback.extract_stack()[:-1] if "importlib" not in f.filename
                      and not any(f"/{lib}/" in f.filename for lib in watched)]
            importers[top] = frames[-1]
        return None
sys.meta_path.insert(0, Watch())
found = {}
for path in sys.argv[2:]:
    found[path] = sorted(k for k in runpy.run_path(path) if k.startswith("sna_"))
leaked = sorted({m.split(".")[0] for m in sys.modules} & watched)
print(json.dumps({"dags": found, "leaked": leaked, "importers": importers}))
"""


def test_parsing_a_dag_file_imports_no_data_library(examples) -> None:
    """Each DAG file in a fresh interpreter, as the DAG processor parses it; the tasks import them."""
    import json
    import os
    import subprocess

    files = sorted(str(path) for path in (PROJECT / "dags").glob("sna_*.py"))
    env = dict(os.environ, PYTHONPATH=f"{PROJECT / 'plugins'}:{PROJECT}")
    result = subprocess.run([sys.executable, "-c", _WATCH, json.dumps(DATA_LIBRARIES), *files], env=env,
                            cwd=PROJECT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])

    assert set().union(*map(set, report["dags"].values())) >= EXAMPLE_DAGS | {"sna_adhoc_export", "sna_housekeeping"}
    assert set(report["leaked"]) <= AIRFLOWS_OWN, report["importers"]
    ours = {lib: by for lib, by in report["importers"].items()  # the project's code, not its .venv
            if by.startswith((str(PROJECT / "plugins"), str(PROJECT / "dags")))}
    assert ours == {}
