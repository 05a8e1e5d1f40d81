"""Shared fixtures for the pure labeling tests (no database)."""

from __future__ import annotations

from pathlib import Path

import pytest

# The repo is /work/main; the read-only real sample files live in /work/shared/data.
DATA_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not DATA_DIR.is_dir():
        pytest.skip(f"real sample data not found at {DATA_DIR}")
    return DATA_DIR
