"""Concurrent training jobs on a multi-GPU machine each get their own device (fake count)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from hccer.dl.gpuslot import COUNT_ENV, slot_for, take_slot, visible_devices

JOB = """
import os, sys, time
from pathlib import Path
from hccer.dl.gpuslot import take_slot
dev = take_slot(folder=Path(sys.argv[1]), poll_s=0.05)
print(dev, os.environ["CUDA_VISIBLE_DEVICES"], flush=True)
time.sleep(float(sys.argv[2]))
"""


def _job(folder, hold_s, count=2):
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    env[COUNT_ENV] = str(count)
    return subprocess.Popen([sys.executable, "-c", JOB, str(folder), str(hold_s)], env=env,
                            stdout=subprocess.PIPE, text=True)


def test_two_concurrent_jobs_get_two_devices_and_a_third_waits(tmp_path):
    a, b = _job(tmp_path, 1.5), _job(tmp_path, 1.5)
    first = {a.stdout.readline().split()[0], b.stdout.readline().split()[0]}
    assert first == {"0", "1"}                  # not both on GPU 0
    start = time.monotonic()
    c = _job(tmp_path, 0)
    third = c.stdout.readline().split()
    assert time.monotonic() - start > 0.5       # it waited for a slot to free
    assert third[0] in ("0", "1") and third[0] == third[1]
    for p in (a, b, c):
        p.wait(timeout=30)


def test_devices_come_from_the_environment(monkeypatch):
    assert visible_devices({"CUDA_VISIBLE_DEVICES": "2,3"}) == ["2", "3"]
    assert visible_devices({"CUDA_VISIBLE_DEVICES": ""}) == []
    assert visible_devices({COUNT_ENV: "3"}) == ["0", "1", "2"]
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert take_slot([]) is None and "CUDA_VISIBLE_DEVICES" not in os.environ
    assert slot_for("cpu") is None
