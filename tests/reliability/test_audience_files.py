"""Broken audience files, table-driven: each gives one line naming the file and the key (or the
position, when the YAML itself cannot be read), `sna validate` lists them all, and in Airflow the
valid audiences keep their DAGs next to every broken file."""

from __future__ import annotations

from pathlib import Path

import pytest

from sna.audience import MAX_FILE_BYTES, check_audience_file, load_audience, load_audiences
from sna.cli import main
from sna.errors import AudienceFileError

BASE = "name: {name}\nplatform: google\n"
FILE_LEVEL = ""  # the key of errors about the whole file (syntax, encoding, size)

# id -> (file contents, the key named in the error, a fragment of the reason)
CASES: dict[str, tuple[str | bytes, str, str]] = {
    "yaml_unclosed_bracket": ("name: a\nplatform: [google\n", FILE_LEVEL, "YAML syntax error at line"),
    "yaml_unclosed_quote": ('name: "a\nplatform: google\n', FILE_LEVEL, "YAML syntax error at line"),
    "yaml_tab_indent": ("name: a\n\tplatform: google\n", FILE_LEVEL, "line 2"),
    "yaml_bad_indent": ("name: a\n  platform: google\n", FILE_LEVEL, "YAML syntax error at line 2"),
    "yaml_python_tag": ("name: !!python/object/apply:os.system ['true']\nplatform: google\n", FILE_LEVEL,
                        "constructor"),
    "yaml_nested_too_deeply": ("name: a\nplatform: google\ndescription: " + "[" * 5000 + "]" * 5000 + "\n",
                               FILE_LEVEL, "nested too deeply"),
    "yaml_duplicate_key": ("name: a\nplatform: google\nplatform: meta\n", "platform", "duplicate key"),
    "yaml_duplicate_nested_key": ("name: a\nplatform: google\nfilters:\n  consent: any\n  consent: optin\n",
                                  "consent", "duplicate key"),
    "empty_file": ("", FILE_LEVEL, "empty file"),
    "only_comments": ("# an audience, one day\n", FILE_LEVEL, "empty file"),
    "not_utf8": (b"name: caf\xe9\nplatform: google\n", FILE_LEVEL, "not UTF-8"),
    "nul_byte": (b"name: a\x00b\nplatform: google\n", FILE_LEVEL, "U+0000"),
    "top_level_list": ("- name: a\n  platform: google\n", FILE_LEVEL, "expected a mapping"),
    "top_level_text": ("just some text\n", FILE_LEVEL, "expected a mapping"),
    "key_not_text": ("1: one\nname: a\nplatform: google\n", "1", "keys must be text"),
    "missing_name": ("platform: google\n", "name", "required key is missing"),
    "missing_platform": ("name: a\n", "platform", "required key is missing"),
    "unknown_platform": ("name: a\nplatform: tiktok\n", "platform", "must be one of"),
    "platform_wrong_case": ("name: a\nplatform: Google\n", "platform", "must be one of"),
    "unknown_key": ("name: a\nplatform: google\nfilterz: {}\n", "filterz", "unknown key; allowed: name"),
    "unknown_filter_key": ("name: a\nplatform: google\nfilters: {countrys: [FR]}\n", "filters.countrys",
                           "unknown key; allowed: default_groups"),
    "unknown_source_key": ("name: a\nplatform: google\nsource: {prefix: ps_}\n", "source.prefix", "unknown key"),
    "name_parent_path": (BASE.format(name="../etc"), "name", "should match pattern"),
    "name_slash": (BASE.format(name="a/b"), "name", "should match pattern"),
    "name_dot_dot": (BASE.format(name="'..'"), "name", "should match pattern"),
    "name_backslash": (BASE.format(name="'a\\b'"), "name", "should match pattern"),
    "name_with_spaces": (BASE.format(name="My Audience"), "name", "should match pattern"),
    "name_too_long": (BASE.format(name="a" * 65), "name", "should match pattern"),
    "name_not_text": (BASE.format(name="[a, b]"), "name", "valid string"),
    "name_null": (BASE.format(name=""), "name", "valid string"),
    "hashing_yaml_bool": ("name: a\nplatform: google\nhashing: yes\n", "hashing", "must be one of"),
    "require_complete_text": ("name: a\nplatform: google\nrequire_complete: maybe\n", "require_complete",
                              "valid boolean"),
    "cron_out_of_range": ("name: a\nplatform: google\nschedule: '61 * * * *'\n", "schedule", "cron"),
    "cron_three_fields": ("name: a\nplatform: google\nschedule: '* * *'\n", "schedule", "cron"),
    "cron_six_fields": ("name: a\nplatform: google\nschedule: '0 * * * * *'\n", "schedule", "cron"),
    "cron_unknown_preset": ("name: a\nplatform: google\nschedule: '@every 5m'\n", "schedule", "cron"),
    "schedule_number": ("name: a\nplatform: google\nschedule: 5\n", "schedule", "valid string"),
    "shop_id_zero": ("name: a\nplatform: google\nsource: {shop_ids: [0]}\n", "source.shop_ids[0]",
                     "greater than or equal to 1"),
    "table_prefix_sql": ("name: a\nplatform: google\nsource: {table_prefix: 'ps_; DROP TABLE x'}\n",
                         "source.table_prefix", "should match pattern"),
    "country_not_iso": ("name: a\nplatform: google\nfilters: {countries: [FRA]}\n", "filters.countries",
                        "ISO 3166-1"),
    "domain_with_spaces": ("name: a\nplatform: google\nfilters: {exclude_email_domains: ['not a domain']}\n",
                           "filters.exclude_email_domains", "not a domain pattern"),
    "consent_unknown": ("name: a\nplatform: google\nfilters: {consent: always}\n", "filters.consent",
                        "must be one of"),
    "groups_empty_list": ("name: a\nplatform: google\nfilters: {default_groups: []}\n", "filters.default_groups",
                          "at least 1 item"),
    "spent_negative": ("name: a\nplatform: google\nfilters: {min_total_spent: -1}\n", "filters.min_total_spent",
                       "greater than or equal to 0"),
    "spent_infinite": ("name: a\nplatform: google\nfilters: {min_total_spent: .inf}\n",
                       "filters.min_total_spent", "finite number"),
    "days_zero": ("name: a\nplatform: google\nfilters: {ordered_within_days: 0}\n",
                  "filters.ordered_within_days", "greater than or equal to 1"),
    "retention_text": ("name: a\nplatform: google\nretention_days: ninety\n", "retention_days", "valid integer"),
    "value_on_google": ("name: a\nplatform: google\nvalue: total_spent\n", FILE_LEVEL,
                        "value: total_spent is only available for platform meta"),
    "suppression_parent_path": ("name: a\nplatform: google\nsuppression_list: ../../etc/passwd\n",
                                "suppression_list", "without '..'"),
    "description_too_long": ("name: a\nplatform: google\ndescription: " + "x" * 2001 + "\n", "description",
                             "at most 2000 characters"),
    "huge_list": ("name: a\nplatform: google\nfilters:\n  exclude_email_domains:\n"
                  + "".join(f"    - shop{i}.example.com\n" for i in range(20_000)),
                  "filters.exclude_email_domains", "at most 10000 items"),
    "huge_file": ("name: a\nplatform: google\ndescription: >\n" + "  lorem ipsum dolor sit amet\n" * 40_000,
                  FILE_LEVEL, f"larger than {MAX_FILE_BYTES} bytes"),
    "alias_bomb": (("a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                   "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                   "name: a\nplatform: google\n"), "a", "unknown key"),
}

