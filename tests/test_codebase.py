"""Rules of the codebase that a reviewer would otherwise check by hand."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
RUFF = Path(sys.executable).with_name("ruff")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize(
    "path", sorted((REPO / "labeling").rglob("*.py")), ids=lambda p: str(p.relative_to(REPO))
)
def test_labeling_is_a_pure_library(path):
    """ARCHITECTURE.md: archive and tasks use labeling; labeling uses neither."""
    assert not imported_modules(path) & {"django", "celery", "archive", "tasks"}


def test_ruff_lint_is_clean():
    out = subprocess.run(
        [RUFF, "check", "--no-cache", "."], cwd=REPO, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_ruff_format_is_clean():
    out = subprocess.run(
        [RUFF, "format", "--check", "--no-cache", "."], cwd=REPO, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr
