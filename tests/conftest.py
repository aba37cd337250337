"""Shared test fixtures: project paths and the read-only reference data beside the project."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
DATA = SHARED / "data"
STUDIES = ROOT / "config" / "studies"


def reference_required() -> bool:
    """Under CI (CI=true, set by .ci/run) a missing external reference fails the test: a
    reference comparison that silently skips proves nothing."""
    return os.environ.get("CI", "").lower() == "true"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not DATA.is_dir():
        msg = f"reference data folder not found beside the project: {DATA}"
        if reference_required():
            pytest.fail(msg + " (CI=true: references are required)")
        pytest.skip(msg)
    return DATA


@pytest.fixture(scope="session")
def project_root() -> Path:
    return ROOT
