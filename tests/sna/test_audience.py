"""Audience files: the YAML contract, every error located by file and key."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from sna.audience import Audience, check_audience_file, load_audience, load_audiences
from sna.errors import AudienceFileError

FULL = """
name: vip_google
description: VIP customers for a Google Ads campaign
platform: google
hashing: sha256
require_complete: false
schedule: "30 5 * * 1"
source:
  table_prefix: shop_
  shop_ids: [1, 2]
  id_lang: 2
filters:
  default_groups: [4, VIP]
  groups_any: [5]
  exclude_email_domains: [Marketplace.Amazon.fr, "marketplace.amazon.*"]
  consent: newsletter_or_optin
  countries: [fr, BE]
  min_valid_orders: 1
  min_total_spent: 100.0
  ordered_within_days: 365
  include_guests: false
suppression_list: config/suppressions/vip.txt
retention_days: 30
"""


def write(tmp_path: Path, text: str, name: str = "audience.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_every_key_is_read(tmp_path):
    audience = load_audience(write(tmp_path, FULL))
    assert audience.name == "vip_google" and audience.dag_id == "sna_vip_google"
    assert audience.hashing == "sha256" and audience.require_complete is False
    assert audience.schedule == "30 5 * * 1"
    assert audience.source.table_prefix == "shop_" and audience.source.shop_ids == [1, 2]
    assert audience.filters.default_groups == [4, "VIP"]
    assert audience.filters.exclude_email_domains == ["marketplace.amazon.fr", "marketplace.amazon.*"]
    assert audience.filters.countries == ["FR", "BE"]
    assert audience.filters.include_guests is False
    assert audience.suppression_list == Path("config/suppressions/vip.txt")
    assert audience.retention_days == 30


def test_defaults(tmp_path):
    audience = load_audience(write(tmp_path, "name: a1\nplatform: meta\n"))
    assert (audience.hashing, audience.require_complete, audience.schedule) == ("none", True, "@daily")
    assert audience.source.table_prefix == "ps_" and audience.source.shop_ids is None
    assert audience.filters.applied() == {}
    assert audience.value == "none" and audience.retention_days == 90


def test_null_schedule_means_manual_only(tmp_path):
    assert load_audience(write(tmp_path, "name: a1\nplatform: meta\nschedule: null\n")).schedule is None


@pytest.mark.parametrize(
    ("text", "key", "reason"),
    [
        ("name: A-B\nplatform: google\n", "name", "pattern"),
        ("name: a\nplatform: tiktok\n", "platform", "'google' or 'meta'"),
        ("name: a\n", "platform", "required key is missing"),
        ("platform: google\n", "name", "required key is missing"),
        ("name: a\nplatform: google\ncolour: red\n", "colour", "unknown key; allowed: name,"),
        ("name: a\nplatform: google\nhashing: md5\n", "hashing", "'none' or 'sha256'"),
        ("name: a\nplatform: google\nschedule: '61 * * * *'\n", "schedule", "cron"),
        ("name: a\nplatform: google\nschedule: '@sometimes'\n", "schedule", "cron"),
        ("name: a\nplatform: google\nsource: {table_prefix: 'ps_; DROP TABLE x'}\n", "source.table_prefix", "pattern"),
        ("name: a\nplatform: google\nsource: {shop_ids: [0]}\n", "source.shop_ids[0]", "greater than or equal to 1"),
        ("name: a\nplatform: google\nsource: {shops: [1]}\n", "source.shops", "allowed: connection, table_prefix, shop_ids, id_lang"),
        ("name: a\nplatform: google\nfilters: {consent: maybe}\n", "filters.consent", "'newsletter'"),
        ("name: a\nplatform: google\nfilters: {countries: [FRA]}\n", "filters.countries", "alpha-2"),
        ("name: a\nplatform: google\nfilters: {exclude_email_domains: ['a b']}\n", "filters.exclude_email_domains",
         "not a domain pattern"),
        ("name: a\nplatform: google\nfilters: {min_valid_orders: -1}\n", "filters.min_valid_orders", ">= 0"),
        ("name: a\nplatform: google\nfilters: {min_total_spent: lots}\n", "filters.min_total_spent", "number"),
        ("name: a\nplatform: google\nfilters: {include_guests: perhaps}\n", "filters.include_guests", "boolean"),
        ("name: a\nplatform: google\nvalue: total_spent\n", "", "only available for platform meta"),
        ("name: a\nplatform: google\nsuppression_list: ../../etc/passwd\n", "suppression_list", "'..'"),
        ("name: a\nplatform: google\nretention_days: 0\n", "retention_days", "greater than or equal to 1"),
        ("name: housekeeping\nplatform: google\n", "name", "reserved by SNA"),
        ("name: adhoc_export\nplatform: google\n", "name", "reserved by SNA"),
        ("name: _staging\nplatform: google\n", "name", "must not start with '_'"),
        ("name: a\nplatform: google\nsource: {shop_ids: [99999999999999999999]}\n", "source.shop_ids[0]",
         "less than or equal to 4294967295"),
        ("name: a\nplatform: google\nsource: {id_lang: 99999999999999999999}\n", "source.id_lang",
         "less than or equal to 4294967295"),
        ("name: a\nplatform: google\nfilters: {min_valid_orders: 99999999999999999999}\n",
         "filters.min_valid_orders", "less than or equal to"),
    ],
)
def test_errors_name_the_key_and_what_is_allowed(tmp_path, text, key, reason):
    path = write(tmp_path, text)
    audience, errors = check_audience_file(path)
    assert audience is None
    matching = [e for e in errors if e.key == key]
    assert matching, [str(e) for e in errors]
    assert reason.replace(">= 0", "greater than or equal to 0") in matching[0].reason
    assert str(matching[0]).startswith(f"{path}: ")
    assert "\n" not in str(matching[0])


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty file"),
        (b"name: [a\n", "YAML syntax error at line"),
        (b"- a\n- b\n", "expected a mapping"),
        (b"\xff\xfename: a\n", "not UTF-8"),
        (b"just text", "expected a mapping"),
    ],
)
def test_unreadable_files(tmp_path, content, reason):
    path = tmp_path / "broken.yaml"
    path.write_bytes(content)
    with pytest.raises(AudienceFileError) as caught:
        load_audience(path)
    assert reason in str(caught.value) and str(path) in str(caught.value)


def test_all_errors_of_a_file_are_reported_at_once(tmp_path):
    path = write(tmp_path, "name: a\nplatform: google\nhashing: md5\ncolour: red\nfilters: {consent: maybe}\n")
    _, errors = check_audience_file(path)
    assert {e.key for e in errors} == {"hashing", "colour", "filters.consent"}
    with pytest.raises(AudienceFileError, match=r"and 2 more errors"):
        load_audience(path)


def test_folder_keeps_valid_audiences_and_reports_the_rest(tmp_path):
    write(tmp_path, "name: good_one\nplatform: google\n", "good.yaml")
    write(tmp_path, "name: [\n", "broken.yaml")
    write(tmp_path, "name: twin\nplatform: google\n", "twin1.yaml")
    write(tmp_path, "name: twin\nplatform: meta\n", "twin2.yml")
    write(tmp_path, "not an audience", "notes.txt")
    valid, errors = load_audiences([tmp_path])
    assert [a.name for a in valid] == ["good_one"]
    assert sorted(Path(e.file).name for e in errors) == ["broken.yaml", "twin1.yaml", "twin2.yml"]
    assert all(e.key == "name" for e in errors if "twin" in e.file)


def test_model_is_frozen():
    audience = Audience(name="a", platform="google")
    with pytest.raises(ValidationError):
        audience.name = "b"  # type: ignore[misc]


def test_audience_files_are_parsed_by_libyaml_with_the_unique_key_check() -> None:
    """The DAG file reads every audience file at each parse: libyaml's parser is ten times faster
    than PyYAML's Python one (PyYAML's wheels ship it), and duplicate keys are still refused."""
    import yaml

    from sna.audience import DuplicateKeyError, _UniqueKeyLoader

    assert yaml.__with_libyaml__ and issubclass(_UniqueKeyLoader, yaml.CSafeLoader)
    assert yaml.load("a: 1\nb: {c: 2}\n", Loader=_UniqueKeyLoader) == {"a": 1, "b": {"c": 2}}
    with pytest.raises(DuplicateKeyError):
        yaml.load("a: 1\nb: {c: 2, c: 3}\n", Loader=_UniqueKeyLoader)
