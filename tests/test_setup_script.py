"""`make demo` installs the runtime set only; `make test` everything: scripts/setup.sh with fake tools.

The script runs for real on a copy of the project, with `dpkg-query`, `apt-get`, `sudo` and the
virtualenv's `python` replaced by recorders: nothing is installed, every call is checked.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

RECORDER = """#!/usr/bin/env bash
echo "$(basename "$0") $*" >> "$SETUP_CALLS"
if [ "$(basename "$0")" = dpkg-query ]; then echo -n "install ok installed"; fi
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    copy = tmp_path / "project"
    (copy / "scripts").mkdir(parents=True)
    shutil.copy2(ROOT / "scripts" / "setup.sh", copy / "scripts" / "setup.sh")
    for name in ("requirements.txt", "requirements-dev.txt", "pyproject.toml", "Makefile"):
        shutil.copy2(ROOT / name, copy / name)
    tools = tmp_path / "tools"
    tools.mkdir()
    for tool in ("dpkg-query", "apt-get", "sudo"):
        (tools / tool).write_text(RECORDER)
        (tools / tool).chmod(0o755)
    (copy / ".venv" / "bin").mkdir(parents=True)
    (copy / ".venv" / "bin" / "python").write_text(RECORDER)
    (copy / ".venv" / "bin" / "python").chmod(0o755)
    return copy


def run_setup(project: Path, what: str | None) -> subprocess.CompletedProcess:
    """Runs scripts/setup.sh (SNA_SETUP=`what`) with the recorders first on PATH."""
    calls = project.parent / "calls.log"
    calls.write_text("")
    env = {**os.environ, "PATH": f"{project.parent / 'tools'}:{os.environ['PATH']}", "SETUP_CALLS": str(calls)}
    env.pop("SNA_SETUP", None)
    env.pop("SNA_WITH_BROWSER", None)
    if what is not None:
        env["SNA_SETUP"] = what
    return subprocess.run(["bash", "scripts/setup.sh"], cwd=project, env=env, capture_output=True, text=True,
                          timeout=60)


def setup(project: Path, what: str | None) -> list[str]:
    """The calls a successful run of scripts/setup.sh made."""
    result = run_setup(project, what)
    assert result.returncode == 0, result.stderr
    return (project.parent / "calls.log").read_text().splitlines()


def pip_installs(calls: list[str]) -> list[str]:
    return [call for call in calls if call.startswith("python -m pip install") and " -r " in call]


def test_demo_installs_the_runtime_set_without_a_browser_and_test_then_adds_the_dev_set(project: Path) -> None:
    runtime = setup(project, "runtime")
    assert pip_installs(runtime) == ["python -m pip install -q -r requirements.txt"]
    assert not any("chromium" in call for call in runtime), "the demo needs no browser"
    assert not any("redis-server" in call for call in runtime), "nor the Celery broker of the tests"
    assert pip_installs(setup(project, "runtime")) == [], "a second run only checks"

    dev = setup(project, "dev")  # `make test` after `make demo`: the runtime stamp is not enough
    assert pip_installs(dev) == ["python -m pip install -q -r requirements-dev.txt"]
    assert any(call.startswith("dpkg-query") and "chromium" in call for call in dev)
    assert any(call.startswith("dpkg-query") and "redis-server" in call for call in dev), \
        "the distributed test starts Debian's redis-server"
    assert pip_installs(setup(project, "dev")) == []
    assert pip_installs(setup(project, "runtime")) == [], "the dev set holds the runtime set"
    assert pip_installs(setup(project, None)) == [], "without SNA_SETUP: everything (dev), already there"

    (project / "requirements.txt").write_text((project / "requirements.txt").read_text() + "# changed\n")
    assert pip_installs(setup(project, "runtime")) == ["python -m pip install -q -r requirements.txt"]


def test_an_unknown_set_is_refused(project: Path) -> None:
    result = run_setup(project, "everything")
    assert result.returncode != 0 and "SNA_SETUP" in result.stderr
    assert (project.parent / "calls.log").read_text() == "", "refused before touching anything"


def test_make_demo_asks_for_the_runtime_set_and_make_test_for_the_dev_set() -> None:
    dry = {target: subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True,
                                  check=True).stdout for target in ("demo", "test")}
    assert "SNA_SETUP=runtime ./scripts/setup.sh" in dry["demo"] and "SNA_SETUP=dev" not in dry["demo"]
    assert "SNA_SETUP=dev ./scripts/setup.sh" in dry["test"] and "SNA_SETUP=runtime" not in dry["test"]
