"""Shared test fixtures: project paths and the read-only reference data beside the project."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
DATA = SHARED / "data"
STUDIES = ROOT / "config" / "studies"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not DATA.is_dir():
        pytest.skip(f"reference data folder not found beside the project: {DATA}")
    return DATA


@pytest.fixture(scope="session")
def project_root() -> Path:
    return ROOT
