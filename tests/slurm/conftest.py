"""Fixtures for the tests against a real SLURM cluster (started by .ci/slurm/start.sh)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PROFILE = ROOT / "profiles" / "slurm"

# The profile polls gently (first check after 20 s, growing intervals) to spare a busy
# controller; the tests poll every 2 s so the whole folder stays within a few minutes.
FAST_POLLING = ["--slurm-init-seconds-before-status-checks", "2",
                "--seconds-between-status-checks", "2"]

SUBMITTED = re.compile(r"submitted with SLURM jobid (\d+) \(log: (.+?)\)\.")


def run_snakemake(*args: str, cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run the project's Snakemake in `cwd`; jobs inherit PATH, so they find the same env."""
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    return subprocess.run([str(BIN / "snakemake"), *args], cwd=cwd, env=env, text=True,
                          capture_output=True, timeout=timeout, check=False)


@dataclass(frozen=True)
class SlurmCluster:
    """The default partition's usable node, and what the tests ask of the cluster."""

    cpus: int
    partition: str

    def profile_args(self) -> list[str]:
        """The profile exactly as users run it, sized to this node and polling fast."""
        return ["--profile", str(PROFILE), "--workflow-profile", "none",
                "--cores", str(self.cpus), *FAST_POLLING]

    @staticmethod
    def submitted_jobs(output: str) -> dict[str, Path]:
        """SLURM job id -> SLURM log path, as the executor plugin reported each submission."""
        return {jobid: Path(log) for jobid, log in SUBMITTED.findall(output)}

    @staticmethod
    def job_record(jobid: str) -> dict[str, str]:
        """The controller's record of one job (kept MinJobAge seconds after it ends)."""
        out = subprocess.run(["scontrol", "show", "job", "-o", jobid], capture_output=True,
                             text=True, timeout=20, check=False)
        assert out.returncode == 0, f"SLURM does not know job {jobid}: {out.stderr}"
        return dict(field.split("=", 1) for field in out.stdout.split() if "=" in field)


def _usable_cluster() -> SlurmCluster | str:
    """The first idle node of the default partition, or why there is none."""
    if shutil.which("sbatch") is None or shutil.which("sinfo") is None:
        return "SLURM client commands not installed (start a cluster: .ci/slurm/start.sh)"
    try:
        out = subprocess.run(["sinfo", "-h", "-o", "%P %c %t"], capture_output=True, text=True,
                             timeout=20, check=False)
    except subprocess.TimeoutExpired:
        return "sinfo timed out: no SLURM controller answering"
    if out.returncode != 0:
        return f"sinfo failed, no SLURM cluster up: {out.stderr.strip()[:200]}"
    for line in out.stdout.splitlines():
        partition, cpus, state = line.split()
        if partition.endswith("*") and state in {"idle", "mix"}:
            return SlurmCluster(cpus=int(cpus.rstrip("+")), partition=partition.rstrip("*"))
    return f"no idle node in the default SLURM partition: {out.stdout.strip()[:200]}"


@pytest.fixture(scope="session")
def slurm() -> SlurmCluster:
    cluster = _usable_cluster()
    if isinstance(cluster, str):
        pytest.skip(cluster)
    return cluster


@pytest.fixture(scope="session")
def snakemake_in():
    """run_snakemake(*args, cwd=..., timeout=...) for the tests."""
    return run_snakemake
