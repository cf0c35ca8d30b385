"""The repository carries its own documentation: nothing points outside it, every link resolves."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUTSIDE = ("../" + "shared").encode()  # spelled in two parts so this file does not match itself
SKIPPED_FOLDERS = {".git", ".venv", "var", "build", "test-artifacts", "__pycache__", ".pytest_cache", ".ruff_cache"}
DOCS = ("README.md", "docs/formats.md", "docs/prestashop-source.md", "docs/audience-config.md",
        "docs/architecture.md", "docs/benchmarks.md")
_LINK = re.compile(r"\]\(([^)\s]+)\)")


def _repository_files() -> list[Path]:
    """The files git would track (committed or not, ignored ones left out), else every file on disk."""
    try:
        listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                                cwd=ROOT, capture_output=True, check=True, timeout=60).stdout
        return [ROOT / name for name in listed.decode().split("\0") if name and (ROOT / name).is_file()]
    except (OSError, subprocess.CalledProcessError):
        return [path for path in ROOT.rglob("*")
                if path.is_file() and not SKIPPED_FOLDERS & set(path.relative_to(ROOT).parts)
                and not path.name.endswith(".egg-info")]


def test_no_file_points_outside_the_repository() -> None:
    files = _repository_files()
    assert any(path.name == "formats.md" for path in files)
    pointing = sorted(str(path.relative_to(ROOT)) for path in files if OUTSIDE in path.read_bytes())
    assert pointing == []


def _anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lowercase, punctuation dropped, spaces to hyphens."""
    headings = re.findall(r"^#+ (.+)$", markdown, flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-") for heading in headings}


def test_the_documentation_exists_and_its_links_resolve() -> None:
    broken = []
    for name in DOCS:
        page = ROOT / name
        text = page.read_text(encoding="utf-8")
        for target in _LINK.findall(text):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            path, _, anchor = target.partition("#")
            linked = (page.parent / path).resolve() if path else page
            if not linked.exists():
                broken.append(f"{name}: {target}")
            elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked.read_text(encoding="utf-8")):
                broken.append(f"{name}: {target} (no such heading)")
    assert broken == []
