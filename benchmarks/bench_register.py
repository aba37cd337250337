"""Registration benchmark: time per phase pair and error against a known rigid transform.

A realistic-size synthetic abdomen (256 x 256 x 150 voxels at 1 mm, HU) is moved by known
rigid transforms (cranio-caudal shift up to 10 mm plus a few degrees, as between CT phases),
registered back with `hccer register` logic, and the recovered fixed->moving map is compared
with the true one over the tumour voxels (mean and max distance, mm). `QC s` is the time of
the QC metrics (NCC, MI, Dice before and after) that every registration job adds.

    .venv/bin/python benchmarks/bench_register.py [--threads 2] [--type Rigid] [--no-mask]

`--twin RESULTS` registers the twin patients of a finished run instead (its 1 mm volumes, kept
with `preprocess.keep_intermediates: true`) under several settings (ROI margin, multi-resolution
schedule) and compares each recovered map with the twin's true one (truth.csv; the private
pseudonym map links the two): time per pair and mean / max error over the tumour, per setting.

    .venv/bin/python benchmarks/bench_register.py --twin results/phase_attention \
        --private private/phase_attention --truth resources/synthetic/<twin>/truth.csv [--n 8]
"""

from __future__ import annotations

import argparse
import os
import sys
import time


def abdomen(shape=(150, 256, 256), seed=0):
    import numpy as np
    import SimpleITK as sitk

    rng = np.random.default_rng(seed)
    nz, ny, nx = shape
    z, y, x = np.meshgrid(np.arange(nz) - nz / 2, np.arange(ny) - ny / 2, np.arange(nx) - nx / 2,
                          indexing="ij")
    vol = np.full(shape, -1000.0, np.float32)
    vol[(x / 115) ** 2 + (y / 100) ** 2 <= 1] = 20.0
    vol[((x + 45) / 55) ** 2 + ((y + 5) / 60) ** 2 + (z / 55) ** 2 <= 1] = 60.0  # liver
    vol[(x / 12) ** 2 + ((y - 70) / 12) ** 2 <= 1] = 700.0  # spine
    vol[((x - 60) / 15) ** 2 + ((y - 40) / 20) ** 2 + (z / 30) ** 2 <= 1] = 150.0  # kidney
    vol[((x - 10) / 10) ** 2 + ((y + 45) / 25) ** 2 + ((z - 20) / 40) ** 2 <= 1] = 40.0  # bowel
    tum = ((x + 50) / 14) ** 2 + ((y + 5) / 15) ** 2 + ((z - 5) / 12) ** 2 <= 1
    vol[tum] = 120.0
    vol += rng.normal(0, 15, shape).astype(np.float32)
    img = sitk.GetImageFromArray(vol)
    img.SetOrigin((-128.0, -128.0, -75.0))
    msk = sitk.GetImageFromArray(tum.astype(np.uint8))
    msk.CopyInformation(img)
    return img, msk


# a schedule is (shrink factors, smoothing sigmas, iterations)
# (an explicit schedule runs on the 1 mm grid; the default averages down to 2 mm first)
WITH_1X = ((8, 4, 2, 1), (3, 2, 1, 0), (100, 50, 25, 0))
ON_1MM = ((8, 4, 2), (3, 2, 1), (100, 50, 25))
SETTINGS = [  # (name, ROI margin mm, schedule, random sampling rate); None = the default
    ("default (2 mm grid, 4-2-1)", None, None, None),
    ("8-4-2 on the 1 mm grid (before)", None, ON_1MM, 0.1),
    ("8-4-2-1 (0 at 1x), 10 %", None, WITH_1X, 0.1),
    ("2 mm grid, 5 % sampling", None, None, 0.05),
    ("2 mm grid, margin 45 mm", 45.0, None, None),
]


def true_map(row, phase):
    """The twin's fixed->moving map of `phase` (see hccer.synth.generate.TRANSFORM_CONVENTION)."""
    import numpy as np
    from hccer.synth.anatomy import rotation

    R = rotation(*(float(row[f"{k}_{phase}"]) for k in ("rx", "ry", "rz")))
    t = np.array([float(row[f"{k}_{phase}"]) for k in ("tx", "ty", "tz")])
    c = np.array([float(row[k]) for k in ("liver_cx", "liver_cy", "liver_cz")])
    return lambda p: R @ (np.asarray(p) - c) + c + t


def twin_pairs(results, private, truth, n):
    """(patient, phase, fixed, moving, fixed mask, true map) of up to n twin patients."""
    import csv
    from pathlib import Path

    import SimpleITK as sitk

    study = Path(results)
    with open(Path(private) / "pseudonyms.tsv") as fh:
        codes = {r["pseudonym"]: r["patient_code"] for r in csv.DictReader(fh, delimiter="\t")}
    with open(truth) as fh:
        rows = {r["patient_code"]: r for r in csv.DictReader(fh)}
    out = []
    for qc in sorted(study.glob("derivatives/sub-*/*_desc-registration_qc.json")):
        pid = qc.name.split("_")[0][4:]
        phase = qc.name.split("_")[1][6:]
        ref = qc.name.split("_")[2][6:]
        base = qc.parent / f"sub-{pid}"
        files = [Path(f"{base}_phase-{ref}_desc-resampled.nii.gz"),
                 Path(f"{base}_phase-{phase}_desc-resampled.nii.gz"),
                 Path(f"{base}_phase-{ref}_reader-r1_desc-resampled_mask.nii.gz")]
        if not all(f.is_file() for f in files) or pid not in codes:
            continue
        if len({p[0] for p in out}) >= n and pid not in {p[0] for p in out}:
            break
        imgs = [sitk.Cast(sitk.ReadImage(str(f)), sitk.sitkFloat32) for f in files[:2]]
        out.append((pid, phase, *imgs, sitk.ReadImage(str(files[2])),
                    true_map(rows[codes[pid]], phase)))
    return out


