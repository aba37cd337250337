"""Run Snakemake on the project in a subprocess (used by the workflow-level tests)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# The demo's settings (small crops and networks) under each test's own tiny overrides: what the
# workflow tests ran with when these were config/config.yaml's defaults.
DEMO = ["--configfile", str(ROOT / "config" / "demo.yaml")]


def snakemake(*args: str, cwd: Path = ROOT, timeout: int = 1800) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    return subprocess.run([str(BIN / "snakemake"), *args], cwd=cwd, env=env, text=True,
                          capture_output=True, timeout=timeout, check=False)
