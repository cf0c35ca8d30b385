"""The engine stands alone: `sna` imports nothing from Airflow, the UI or the demo shop.

`sna` is the library the DAGs, the UI and the command line call; `sna_demo` (the demo shop and the
PrestaShop DDL) is for the demo, the tests and the benchmark. Checked twice: statically (no import
of those packages anywhere in `plugins/sna`, except `sna demo-shop`'s lazy import of `sna_demo`),
and in a fresh process that runs real exports and then looks at `sys.modules`.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ENGINE = ROOT / "plugins" / "sna"
FORBIDDEN = ("airflow", "sna_airflow", "sna_ui", "sna_demo")
ALLOWED_LAZY = {("cli.py", "_cmd_demo_shop", "sna_demo")}
"""(file, function, package): the one place the engine may import another package, inside a function."""


def _imports(tree: ast.AST) -> list[tuple[str, str]]:
    """(top-level package, enclosing function or "") of every import of a module."""
    found: list[tuple[str, str]] = []

    def visit(node: ast.AST, function: str) -> None:
        for child in ast.iter_child_nodes(node):
            scope = child.name if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) else function
            if isinstance(child, ast.Import):
                found.extend((alias.name.split(".")[0], function) for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                found.append((child.module.split(".")[0], function))
            visit(child, scope)

    visit(tree, "")
    return found


def test_the_engine_source_imports_no_caller_and_no_demo() -> None:
    offending = []
    for path in sorted(ENGINE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for package, function in _imports(tree):
            relative = path.relative_to(ENGINE).as_posix()
            if package in FORBIDDEN and (relative, function, package) not in ALLOWED_LAZY:
                offending.append(f"{relative}: {package} (in {function or 'module'})")
    assert offending == []


SCRIPT = """
import json, sys
from sna.cli import main

audience, folder = sys.argv[1], sys.argv[2]
codes = [
    main(["preview", audience, "--reference-date", "2026-11-01"]),
    main(["run", audience, "--reference-date", "2026-11-01", "--json"]),
    main(["exports", "list", "--json"]),
    main(["housekeeping", "--dry-run", "--audiences", folder]),
    main(["validate", folder]),
]
leaked = sorted(name for name in sys.modules if name.split(".")[0] in {forbidden!r})
print(json.dumps({{"codes": codes, "leaked": leaked}}))
"""


@pytest.fixture
def shop(tmp_path: Path) -> str:
    from sna_demo import write_demo_shop

    url = f"sqlite:///{tmp_path / 'shop.db'}"
    write_demo_shop(url, customers=300, seed=4, as_of=date(2026, 10, 1))
    return url


def test_an_export_in_a_fresh_process_loads_no_demo_and_no_airflow(tmp_path: Path, shop: str) -> None:
    folder = tmp_path / "audiences"
    folder.mkdir()
    audience = folder / "layers.yaml"
    audience.write_text("name: layers\nplatform: google\nrequire_complete: false\n", encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("SNA_", "AIRFLOW"))}
    env.update({
        "PYTHONPATH": str(ROOT / "plugins"),  # this checkout's engine, nothing else of the repository
        "SNA_HOME": str(tmp_path),
        "SNA_SOURCE_URL": shop,
        "SNA_STORAGE_URL": (tmp_path / "exports").as_uri(),
        "SNA_REGISTRY_URL": f"sqlite:///{tmp_path / 'registry.db'}",
    })
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(forbidden=set(FORBIDDEN)), str(audience), str(folder)],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["codes"] == [0, 0, 0, 0, 0], result.stdout + result.stderr
    assert outcome["leaked"] == []
    assert list((tmp_path / "exports" / "layers" / "google").glob("*.csv"))