def twin_main(args) -> int:
    import numpy as np
    import SimpleITK as sitk
    from hccer.preprocess import register

    pairs = twin_pairs(args.twin, args.private, args.truth, args.n)
    if not pairs:
        print(f"no kept 1 mm volumes under {args.twin}/derivatives (run with "
              "preprocess.keep_intermediates: true)", file=sys.stderr)
        return 2
    print(f"{len(pairs)} phase pairs of {len({p[0] for p in pairs})} twin patients, "
          f"threads {args.threads}")
    print("error = largest distance over the pair's tumour voxels (mm); mean, p95, max over pairs")
    print(f"{'setting':28s} {'s/pair':>7s} {'max s':>6s} {'mean err':>9s} {'p95 err':>8s} "
          f"{'max err':>8s}")
    for name, margin, schedule, sampling in SETTINGS:
        times, errs = [], []
        for _pid, _ph, fixed, moving, fmask, truth in pairs:
            kw = {} if margin is None else {"roi_margin_mm": margin}
            if sampling is not None:
                kw["sampling_rate"] = sampling
            t0 = time.perf_counter()
            res = register.register_images(fixed, moving, args.type, seed=1, fixed_mask=fmask,
                                           schedule=schedule, **kw)
            times.append(time.perf_counter() - t0)
            idx = np.argwhere(sitk.GetArrayViewFromImage(fmask) > 0)[::25, ::-1]
            pts = [fixed.TransformIndexToPhysicalPoint([int(v) for v in p]) for p in idx]
            errs.append(max(np.linalg.norm(np.subtract(res.transform.TransformPoint(p),
                                                       truth(p))) for p in pts))
        e = np.array(errs)
        print(f"{name:28s} {np.mean(times):7.2f} {max(times):6.2f} {e.mean():9.3f} "
              f"{np.percentile(e, 95):8.3f} {e.max():8.3f}")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--type", default="Rigid", choices=["Rigid", "QuickRigid", "Affine"])
    ap.add_argument("--no-mask", action="store_true", help="register without the tumour ROI")
    ap.add_argument("--twin", help="a finished run's study folder with kept 1 mm volumes")
    ap.add_argument("--private", help="its private folder (pseudonyms.tsv)")
    ap.add_argument("--truth", help="the twin's truth.csv")
    ap.add_argument("--n", type=int, default=8, help="twin patients")
    args = ap.parse_args(argv)
    if args.twin:
        os.environ["ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS"] = str(args.threads)
        from hccer.preprocess.register import set_threads

        set_threads(args.threads)
        return twin_main(args)
    os.environ["ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS"] = str(args.threads)
    import numpy as np
    import SimpleITK as sitk
    from hccer.preprocess.register import qc_metrics, register_images, set_threads

    set_threads(args.threads)
    fixed, fmask = abdomen()
    cases = [((2.0, -1.5, 3.0), (3.0, -4.0, 8.0)), ((-3.0, 2.0, -2.0), (-2.0, 1.5, -10.0)),
             ((1.0, 1.0, 1.0), (0.5, 0.5, 5.0))]
    idx = np.argwhere(sitk.GetArrayFromImage(fmask) > 0)[::25, ::-1]
    pts = [fixed.TransformIndexToPhysicalPoint([int(v) for v in p]) for p in idx]
    print(f"volume {fixed.GetSize()} at 1 mm, type {args.type}, threads {args.threads}, "
          f"ROI {'whole image' if args.no_mask else 'tumour box + 60 mm'}")
    print(f"{'rotation deg (x,y,z)':>24} {'translation mm':>20} {'time s':>7} "
          f"{'mean err':>9} {'max err':>8} {'QC s':>6}")
    worst = 0.0
    times = []
    for rot, trans in cases:
        t = sitk.Euler3DTransform()
        t.SetRotation(*np.deg2rad(rot))
        t.SetTranslation(trans)
        moving = sitk.Resample(fixed, fixed, t, sitk.sitkLinear, -1000.0)
        t0 = time.perf_counter()
        res = register_images(fixed, moving, args.type, seed=1,
                              fixed_mask=None if args.no_mask else fmask)
        dt = time.perf_counter() - t0
        inv = t.GetInverse()
        err = np.array([np.linalg.norm(np.subtract(res.transform.TransformPoint(p),
                                                   inv.TransformPoint(p))) for p in pts])
        worst = max(worst, err.max())
        times.append(dt)
        t0 = time.perf_counter()  # the QC record every registration job writes
        qc_metrics(fixed, moving, res.transform, res.region, fmask, fmask)
        qc = time.perf_counter() - t0
        print(f"{str(rot):>24} {str(trans):>20} {dt:7.2f} {err.mean():9.3f} {err.max():8.3f} "
              f"{qc:6.2f}")
    ok = worst < 1.0 and max(times) <= 10.0
    print(f"max error {worst:.3f} mm (target < 1), max time {max(times):.2f} s (target <= 10): "
          f"{'OK' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
