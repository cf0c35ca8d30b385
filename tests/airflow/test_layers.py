"""The layers of `sna_airflow`: no import cycle, the builders imported at the top of the factory,
shared names defined once (in `sna_airflow.config`)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys

from tests.airflow.conftest import PROJECT

PACKAGE = PROJECT / "plugins" / "sna_airflow"
MODULES = sorted(f"sna_airflow.{path.stem}" for path in PACKAGE.glob("*.py") if path.stem != "__init__")
SHARED_NAMES = ("DAG_ID_PREFIX", "ADHOC_DAG_ID", "HOUSEKEEPING_DAG_ID", "START_DATE", "PLATFORM_LABELS")


def _tree(module: str) -> ast.Module:
    return ast.parse((PACKAGE / f"{module.rsplit('.', 1)[1]}.py").read_text(encoding="utf-8"))


def _imports(node: ast.AST) -> set[str]:
    """The sna_airflow modules a piece of code imports, wherever the import statement is (a function too)."""
    found = set()
    for child in ast.walk(node):
        if isinstance(child, ast.ImportFrom) and child.module and child.module.startswith("sna_airflow"):
            names = {f"{child.module}.{alias.name}" for alias in child.names}
            found |= {name for name in names if name in MODULES} or {child.module}
        elif isinstance(child, ast.Import):
            found |= {alias.name for alias in child.names if alias.name.startswith("sna_airflow.")}
    return found & set(MODULES)


def test_each_module_imports_alone_in_a_fresh_interpreter() -> None:
    env = dict(os.environ, PYTHONPATH=f"{PROJECT / 'plugins'}:{PROJECT}")
    processes = {}
    failures = {}
    for module in MODULES:  # two at a time: CI has two cores
        processes[module] = subprocess.Popen(
            [sys.executable, "-c", f"import {module}"], env=env, cwd=PROJECT, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True)
        if len(processes) % 2 == 0 or module == MODULES[-1]:
            for name, process in processes.items():
                output, _ = process.communicate(timeout=120)
                if process.returncode:
                    failures[name] = output[-2000:]
            processes.clear()
    assert failures == {}


def test_the_modules_import_each_other_without_a_cycle() -> None:
    graph = {module: _imports(_tree(module)) - {module} for module in MODULES}
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        assert module not in path, "import cycle: " + " -> ".join((*path, module))
        if module in done:
            return
        for imported in sorted(graph[module]):
            visit(imported, (*path, module))
        done.add(module)

    for module in MODULES:
        visit(module, ())


def test_the_factory_imports_its_builders_at_the_top() -> None:
    tree = _tree("sna_airflow.dag_factory")
    top_level = set().union(*(_imports(node) for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)))
    assert {"sna_airflow.adhoc", "sna_airflow.housekeeping", "sna_airflow.audience_dag"} <= top_level
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            assert not _imports(node), f"{node.name} imports inside a function"


def test_shared_names_and_labels_are_defined_once_in_config() -> None:
    from sna_airflow import config

    for name in SHARED_NAMES:
        assert hasattr(config, name)
    for module in MODULES:
        source = (PACKAGE / f"{module.rsplit('.', 1)[1]}.py").read_text(encoding="utf-8")
        tree = ast.parse(source)
        assigned = {target.id for node in ast.walk(tree) if isinstance(node, ast.Assign | ast.AnnAssign)
                    for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
                    if isinstance(target, ast.Name)}
        if module != "sna_airflow.config":
            assert not assigned & set(SHARED_NAMES), f"{module} defines {assigned & set(SHARED_NAMES)}"
            for literal in ('"sna_adhoc_export"', '"sna_housekeeping"', "Google Ads Customer Match",
                            "datetime(2024"):
                assert literal not in source, f"{module} spells {literal} itself"
    assert config.ADHOC_DAG_ID == "sna_adhoc_export" and config.HOUSEKEEPING_DAG_ID == "sna_housekeeping"
    assert config.ADHOC_DAG_ID.startswith(config.DAG_ID_PREFIX)