VALID = {
    "vip_ok.yaml": "name: vip_ok\nplatform: google\nfilters: {default_groups: [VIP]}\n",
    "news_ok.yaml": "name: news_ok\nplatform: meta\nfilters: {consent: newsletter}\nvalue: total_spent\n",
}
DUPLICATES = {"dup_one.yaml": BASE.format(name="same_name"), "dup_two.yaml": BASE.format(name="same_name")}


def write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def assert_one_line_naming(error: AudienceFileError, path: Path, key: str, fragment: str) -> None:
    text = str(error)
    assert "\n" not in text and "\r" not in text, text
    assert text.startswith(f"{path}: "), text
    assert error.file == str(path)
    if key:
        assert error.key == key and text.startswith(f"{path}: {key}: "), text
    assert fragment in error.reason, text
    assert len(text) < 400, "one readable line"


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_broken_audience_file_gives_one_line_naming_the_file_and_key(case: str, tmp_path: Path) -> None:
    content, key, fragment = CASES[case]
    path = write(tmp_path, f"{case}.yaml", content)

    audience, errors = check_audience_file(path)

    assert audience is None and errors
    assert_one_line_naming(errors[0], path, key, fragment)
    for error in errors:
        assert "\n" not in str(error) and str(error).startswith(f"{path}: ")
    with pytest.raises(AudienceFileError) as raised:
        load_audience(path)
    assert "\n" not in str(raised.value) and str(raised.value).startswith(f"{path}: ")


def test_a_name_used_by_two_files_is_an_error_for_both(tmp_path: Path) -> None:
    paths = [write(tmp_path, name, content) for name, content in DUPLICATES.items()]

    audiences, errors = load_audiences([tmp_path])

    assert audiences == []
    assert sorted(error.file for error in errors) == sorted(map(str, paths))
    for error, path in zip(sorted(errors, key=lambda e: e.file), sorted(paths), strict=True):
        assert_one_line_naming(error, path, "name", "duplicate name 'same_name'")


def broken_folder(folder: Path) -> tuple[list[Path], int]:
    """Every broken case, the duplicate pair and the valid audiences in one folder."""
    broken = [write(folder, f"{case}.yaml", content) for case, (content, _, _) in CASES.items()]
    broken += [write(folder, name, content) for name, content in DUPLICATES.items()]
    for name, content in VALID.items():
        write(folder, name, content)
    return broken, len(broken)


def test_sna_validate_lists_every_broken_file_and_counts_the_valid_ones(tmp_path: Path, capsys, guarantees) -> None:
    broken, count = broken_folder(tmp_path)

    status = main(["validate", str(tmp_path)])

    out, err = capsys.readouterr()
    assert status == 1
    assert out.strip().startswith(f"{len(VALID)} valid audience(s)")
    lines = err.strip().splitlines()
    named = {line.split(": ", 1)[0] for line in lines}
    assert named == {str(path) for path in broken}, "every broken file is named, and only those"
    guarantees.add("audience_files", broken_cases=count, valid_files_kept=len(VALID))


def test_in_airflow_the_valid_audiences_keep_their_dags_next_to_every_broken_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, guarantees) -> None:
    from tests.airflow.conftest import parse_dags

    broken, _count = broken_folder(tmp_path)
    monkeypatch.setenv("SNA_AUDIENCES_DIR", str(tmp_path))

    bag = parse_dags()

    assert set(bag.dag_ids) == {"sna_vip_ok", "sna_news_ok", "sna_adhoc_export", "sna_housekeeping"}
    assert list(bag.import_errors) == ["sna_audience_errors.py"]
    message = bag.import_errors["sna_audience_errors.py"]
    lines = message.splitlines()[1:]
    assert len(lines) == len(broken), "one line per broken file"
    for path in broken:
        assert any(line.startswith(f"{path.relative_to(tmp_path)}: ") for line in lines), path.name
    guarantees.add("audience_files", airflow_parses_with_all_broken=1)
