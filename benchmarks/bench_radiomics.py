"""Radiomics extraction throughput: features per second on one core, per parameter file, and
the total extraction time of a finished run (sum of its extract_radiomics benchmark files).

Usage: .venv/bin/python benchmarks/bench_radiomics.py [--radius 15] [--repeat 2]
           [--results results/phase_attention]
The synthetic tumour is a sphere of the given radius (voxels at 1 mm) in textured noise; a
42 mm HCC (the cemri_dlrcr twin's median) is radius ~21.
"""

from __future__ import annotations

import argparse
import csv
import logging
import os
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def phantom(radius: float, seed: int = 0):
    import SimpleITK as sitk

    n = int(2 * radius + 12)
    rng = np.random.default_rng(seed)
    z, y, x = np.mgrid[:n, :n, :n]
    img = (100 + 30 * np.sin(x / 3.0) * np.cos(y / 4.0) + rng.normal(0, 8, (n, n, n)))
    c = n / 2
    mask = ((z - c) ** 2 + (y - c) ** 2 + (x - c) ** 2) < radius ** 2
    return (sitk.GetImageFromArray(img.astype(np.float32)),
            sitk.GetImageFromArray(mask.astype(np.uint8)), mask)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--radius", type=float, default=15.0)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--results", help="a study results folder with benchmarks/extract_radiomics")
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    logging.getLogger("radiomics").setLevel(logging.ERROR)
    from hccer.radiomics.extract import extract_images, extract_slices, largest_slices, load_params

    img, msk, arr = phantom(args.radius)
    for name in ("cemri_dlrcr", "phase_attention"):
        params = load_params(ROOT / "config" / "radiomics" / f"{name}.yaml")
        times, n_feat = [], 0
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            if params["setting"].get("force2D"):
                rows = extract_slices(img, msk, params, largest_slices(arr, 2))
                n_feat = sum(len(r) for r in rows)
            else:
                n_feat = len(extract_images(img, msk, params))
            times.append(time.perf_counter() - t0)
        best = min(times)
        print(f"{name}: {n_feat} features in {best:.2f} s (best of {args.repeat}) -> "
              f"{n_feat / best:.0f} features/s/core; sphere radius {args.radius} mm, "
              f"{int(arr.sum())} voxels")
    if args.results:
        files = sorted(Path(args.results).glob("benchmarks/extract_radiomics/*.tsv"))
        total = 0.0
        for f in files:
            with open(f, encoding="utf-8") as fh:
                total += float(next(csv.DictReader(fh, delimiter="\t"))["s"])
        print(f"{args.results}: {len(files)} extraction jobs, {total:.1f} s of job time "
              f"({total / max(len(files), 1):.2f} s per job)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
