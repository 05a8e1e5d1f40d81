"""Rules of the codebase that a reviewer would otherwise check by hand."""

import ast
import os
import re
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
    """README.md (Layout): labeling is a pure library; archive and tasks use it, not back."""
    assert not imported_modules(path) & {"django", "celery", "archive", "tasks"}


@pytest.mark.parametrize(
    "path", sorted((REPO / "archive").rglob("*.py")), ids=lambda p: str(p.relative_to(REPO))
)
def test_archive_imports_neither_tasks_nor_tensorflow(path):
    """tasks → archive → labeling (README.md, Layout); archive enqueues jobs by task name."""
    assert not imported_modules(path) & {"tasks", "tensorflow", "keras"}


def test_the_web_process_loads_no_tensorflow():
    """Every archive module imported (views, forms, commands): neither TensorFlow nor Keras is
    loaded, directly or through labeling (the run form reads labeling.config, not ensemble)."""
    code = (
        "import importlib, pkgutil, sys, django; django.setup(); import archive; "
        "[importlib.import_module(m.name) for m in pkgutil.walk_packages(archive.__path__, "
        "'archive.') if not m.name.startswith('archive.settings')]; "
        "print(sorted(m for m in ('tensorflow', 'keras', 'tasks') if m in sys.modules))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "archive.settings"}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, env=env
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


_MARKDOWN = re.compile(r"(?<![\w/.-])((?:\.\./)*[\w/-]+\.md)\b")


@pytest.mark.parametrize(
    "path",
    sorted(
        p
        for folder in ("tests", "docs", "archive", "labeling", "tasks", "bench")
        for p in (REPO / folder).rglob("*")
        if p.suffix in (".py", ".md") and "__pycache__" not in p.parts
    )
    + [REPO / "README.md"],
    ids=lambda p: str(p.relative_to(REPO)),
)
def test_markdown_files_named_exist(path):
    """Every Markdown file the code and docs name is one the repository holds, by its path from
    the repository's root (or the file's folder); what lives beside the checkout is named
    with its path (../shared/…), so a reader knows it is not in the clone."""
    missing = [
        name
        for name in _MARKDOWN.findall(path.read_text(encoding="utf-8"))
        if not name.startswith("../shared/")
        and not (REPO / name).exists()
        and not (path.parent / name).exists()
    ]
    assert not missing, f"{path.relative_to(REPO)} names {missing}, which the repository lacks"


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
