"""One GPU per concurrent training job on a multi-GPU workstation.

`snakemake --resources gpu=2` lets two training jobs run at once, but both would use GPU 0.
Before torch starts, a job takes the first free slot among the visible devices (an exclusive
lock on a per-device file, held until the process ends, so a killed job frees its slot) and
narrows CUDA_VISIBLE_DEVICES to that device. On a cluster, SLURM already hands each job its
own devices: the job then finds those only, and takes the first.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

log = logging.getLogger(__name__)

# How many GPUs to assume instead of asking nvidia-smi (tests; machines without nvidia-smi).
COUNT_ENV = "HCCER_GPU_COUNT"
_held: list = []              # open lock files: the slot is ours while the process lives


def visible_devices(env: dict | None = None) -> list[str]:
    """The device ids this process may use: CUDA_VISIBLE_DEVICES when set, else HCCER_GPU_COUNT
    or the GPUs nvidia-smi lists (none on a machine without NVIDIA GPUs)."""
    env = os.environ if env is None else env
    if "CUDA_VISIBLE_DEVICES" in env:
        return [d.strip() for d in env["CUDA_VISIBLE_DEVICES"].split(",") if d.strip()]
    if env.get(COUNT_ENV):
        return [str(i) for i in range(int(env[COUNT_ENV]))]
    if not shutil.which("nvidia-smi"):
        return []
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [str(i) for i, line in enumerate(out.stdout.splitlines()) if line.startswith("GPU ")]


def lock_dir() -> Path:
    return Path(tempfile.gettempdir()) / f"hccer-gpu-slots-{os.getuid()}"


def take_slot(devices: list[str] | None = None, folder: Path | None = None,
              poll_s: float = 2.0) -> str | None:
    """Take the first free device of `devices` (default: visible_devices()), set
    CUDA_VISIBLE_DEVICES to it and return it; None (and nothing changed) without a GPU.
    Waits while every device is taken (another user's jobs beyond Snakemake's gpu count)."""
    devices = visible_devices() if devices is None else devices
    if not devices:
        return None
    folder = folder or lock_dir()
    folder.mkdir(parents=True, exist_ok=True)
    waited = False
    while True:
        for dev in devices:
            f = open(folder / f"gpu-{dev}.lock", "w")  # noqa: SIM115 - held for the process
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                f.close()
                continue
            _held.append(f)
            os.environ["CUDA_VISIBLE_DEVICES"] = dev
            log.info("GPU slot: device %s of %s", dev, ",".join(devices))
            return dev
        if not waited:
            log.warning("all GPUs (%s) are taken by other jobs; waiting for one",
                        ",".join(devices))
            waited = True
        time.sleep(poll_s)


def slot_for(device: str | None) -> str | None:
    """take_slot() unless the job is told to run on the CPU."""
    return None if device == "cpu" else take_slot()
