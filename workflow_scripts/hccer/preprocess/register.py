"""Rigid (or affine) registration of one phase to the reference phase with ANTs, plus QC.

Conventions:
  * All phases of a patient come from one session and share the scanner's patient coordinate
    frame, so registration starts from the identity (`init="identity"`); ANTs' centre-of-mass
    start is available (`init="com"`) but is ill-defined on CT, whose air is -1000 HU.
  * The metric (Mattes MI) is evaluated on a region of the fixed image: the image shrunk by
    `border_mm` on every side (its edges have no counterpart in the moving phase once the
    patient moved), further limited to the fixed tumour mask's box + `roi_margin_mm` when a
    fixed mask is given (faster, and the liver around the tumour is what must align).
  * The transform maps fixed (reference) points to moving points, as ITK/ANTs resampling does;
    it is written in ITK's MATLAB format (readable by ANTs and SimpleITK).
  * A registration that fails or looks wrong is not an error: QC records `passed: false` and the
    reason, and the workflow excludes the patient.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hccer.errors import InputError
from hccer.preprocess import metrics

log = logging.getLogger(__name__)

TRANSFORM_TYPES = ("Rigid", "QuickRigid", "Affine")
# Multi-resolution schedule: 8x shrink reaches ~10 mm motion; the 2x level already gives
# sub-millimetre error, so full resolution is not even built (a 0-iteration 1x level cost a
# fifth of the time). On 10 twin phase pairs (benchmarks/bench_register.py --twin): 9.3 s a
# pair against 11.2 s with the 1x level, worst tumour error 0.53 mm vs 0.47; 5 % sampling
# (6.7 s) reached 1.2 mm on one int16 pair, so the rate stays 10 %.
SHRINK = (8, 4, 2)
SMOOTH = (3, 2, 1)
ITERATIONS = {"Rigid": (100, 50, 25), "Affine": (100, 50, 25)}
SAMPLING_RATE = 0.1
# The finest level is 2 mm, so the images handed to ANTs are first averaged down to it
# (BinShrink by whole voxels) and the schedule rescaled: the same levels in millimetres, with
# ANTs' per-level smoothing and metric on 8x fewer voxels (bench_register.py --twin, 16 twin
# phase pairs: 10.7 -> 3.9 s a pair, worst tumour error 0.70 -> 0.79 mm). A `schedule` given
# explicitly runs unshrunk.
WORKING_SPACING_MM = 2.0
# the tumour box + this margin is what the metric sees; 45 mm already left too little liver
# and body outline for some twin patients (errors up to 4.4 mm)
ROI_MARGIN_MM = 60.0


@dataclass
class RegistrationResult:
    transform: object  # SimpleITK AffineTransform, fixed -> moving points
    ok: bool = True
    error: str | None = None
    seconds: float = 0.0
    region: dict = field(default_factory=dict)


def set_threads(threads: int | None) -> None:
    """Thread count for ITK inside ANTs and SimpleITK (set before ants is imported)."""
    if not threads:
        return
    os.environ["ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS"] = str(int(threads))
    import SimpleITK as sitk

    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(int(threads))


def registration_region(fixed, fixed_mask=None, border_mm: float = 15.0,
                        roi_margin_mm: float = ROI_MARGIN_MM) -> tuple[list[int], list[int]]:
    """Index box (start, size), x/y/z order, of the fixed image that the metric sees."""
    size = np.array(fixed.GetSize()[:3])
    sp = np.array(fixed.GetSpacing()[:3])
    border = np.floor(border_mm / sp).astype(int)
    lo = np.minimum(border, (size - 1) // 4)  # never shrink a small image to nothing
    hi = size - 1 - lo
    if fixed_mask is not None:
        import SimpleITK as sitk

        m = sitk.GetArrayViewFromImage(fixed_mask) > 0
        if m.any():
            idx = np.argwhere(m)[:, ::-1]  # x, y, z
            marg = np.ceil(roi_margin_mm / sp).astype(int)
            lo = np.maximum(lo, idx.min(0) - marg)
            hi = np.minimum(hi, idx.max(0) + marg)
    return lo.tolist(), (hi - lo + 1).tolist()


def _moving_roi(moving, sub, margin_mm: float = 30.0):
    """The part of the moving image within `margin_mm` of the fixed region (the largest
    plausible inter-phase motion); smaller pyramids, same metric."""
    import itertools

    import SimpleITK as sitk

    size = np.array(sub.GetSize())
    corners = [sub.TransformIndexToPhysicalPoint([int(c) for c in np.array(k) * (size - 1)])
               for k in itertools.product((0, 1), repeat=3)]
    idx = np.array([moving.TransformPhysicalPointToContinuousIndex(c) for c in corners])
    marg = margin_mm / np.array(moving.GetSpacing())
    lo = np.maximum(np.floor(idx.min(0) - marg).astype(int), 0)
    hi = np.minimum(np.ceil(idx.max(0) + marg).astype(int), np.array(moving.GetSize()) - 1)
    if np.any(hi < lo):
        return moving
    return sitk.RegionOfInterest(moving, (hi - lo + 1).tolist(), lo.tolist())


def working_factor(spacing, working_spacing_mm: float | None) -> int:
    """The whole-voxel factor that brings `spacing` nearest to `working_spacing_mm` without
    passing it, on every axis alike (ANTs shrinks all axes by one factor per level); 1 when
    none, or when the axes would need different factors."""
    if not working_spacing_mm:
        return 1
    f = {max(1, int(np.floor(working_spacing_mm / s + 1e-6))) for s in spacing[:3]}
    return f.pop() if len(f) == 1 else 1


def rescaled_schedule(shrink, smooth, factor: int):
    """A schedule in voxels of the original grid expressed in voxels `factor` times larger
    (shrink factors below the factor become 1; sigmas scale with the voxel)."""
    return (tuple(max(1, int(round(s / factor))) for s in shrink),
            tuple(round(float(g) / factor, 3) for g in smooth))


# ANTs' own presets, as antspyx's ants.registration applies them (antspyx 0.6): QuickRigid is
# Rigid with these iterations and antspyx's default shrink, smoothing and sampling rate.
QUICK_RIGID = ((6, 4, 2, 1), (3, 2, 1, 0), (20, 20, 0, 0), 0.2)


def ants_library():
    """antspyx's compiled ANTs library (the module `ants.lib`), loaded without `import ants`:
    that import pulls in matplotlib, scipy.stats, statsmodels and scikit-learn (3.5-4 s a job
    on this project's machine) for functions registration does not use."""
    import importlib.machinery
    import importlib.util
    import sys

    if "ants.lib" in sys.modules:
        return sys.modules["ants.lib"]
    spec = importlib.util.find_spec("ants")  # locates the package without running it
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("antspyx is not installed (pip install antspyx)")
    libs = sorted(Path(next(iter(spec.submodule_search_locations))).glob("lib.*.so"))
    if not libs:
        import ants  # an unusual build: the ordinary import finds its library

        return ants.lib
    loader = importlib.machinery.ExtensionFileLoader("ants.lib", str(libs[0]))
    lib = importlib.util.module_from_spec(
        importlib.util.spec_from_file_location("ants.lib", str(libs[0]), loader=loader))
    loader.exec_module(lib)
    sys.modules["ants.lib"] = lib  # a later `import ants` reuses it instead of loading it twice
    return lib


def ants_arguments(fixed_file, moving_file, outprefix, transform_type, shrink, smooth, iters,
                   sampling_rate, seed, init="identity") -> list[str]:
    """The antsRegistration command line that antspyx's ants.registration builds for a linear
    transform (Rigid, Affine) with images given as files and no warped outputs."""
    x = "x".join
    return ["--dimensionality", "3",
            "-r", "Identity" if init == "identity" else f"[{fixed_file},{moving_file},1]",
            "--metric", f"mattes[{fixed_file},{moving_file},1,32,regular,{sampling_rate}]",
            "--transform", f"{transform_type}[0.25]",
            "--convergence", x(str(i) for i in iters),
            "--smoothing-sigmas", x(str(g) for g in smooth),
            "--shrink-factors", x(str(f) for f in shrink),
            "-u", "0", "-z", "1", "--output", f"[{outprefix}]", "-x", "[NA,NA]",
            "--random-seed", str(int(seed)), "--float", "1", "--write-composite-transform", "0"]


def run_ants(fixed, moving, tmpdir, transform_type, shrink, smooth, iters, sampling_rate, seed,
             init="identity") -> str:
    """Register two SimpleITK images with ANTs' antsRegistration; the path of the affine
    transform it writes (ITK MATLAB format, fixed -> moving points)."""
    import SimpleITK as sitk

    files = []  # MetaImage, uncompressed: its header is exact (NIfTI's rounds to float32)
    for name, img in (("fixed", fixed), ("moving", moving)):
        files.append(str(Path(tmpdir) / f"{name}.mha"))
        sitk.WriteImage(sitk.Cast(img, sitk.sitkFloat32), files[-1], useCompression=False)
    prefix = str(Path(tmpdir) / "reg_")
    rc = ants_library().antsRegistration(
        ants_arguments(*files, prefix, transform_type, shrink, smooth, iters, sampling_rate,
                       seed, init))
    if rc != 0:
        raise RuntimeError(f"antsRegistration ended with code {rc}")
    mat = Path(f"{prefix}0GenericAffine.mat")
    if not mat.exists():
        raise RuntimeError("antsRegistration wrote no transform")
    return str(mat)


def register_images(fixed, moving, transform_type: str = "Rigid", seed: int = 0,
                    fixed_mask=None, init: str = "identity", border_mm: float = 15.0,
                    roi_margin_mm: float = ROI_MARGIN_MM, sampling_rate: float = SAMPLING_RATE,
                    transform_path: str | Path | None = None,
                    schedule: tuple | None = None,
                    working_spacing_mm: float | None = WORKING_SPACING_MM) -> RegistrationResult:
    """Register `moving` to `fixed` (SimpleITK images). Never raises for a failed optimisation."""
    import SimpleITK as sitk

    if transform_type not in TRANSFORM_TYPES:
        raise ValueError(f"transform type must be one of {TRANSFORM_TYPES}")
    if init not in ("identity", "com"):
        raise ValueError("init must be 'identity' or 'com'")
    start, size = registration_region(fixed, fixed_mask, border_mm, roi_margin_mm)
    region = {"start_index": start, "size": size, "border_mm": border_mm,
              "roi_margin_mm": roi_margin_mm if fixed_mask is not None else None}
    t0 = time.perf_counter()
    tmpdir = tempfile.mkdtemp(prefix="hccer_reg_")
    try:
        sub = sitk.RegionOfInterest(fixed, size, start)
        mov = _moving_roi(moving, sub)
        if transform_type == "QuickRigid":  # ANTs' own preset (what seed-002 used)
            shrink, smooth, iters, rate = QUICK_RIGID
            kind = "Rigid"
        else:
            kind, rate = transform_type, sampling_rate
            if schedule is None:
                shrink, smooth, iters = SHRINK, SMOOTH, ITERATIONS[transform_type]
                factor = working_factor(fixed.GetSpacing(), working_spacing_mm)
                if factor > 1:  # averaged down to the finest level before ANTs sees them
                    sub, mov = (sitk.BinShrink(img, [factor] * 3) for img in (sub, mov))
                    shrink, smooth = rescaled_schedule(shrink, smooth, factor)
                region["working_shrink"] = factor
            else:
                shrink, smooth, iters = schedule
        mat = run_ants(sub, mov, tmpdir, kind, shrink, smooth, iters, rate, seed, init)
        transform = sitk.AffineTransform(sitk.ReadTransform(mat))
        if transform_path is not None:
            Path(transform_path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(mat, transform_path)
        res = RegistrationResult(transform, seconds=time.perf_counter() - t0, region=region)
    except (RuntimeError, ValueError, IndexError) as exc:
        msg = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        log.warning("registration failed: %s", msg)
        res = RegistrationResult(sitk.AffineTransform(3), ok=False,
                                 error=f"ANTs registration failed: {msg}",
                                 seconds=time.perf_counter() - t0, region=region)
        if transform_path is not None:
            sitk.WriteTransform(res.transform, str(transform_path))
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    return res


def resample_to(fixed, moving, transform, label: bool = False, default: float | None = None):
    """Moving image on the fixed grid through `transform` (linear; nearest for label masks)."""
    import SimpleITK as sitk

    if label:
        return sitk.Resample(moving, fixed, transform, sitk.sitkNearestNeighbor, 0.0,
                             sitk.sitkUInt8)
    if default is None:
        default = float(sitk.GetArrayViewFromImage(moving).min())
    return sitk.Resample(sitk.Cast(moving, sitk.sitkFloat32), fixed, transform, sitk.sitkLinear,
                         default, sitk.sitkFloat32)


def transform_summary(transform) -> dict:
    """Rotation (deg) and translation (mm) of an affine fixed->moving transform."""
    m = np.asarray(transform.GetMatrix(), float).reshape(3, 3)
    t = np.asarray(transform.GetTranslation(), float)
    c = np.asarray(transform.GetCenter(), float)
    # Displacement of the rotation centre = translation; also report it at the origin frame.
    offset = t + c - m @ c
    return {
        "matrix": m.round(8).tolist(),
        "center_mm": c.round(4).tolist(),
        "translation_mm": t.round(4).tolist(),
        "offset_mm": offset.round(4).tolist(),
        "translation_norm_mm": round(float(np.linalg.norm(t)), 4),
        "rotation_xyz_deg": [round(a, 4) for a in metrics.rotation_angles_deg(m)],
        "rotation_deg": round(metrics.rotation_magnitude_deg(m), 4),
        "scale_det": round(float(np.linalg.det(m)), 6),
    }


def _domain(fixed, moving, transform):
    """Fixed-grid voxels whose mapped point falls inside the moving image."""
    import SimpleITK as sitk

    ones = sitk.Image(moving.GetSize()[:3], sitk.sitkUInt8) + 1
    ones.CopyInformation(moving)
    return sitk.GetArrayFromImage(sitk.Resample(ones, fixed, transform, sitk.sitkNearestNeighbor,
                                                0, sitk.sitkUInt8)) > 0


def qc_metrics(fixed, moving, transform, region, fixed_mask=None, moving_mask=None) -> dict:
    """NCC and MI before (identity) and after (`transform`) inside the registration region;
    Dice of the moved mask vs the fixed mask when both are given."""
    import SimpleITK as sitk

    # Intensity metrics only ever see the region, so resample onto the region's sub-grid:
    # the same points in the same order as masking the whole grid, at a fraction of the cost.
    sub = sitk.RegionOfInterest(fixed, region["size"], region["start_index"])
    fa = sitk.GetArrayFromImage(sub).astype(np.float32)
    n_roi = max(fa.size, 1)
    out: dict = {}
    ident = sitk.AffineTransform(3)
    for tag, tx in (("before", ident), ("after", transform)):
        mv = sitk.GetArrayFromImage(resample_to(sub, moving, tx))
        sel = _domain(sub, moving, tx)
        out[f"ncc_{tag}"] = round(metrics.ncc(fa, mv, sel), 6)
        out[f"mi_{tag}"] = round(metrics.mutual_information(fa, mv, sel), 6)
        if fixed_mask is not None and moving_mask is not None:
            # Dice on the whole grid: a badly moved mask may leave the region
            mm = sitk.GetArrayFromImage(resample_to(fixed, moving_mask, tx, label=True))
            out[f"dice_{tag}"] = round(metrics.dice(sitk.GetArrayViewFromImage(fixed_mask), mm),
                                       6)
        out[f"overlap_fraction_{tag}"] = round(float(sel.sum() / n_roi), 6)
    return out


def qc_verdict(qc: dict, summary: dict, min_ncc: float, min_dice: float,
               max_translation_mm: float, max_rotation_deg: float,
               max_ncc_drop: float = 0.02) -> list[str]:
    """Reasons a registration fails QC (empty list: passed)."""
    reasons = []
    ncc_after = qc.get("ncc_after", float("nan"))
    if not np.isfinite(ncc_after) or ncc_after < min_ncc:
        reasons.append(f"NCC after registration {ncc_after:.3f} is below {min_ncc}")
    if np.isfinite(qc.get("ncc_before", np.nan)) and ncc_after < qc["ncc_before"] - max_ncc_drop:
        reasons.append(f"NCC fell from {qc['ncc_before']:.3f} to {ncc_after:.3f}")
    if "dice_after" in qc:
        d = qc["dice_after"]
        if not np.isfinite(d) or d < min_dice:
            reasons.append(f"tumour mask Dice after registration {d:.3f} is below {min_dice}")
    if summary["translation_norm_mm"] > max_translation_mm:
        reasons.append(f"translation {summary['translation_norm_mm']:.1f} mm exceeds "
                       f"{max_translation_mm} mm (implausible inter-phase motion)")
    if summary["rotation_deg"] > max_rotation_deg:
        reasons.append(f"rotation {summary['rotation_deg']:.1f} deg exceeds {max_rotation_deg} deg")
    if abs(summary["scale_det"] - 1.0) > 0.2:
        reasons.append(f"volume change {summary['scale_det']:.2f} is implausible")
    return reasons


def check_mask(mask, image, patient, mask_file, image_file, step="register"):
    """A mask must be 3D {0,1}, non-empty, and on its image's grid."""
    import SimpleITK as sitk

    from hccer.preprocess.imageio import grid_text, same_grid

    if not same_grid(mask, image):
        raise InputError(f"mask grid ({grid_text(mask)}) differs from the image grid "
                         f"({grid_text(image)}) of {image_file}", patient=patient,
                         file=mask_file, step=step)
    arr = sitk.GetArrayViewFromImage(mask)
    vals = np.unique(arr)
    if not set(vals.tolist()) <= {0, 1}:
        raise InputError(f"mask labels {vals[:10].tolist()} are not 0/1", patient=patient,
                         file=mask_file, step=step)
    if not (arr > 0).any():
        raise InputError("mask is empty (no tumour voxel)", patient=patient, file=mask_file,
                         step=step)
    return mask


def run_register(fixed_path, moving_path, out_image, out_transform, qc_path, *,
                 moving_mask_path=None, out_mask=None, fixed_mask_path=None, qc_png=None,
                 transform_type: str = "Rigid", threads: int | None = None, seed: int = 0,
                 min_ncc: float = 0.5, min_dice: float = 0.5, max_translation_mm: float = 30.0,
                 max_rotation_deg: float = 15.0, identity: bool = False, init: str = "identity",
                 patient: str | None = None, phase: str | None = None) -> dict:
    """File-level step: register, resample image (+ mask) onto the fixed grid, write QC.

    With `identity=True` (the reference phase itself) no registration runs: the moving image is
    resampled onto the fixed grid with the identity (a copy when it is the same image).
    Returns the QC record (also written to `qc_path`).
    """
    set_threads(threads)
    import SimpleITK as sitk

    from hccer.jsonio import provenance, write_json
    from hccer.preprocess.imageio import read_image, write_image
    from hccer.preprocess.resample import as_stored_type

    if (moving_mask_path is None) != (out_mask is None):
        raise ValueError("--moving-mask and --out-mask go together")
    fixed = sitk.Cast(read_image(fixed_path, patient, "register"), sitk.sitkFloat32)
    moving_stored = read_image(moving_path, patient, "register")
    moving = sitk.Cast(moving_stored, sitk.sitkFloat32)
    for img, f in ((fixed, fixed_path), (moving, moving_path)):
        if img.GetDimension() != 3:
            raise InputError(f"registration needs a 3D image, got {img.GetDimension()}D",
                             patient=patient, file=f, step="register")
    fmask = mmask = None
    if fixed_mask_path is not None:
        fmask = check_mask(read_image(fixed_mask_path, patient, "register"), fixed, patient,
                           fixed_mask_path, fixed_path)
    if moving_mask_path is not None:
        mmask = check_mask(read_image(moving_mask_path, patient, "register"), moving, patient,
                           moving_mask_path, moving_path)

    if identity:
        res = RegistrationResult(sitk.AffineTransform(3),
                                 region=dict(zip(("start_index", "size"),
                                                 registration_region(fixed, fmask), strict=True)))
        Path(out_transform).parent.mkdir(parents=True, exist_ok=True)
        sitk.WriteTransform(res.transform, str(out_transform))
    else:
        res = register_images(fixed, moving, transform_type, seed, fmask, init,
                              transform_path=out_transform)
    moved = resample_to(fixed, moving, res.transform)
    # stored like the resampled phase it came from (int16 HU for CT; see preprocess.resample)
    write_image(as_stored_type(moved, moving_stored.GetPixelID()), out_image)
    moved_mask = None
    if mmask is not None:
        moved_mask = resample_to(fixed, mmask, res.transform, label=True)
        write_image(moved_mask, out_mask)

    summary = transform_summary(res.transform)
    qc = qc_metrics(fixed, moving, res.transform, res.region, fmask, mmask)
    reasons = [] if res.ok else [res.error]
    if res.ok and not identity:
        reasons += qc_verdict(qc, summary, min_ncc, min_dice, max_translation_mm,
                              max_rotation_deg)
    if moved_mask is not None and not (sitk.GetArrayViewFromImage(moved_mask) > 0).any():
        reasons.append("the tumour mask left the reference grid after registration")
    record = {
        "patient": patient, "phase": phase, "identity": identity,
        "transform_type": None if identity else transform_type, "init": init, "seed": seed,
        "threads": threads, "passed": not reasons, "reasons": reasons,
        "thresholds": {"min_ncc": min_ncc, "min_dice": min_dice,
                       "max_translation_mm": max_translation_mm,
                       "max_rotation_deg": max_rotation_deg},
        "metrics": qc, "transform": summary, "region": res.region,
        "seconds": round(res.seconds, 3), "provenance": provenance(seed=seed),
    }
    write_json(qc_path, record)
    if qc_png is not None:
        from hccer.preprocess import qcplot

        fa = sitk.GetArrayFromImage(fixed)
        ref_mask = fmask if fmask is not None else moved_mask
        if ref_mask is not None and (sitk.GetArrayViewFromImage(ref_mask) > 0).any():
            centre = np.argwhere(sitk.GetArrayViewFromImage(ref_mask) > 0).mean(0)
        else:
            centre = np.array(fa.shape) / 2
        before = sitk.GetArrayFromImage(resample_to(fixed, moving, sitk.AffineTransform(3)))
        qcplot.registration_png(
            qc_png, fa, before, sitk.GetArrayFromImage(moved), centre,
            f"{patient or ''} {phase or ''}: {'PASS' if not reasons else 'FAIL'}".strip(),
            None if ref_mask is None else sitk.GetArrayFromImage(ref_mask))
    level = logging.INFO if not reasons else logging.WARNING
    log.log(level, "register %s %s: passed=%s ncc %.3f -> %.3f %s", patient, phase, not reasons,
            qc["ncc_before"], qc["ncc_after"], "; ".join(reasons))
    return record
