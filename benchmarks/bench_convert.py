"""Wall time of `hccer convert` vs `dcm2niix` on the same real series, side by side.

Usage: .venv/bin/python benchmarks/bench_convert.py [--data DIR] [--repeats N]

Both tools run as command-line processes (start-up included, as a rule would run them), writing
into a temporary folder; the best of N runs is reported, plus whether the two volumes agree
voxel for voxel after reorienting both to the closest canonical (RAS) orientation.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SERIES = {
    "hcc048 portal-venous CT (512x512x89)": "ct/hcc048_portal_venous/dicom",
    "Philips Ingenuity head CT (512x512x28)": "dicom/dcm_qa_ct_philips_S2010/In",
}


def _tool(name: str) -> str:
    local = Path(sys.executable).parent / name
    found = local if local.exists() else shutil.which(name)
    if not found:
        sys.exit(f"{name} not found next to {sys.executable} or on PATH")
    return str(found)


def _best(cmd: list[str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return min(times)


def _agree(ours: Path, theirs_dir: Path) -> str:
    import nibabel as nib
    import numpy as np

    found = sorted(theirs_dir.glob("*.nii"))
    if len(found) != 1:
        return f"dcm2niix wrote {len(found)} files"
    a = nib.as_closest_canonical(nib.load(ours))
    b = nib.as_closest_canonical(nib.load(found[0]))
    if a.shape != b.shape:
        return f"shape {a.shape} vs {b.shape}"
    same_affine = np.allclose(a.affine, b.affine, atol=1e-3)
    same_voxels = np.array_equal(np.asanyarray(a.dataobj), np.asanyarray(b.dataobj))
    return f"affine {'=' if same_affine else '!='}, voxels {'=' if same_voxels else '!='}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data",
                        help="the shared validation data folder")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    hccer, dcm2niix = _tool("hccer"), _tool("dcm2niix")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, (label, rel) in enumerate(SERIES.items()):
            src = args.data / rel
            if not src.is_dir():
                rows.append((label, "missing", "missing", "missing", "-", "-", ""))
                continue
            ours = Path(tmp) / f"ours{i}.nii"
            theirs = Path(tmp) / f"dcm2niix{i}"
            theirs.mkdir()
            t_ours = _best([hccer, "convert", str(src), str(ours)], args.repeats)
            # as a workflow job runs it: the file list from triage, each file read once
            listing = Path(tmp) / f"files{i}.json"
            listing.write_text(json.dumps(sorted(p.name for p in src.iterdir() if p.is_file())))
            t_listed = _best([hccer, "convert", "--files", str(listing), str(src),
                              str(Path(tmp) / f"listed{i}.nii")], args.repeats)
            t_theirs = _best([dcm2niix, "-b", "n", "-z", "n", "-i", "y", "-w", "1", "-f",
                              "%s", "-o", str(theirs), str(src)], args.repeats)
            rows.append((label, f"{t_ours:.2f}", f"{t_listed:.2f}", f"{t_theirs:.2f}",
                         f"{t_ours / t_theirs:.1f}x", f"{t_listed / t_theirs:.1f}x",
                         _agree(ours, theirs)))
    header = ("series", "hccer convert [s]", "with --files [s]", "dcm2niix [s]", "ratio",
              "ratio --files", "agreement")
    widths = [max(len(str(r[k])) for r in [header, *rows]) for k in range(len(header))]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)))
    print(f"(best of {args.repeats} runs each, uncompressed NIfTI, process start-up included)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
