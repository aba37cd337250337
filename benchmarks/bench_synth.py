"""Benchmark of `hccer synth`: files/s and MB/s of a twin cohort, and the wall time of the demo.

Usage: python benchmarks/bench_synth.py [--preset phase_attention] [--n 40] [--workers 2]
       [--matrix 256] [--out DIR]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from hccer.synth import generate_cohort


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="phase_attention")
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--matrix", type=int, default=256)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", help="keep the cohort here (default: a temporary folder)")
    args = ap.parse_args()
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="bench_synth_"))
    t0 = time.perf_counter()
    rec = generate_cohort(args.preset, out, n=args.n, seed=args.seed, workers=args.workers,
                          matrix=args.matrix)
    wall = time.perf_counter() - t0
    mb = rec["dicom_bytes"] / 1e6
    print(f"preset {args.preset}  n {rec['n']}  matrix {args.matrix}  workers {args.workers}")
    print(f"wall {wall:.1f} s  ({wall / rec['n']:.2f} s/patient)  DICOM files "
          f"{rec['dicom_files']}  {mb:.1f} MB")
    print(f"throughput {rec['dicom_files'] / wall:.1f} files/s  {mb / wall:.2f} MB/s")
    print("oracle AUC", rec["oracle_auc"])
    if not args.out:
        shutil.rmtree(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
