"""Fixtures for the workflow-level tests."""

from __future__ import annotations

import pytest
from snakerun import snakemake


@pytest.fixture()
def run_snakemake():
    return snakemake
