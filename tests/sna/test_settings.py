"""Settings and the project folder: flags > SNA_* > config/sna.yaml > defaults, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from sna.errors import ConfigError
from sna.settings import (
    ENV_VARIABLES,
    Settings,
    embedded_locations,
    find_project_root,
    load_settings,
    project_path,
    project_root,
    resolve_locations,
)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for variable in (*ENV_VARIABLES.values(), "SNA_HOME"):
        monkeypatch.delenv(variable, raising=False)
    (tmp_path / "config").mkdir()
    return tmp_path


def _write(project: Path, text: str) -> None:
    (project / "config" / "sna.yaml").write_text(text, encoding="utf-8")


def test_every_key_has_its_variable() -> None:
    assert ENV_VARIABLES["chunk_size"] == "SNA_CHUNK_SIZE"
    assert set(ENV_VARIABLES) == set(Settings.model_fields)


def test_environment_over_file_over_defaults(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings(project) == Settings()
    _write(project, "chunk_size: 2000\ns3_prefix: from-file\n")
    settings = load_settings(project)
    assert (settings.chunk_size, settings.s3_prefix, settings.s3_bucket) == (2000, "from-file", "sna-exports")
    monkeypatch.setenv("SNA_CHUNK_SIZE", "3000")
    monkeypatch.setenv("SNA_S3_PREFIX", "")  # empty: not set
    monkeypatch.setenv("SNA_GOOGLE_POLL_SECONDS", "0.5")
    monkeypatch.setenv("SNA_GOOGLE_CREDENTIALS", "/not/a/setting.json")  # other SNA_* variables are ignored
    settings = load_settings(project)
    assert (settings.chunk_size, settings.s3_prefix, settings.google_poll_seconds) == (3000, "from-file", 0.5)
    assert Settings(chunk_size=4000).chunk_size == 4000  # explicit values win over the environment


def test_flags_over_settings_over_embedded_defaults(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    default = embedded_locations(project)
    assert resolve_locations(root=project) == default
    _write(project, "registry_url: sqlite:////srv/file.db\n")
    monkeypatch.setenv("SNA_STORAGE_URL", "file:///srv/env")
    locations = resolve_locations(source_url="sqlite:////srv/flag.db", root=project)
    assert locations.source_url.render_as_string() == "sqlite:////srv/flag.db"
    assert locations.storage_url == "file:///srv/env"
    assert locations.registry_url.render_as_string() == "sqlite:////srv/file.db"


@pytest.mark.parametrize(("text", "variable", "needle"), [
    ("chunk_size: 5\n", None, "chunk_size (or SNA_CHUNK_SIZE)"),
    ("", ("SNA_CHUNK_SIZE", "many"), "chunk_size (or SNA_CHUNK_SIZE)"),
    ("", ("SNA_META_API_VERSION", "latest"), "meta_api_version (or SNA_META_API_VERSION)"),
    ("s3_bucket: X\n", None, "s3_bucket (or SNA_S3_BUCKET)"),
    ("unknown_key: 1\n", None, "unknown_key (or SNA_*)"),
    ("- a list\n", None, "expected a mapping of settings"),
    ("chunk_size: [\n", None, "not valid YAML"),
])
def test_a_bad_setting_is_one_line_naming_the_file_key_and_variable(
        project: Path, monkeypatch: pytest.MonkeyPatch, text: str, variable: tuple[str, str] | None,
        needle: str) -> None:
    _write(project, text)
    if variable:
        monkeypatch.setenv(*variable)
    with pytest.raises(ConfigError) as caught:
        load_settings(project)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(str(project / "config" / "sna.yaml"))
    assert needle in message


def test_the_project_folder(project: Path, tmp_path_factory: pytest.TempPathFactory,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    assert find_project_root({"SNA_HOME": str(elsewhere)}, cwd=project) == elsewhere.resolve()
    assert find_project_root({}, cwd=project) == project.resolve()
    # From a folder without config/: the checkout this package runs from, if it is one.
    checkout = Path(__file__).resolve().parents[2]
    assert find_project_root({}, cwd=elsewhere) == checkout
    monkeypatch.setattr("sna.settings._checkout_root", lambda: None)  # as an installed package
    assert find_project_root({}, cwd=elsewhere) is None
    monkeypatch.chdir(elsewhere)
    with pytest.raises(ConfigError, match="no project folder: set SNA_HOME"):
        project_root({})


def test_without_a_project_folder_only_the_embedded_defaults_need_one(
        project: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sna.settings._checkout_root", lambda: None)
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))
    assert load_settings() == Settings()  # the environment and the defaults only
    given = dict(source_url="sqlite:////a.db", storage_url="file:///b", registry_url="sqlite:////c.db")
    assert resolve_locations(**given).storage_url == "file:///b"
    with pytest.raises(ConfigError) as caught:
        resolve_locations(source_url="sqlite:////a.db", registry_url="sqlite:////c.db")
    assert str(caught.value) == (
        "the embedded default storage location needs a project folder: set SNA_HOME to the folder that holds "
        "config/, or run sna from that folder, or give --storage-url (or SNA_STORAGE_URL)")
    monkeypatch.setenv("SNA_CHUNK_SIZE", "1")
    with pytest.raises(ConfigError, match=r"^settings: chunk_size \(or SNA_CHUNK_SIZE\)"):
        load_settings()


def test_relative_paths_are_read_from_the_project_folder(tmp_path: Path) -> None:
    assert project_path(tmp_path, "config/audiences", "audiences_dir") == tmp_path / "config" / "audiences"
    assert project_path(None, "/srv/audiences", "audiences_dir") == Path("/srv/audiences")
    with pytest.raises(ConfigError, match=r"^suppression_list lists/a\.txt is relative and there is no project "
                                          r"folder: set SNA_HOME"):
        project_path(None, "lists/a.txt", "suppression_list")
