"""Fixtures for the reproduction-report tests: merged presets and small ledgers."""

from __future__ import annotations

import pytest
from hccer.config import load_study


@pytest.fixture(scope="session")
def preset(project_root):
    def load(key: str) -> dict:
        cfg = {"study": key, "data": {"source": "synthetic", "synthetic": {"n": 8, "seed": 1}}}
        return load_study(cfg, project_root)

    return load
