"""DAG build time of `snakemake -n` for a large synthetic sheet (default 1000 patients).

Usage: .venv/bin/python benchmarks/bench_dag.py [--n 1000] [--study phase_attention]
Prints the wall time and the number of jobs Snakemake plans before the first checkpoint.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--study", default="phase_attention")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [str(Path(sys.executable).parent / "snakemake"), "-n", "--quiet", "rules",
               "--config", f"study={args.study}", f"results={tmp}/results",
               "data=" + json.dumps({"source": "synthetic", "synthetic": {
                   "n": args.n, "seed": 1, "matrix": 96, "root": f"{tmp}/syn"}})]
        t0 = time.perf_counter()
        res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
        dt = time.perf_counter() - t0
    if res.returncode:
        print(res.stderr[-3000:], file=sys.stderr)
        return 1
    totals = re.findall(r"^total\s+(\d+)\s*$", res.stdout, re.M)
    jobs = int(totals[0]) if totals else -1
    print(f"study {args.study}: {args.n} patients, dry-run DAG build {dt:.2f} s, "
          f"{jobs} jobs planned up to the first checkpoint")
    return 0


if __name__ == "__main__":
    sys.exit(main())
