"""The package installs: a wheel of this checkout, in a fresh virtualenv, runs `sna` from elsewhere.

The wheel is built from a copy of `pyproject.toml` and `plugins/` (nothing is written into the
checkout) and installed with `--no-deps`; the fresh virtualenv then reuses the installed
dependencies of the interpreter running the tests through a `.pth` file (so nothing is downloaded
but, when this interpreter has no wheel-capable setuptools, the build backend pip fetches for its
isolated build). Every command runs outside the repository, with no PYTHONPATH and no SNA_*
variable, so only what the wheel holds can be imported: the engine, the demo shop, the registry
migrations and the DDL files.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]


def test_the_pinned_set_satisfies_the_declared_ranges() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pins = {}
    for line in (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines():
        if "==" in line and not line.lstrip().startswith("#"):
            name, version = line.split("#")[0].strip().split("==")
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    declared = [*project["dependencies"], *(r for extra in project["optional-dependencies"].values() for r in extra)]
    for text in declared:
        requirement = Requirement(text)
        name = re.sub(r"[-_.]+", "-", requirement.name).lower()
        assert name in pins, f"{requirement.name} is declared in pyproject.toml but not pinned in requirements.txt"
        assert requirement.specifier.contains(pins[name]), f"{name}=={pins[name]} is outside {requirement.specifier}"


def _run(args: list[str | Path], *, cwd: Path, env: dict[str, str] | None = None,
         check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    if check:
        assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
    return result


def _has_wheel_backend() -> bool:
    """Whether this interpreter can build the wheel itself (setuptools >= 70.1 has bdist_wheel)."""
    try:
        import setuptools
    except ImportError:
        return False
    major, minor = (int(part) for part in setuptools.__version__.split(".")[:2])
    return (major, minor) >= (70, 1)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The `bin/` folder of a fresh virtualenv holding the wheel of this checkout."""
    work = tmp_path_factory.mktemp("install")
    source = work / "source"
    source.mkdir()
    shutil.copy2(ROOT / "pyproject.toml", source / "pyproject.toml")
    shutil.copytree(ROOT / "plugins", source / "plugins",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
    isolation = ["--no-build-isolation"] if _has_wheel_backend() else []
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", *isolation, "-w", work / "dist", source],
         cwd=work)
    wheels = list((work / "dist").glob("sna-*.whl"))
    assert len(wheels) == 1, wheels
    names = zipfile.ZipFile(wheels[0]).namelist()
    assert "sna/registry/migrations/versions/0001_exports_and_leases.py" in names
    assert "sna_demo/resources/prestashop_schema.sql" in names
    assert "sna_demo/resources/prestashop_schema.sqlite.sql" in names
    assert not [name for name in names if name.startswith(("sna_airflow/", "sna_ui/", "sna/resources/"))]

    venv = work / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=work)
    python = venv / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", "--quiet",
          wheels[0]], cwd=work)
    # Reuse this interpreter's installed dependencies (after the install, so pip never sees them).
    site = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                     cwd=work).stdout.strip())
    paths = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    (site / "_sna_test_reuse.pth").write_text("\n".join(paths) + "\n", encoding="utf-8")
    return venv / "bin"


@pytest.fixture
def outside(tmp_path: Path) -> dict[str, str]:
    """An environment with nothing of this checkout: no PYTHONPATH, no SNA_* variable."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("SNA_", "PYTHON", "AIRFLOW", "VIRTUAL_ENV"))}
    env["HOME"] = str(tmp_path)
    return env


def test_the_installed_package_imports_from_the_virtualenv(installed: Path, tmp_path: Path, outside) -> None:
    found = _run([installed / "python", "-c",
                  "import json, sna, sna_demo, sna_demo.schema as s; "
                  "print(json.dumps([sna.__file__, sna_demo.__file__, len(s.ddl_statements('sqlite'))]))"],
                 cwd=tmp_path, env=outside)
    sna_file, demo_file, statements = json.loads(found.stdout)
    venv = installed.parent.resolve()
    assert Path(sna_file).resolve().is_relative_to(venv) and Path(demo_file).resolve().is_relative_to(venv)
    assert statements > 10


def test_sna_runs_from_a_copied_project_folder(installed: Path, tmp_path: Path, outside) -> None:
    sna = installed / "sna"
    assert _run([sna, "--help"], cwd=tmp_path, env=outside).stdout.startswith("usage: sna")

    project = tmp_path / "project"
    shutil.copytree(ROOT / "config", project / "config")
    validated = _run([sna, "validate", "config/audiences"], cwd=project, env=outside)
    assert validated.stdout.strip() == "3 valid audience(s), 0 error(s)"

    # The embedded default locations, under the project folder found as the current folder.
    shop = project / "var" / "demo_shop.db"
    shop.parent.mkdir()
    _run([sna, "demo-shop", f"sqlite:///{shop}", "--customers", "300"], cwd=project, env=outside)
    ran = _run([sna, "run", "config/audiences/vip_google.yaml", "--reference-date", "2026-11-01", "--json"],
               cwd=project, env=outside)
    report = json.loads(ran.stdout.strip().splitlines()[-1])
    assert report["scanned"] > 0 and report["file"].startswith((project / "var" / "exports").as_uri())
    assert (project / "var" / "registry.db").is_file()  # created by the packaged migrations

    # From anywhere else, SNA_HOME names the project folder.
    listed = _run([sna, "exports", "list", "--json"], cwd=tmp_path, env={**outside, "SNA_HOME": str(project)})
    assert json.loads(listed.stdout)["count"] == 1


def test_without_a_project_folder_the_error_says_how_to_give_one(installed: Path, tmp_path: Path, outside) -> None:
    sna = installed / "sna"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    audience = elsewhere / "a.yaml"
    audience.write_text("name: a\nplatform: meta\n", encoding="utf-8")
    assert _run([sna, "validate", audience], cwd=elsewhere, env=outside).returncode == 0

    refused = _run([sna, "exports", "list"], cwd=elsewhere, env=outside, check=False)
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr.splitlines() == [
        "sna: error: the embedded default source location needs a project folder: set SNA_HOME to the folder "
        "that holds config/, or run sna from that folder, or give --source-url (or SNA_SOURCE_URL)"]

    given = _run([sna, "exports", "list", "--source-url", f"sqlite:///{elsewhere / 's.db'}",
                  "--storage-url", (elsewhere / "exports").as_uri(),
                  "--registry-url", f"sqlite:///{elsewhere / 'r.db'}"], cwd=elsewhere, env=outside, check=False)
    assert given.returncode == 1 and "project folder" not in given.stderr
    assert given.stderr.startswith("sna: error: registry") and "does not exist" in given.stderr, given.stderr
