"""ROI crops for the five studies, from registered 1 mm images on the reference grid.

Modes (the preset's `crop.mode`):
  * `slices2d`: per phase, the axial slice with the largest tumour area in that phase's mask
    (the reference mask when a phase has none, or for every phase when
    `crop.slice_source: reference`), +- `neighbours` slices where the tumour is present in every
    phase; phases are paired by offset from each phase's own central slice (centre-point
    alignment). Each slice is cut to its tight 2D tumour box (+ `margin_mm`, optionally made
    square) and resized bilinearly to `size`. Array (n_slices, n_phases, H, W).
  * `voi3d`: a fixed (z, y, x) box of voxels centred on the centre of the tumour bounding box
    (slices zc-5 ... zc+4 for 10), padded with the window minimum; `SS` applies the mask after
    windowing, `NSS` does not. Arrays (n_model_phases, Z, Y, X) each.
  * `bbox3d`: the tight 3D tumour box (+ margin) of a 4D DWI stack, each b-volume resized
    trilinearly to `size`, divided by the 99.5th percentile of the b=0 crop and clipped to
    [0, clip]. Array (n_b, Z, Y, X), b ascending.
Resizing samples pixel centres of the box (the `align_corners=False` convention) and clamps at
the box edge; the box itself may extend past the volume, where the fill value is used.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from hccer.errors import InputError

log = logging.getLogger(__name__)

MODES = ("slices2d", "voi3d", "bbox3d")


# ---------------------------------------------------------------- intensity
def ct_window(a: np.ndarray, level: float, width: float) -> np.ndarray:
    """Clip to [level - width/2, level + width/2] and scale to [0, 1]."""
    lo = level - width / 2.0
    return np.clip((np.asarray(a, np.float32) - lo) / float(width), 0.0, 1.0)


def percentile_scale(a: np.ndarray, low: float, high: float) -> tuple[np.ndarray, float, float]:
    """Clip to the volume's [low, high] percentiles and scale to [0, 1]."""
    lo, hi = np.percentile(a, [low, high])
    scale = hi - lo if hi > lo else 1.0
    return np.clip((np.asarray(a, np.float32) - lo) / scale, 0.0, 1.0), float(lo), float(hi)


def normalise_volume(a: np.ndarray, spec: dict) -> tuple[np.ndarray, dict]:
    kind = spec.get("kind")
    if kind == "ct_window":
        return ct_window(a, spec["level"], spec["width"]), {"kind": kind, "level": spec["level"],
                                                           "width": spec["width"]}
    if kind == "percentile":
        out, lo, hi = percentile_scale(a, spec["low"], spec["high"])
        return out, {"kind": kind, "low": spec["low"], "high": spec["high"],
                     "low_value": lo, "high_value": hi}
    raise ValueError(f"intensity kind {kind!r} is not valid for this crop mode")


# ---------------------------------------------------------------- geometry helpers
def box_resize(a: np.ndarray, lo, hi, size, cval: float = 0.0) -> np.ndarray:
    """Resample the box of voxels lo..hi (inclusive, any dimension) to `size`, linearly.

    Output voxel i samples input coordinate lo - 0.5 + (i + 0.5) * n / size (pixel centres);
    coordinates are clamped to the box, and box voxels outside the array take `cval`.
    """
    from scipy import ndimage

    a = np.asarray(a, np.float32)
    lo = np.asarray(lo, int)
    hi = np.asarray(hi, int)
    # Cut the box first (padding with cval where it leaves the array), then interpolate.
    pad_lo = np.maximum(0, -lo)
    pad_hi = np.maximum(0, hi - (np.array(a.shape) - 1))
    sl = tuple(slice(max(0, l_), min(s, h + 1)) for l_, h, s in zip(lo, hi, a.shape, strict=True))
    patch = np.pad(a[sl], list(zip(pad_lo, pad_hi, strict=True)), constant_values=cval)
    n = np.array(patch.shape, float)
    coords = [np.clip(-0.5 + (np.arange(s) + 0.5) * n[d] / s, 0, n[d] - 1)
              for d, s in enumerate(size)]
    grid = np.meshgrid(*coords, indexing="ij")
    return ndimage.map_coordinates(patch, grid, order=1, mode="nearest").astype(np.float32)


def fixed_box(a: np.ndarray, lo, size, cval: float) -> np.ndarray:
    """Voxels lo .. lo+size-1 of `a`, with `cval` outside the array (no interpolation)."""
    lo = np.asarray(lo, int)
    hi = lo + np.asarray(size, int) - 1
    return box_resize(a, lo, hi, size, cval)


def tight_box(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    idx = np.argwhere(mask)
    return idx.min(0), idx.max(0)


def expand_box(lo, hi, margin_vox, square: bool = False):
    lo = np.asarray(lo, int) - np.asarray(margin_vox, int)
    hi = np.asarray(hi, int) + np.asarray(margin_vox, int)
    if square:
        ext = hi - lo + 1
        side = ext.max()
        grow = side - ext
        lo = lo - grow // 2
        hi = hi + (grow - grow // 2)
    return lo, hi


# ---------------------------------------------------------------- inputs
def load_inputs(images: dict, masks: dict, patient: str, four_d: bool = False):
    """Read phase images and masks; check masks are {0,1}, non-empty and share one grid."""
    import SimpleITK as sitk

    from hccer.preprocess.imageio import grid_text, read_image, same_grid

    if not images:
        raise InputError("no image given", patient=patient, step="crop")
    if not masks:
        raise InputError("no tumour mask given", patient=patient, step="crop")
    ref_phase, ref_path = next(iter(images.items()))
    imgs, arrs, msk = {}, {}, {}
    for ph, path in images.items():
        img = read_image(path, patient, "crop")
        want = 4 if four_d else 3
        if img.GetDimension() != want:
            raise InputError(f"expected a {want}D image for phase {ph}, got "
                             f"{img.GetDimension()}D", patient=patient, file=path, step="crop")
        imgs[ph] = img
        arrs[ph] = sitk.GetArrayFromImage(img).astype(np.float32)
    ref = imgs[ref_phase]
    for ph, img in imgs.items():
        if not same_grid(img, ref):
            raise InputError(f"image grid of phase {ph} ({grid_text(img)}) differs from phase "
                             f"{ref_phase} ({grid_text(ref)}) in {ref_path}; crops need images "
                             "registered onto the reference grid", patient=patient,
                             file=images[ph], step="crop")
    for ph, path in masks.items():
        m = read_image(path, patient, "crop")
        if m.GetDimension() != 3 or not same_grid(m, ref):
            raise InputError(f"mask grid ({grid_text(m)}) differs from the image grid "
                             f"({grid_text(ref)}) of {ref_path}", patient=patient, file=path,
                             step="crop")
        a = sitk.GetArrayFromImage(m)
        vals = set(np.unique(a).tolist())
        if not vals <= {0, 1}:
            raise InputError(f"mask labels {sorted(vals)[:10]} are not 0/1", patient=patient,
                             file=path, step="crop")
        if not vals & {1}:
            raise InputError("mask is empty (no tumour voxel)", patient=patient, file=path,
                             step="crop")
        msk[ph] = a.astype(bool)
    spacing_zyx = np.array(ref.GetSpacing()[:3][::-1], float)
    geom = {"spacing_xyz": list(ref.GetSpacing()[:3]), "origin_xyz": list(ref.GetOrigin()[:3]),
            "direction": list(ref.GetDirection()), "size_xyz": list(ref.GetSize())}
    return arrs, msk, spacing_zyx, ref, geom


def _phys(ref, zyx) -> list[float]:
    """Physical (x, y, z) mm of a (z, y, x) index (continuous allowed)."""
    z, y, x = (float(v) for v in zyx)
    extra = (0.0,) * (ref.GetDimension() - 3)
    return list(ref.TransformContinuousIndexToPhysicalPoint((x, y, z, *extra))[:3])


# ---------------------------------------------------------------- modes
def crop_slices2d(arrs: dict, masks: dict, spacing_zyx, crop: dict, phases: list[str],
                  reference_phase: str, patient: str, ref=None):
    """2D slice crops (see module docstring). Returns (array, meta)."""
    k = int(crop.get("neighbours", 0))
    size = tuple(int(s) for s in crop["size"])
    margin = float(crop.get("margin_mm", 0.0))
    square = bool(crop.get("square", False))
    source = crop.get("slice_source", "per_phase")
    if source not in ("per_phase", "reference"):
        raise ValueError("crop.slice_source must be 'per_phase' or 'reference'")
    fallback = reference_phase if reference_phase in masks else next(iter(masks))
    missing = [p for p in phases if p not in arrs]
    if missing:
        raise InputError(f"no registered image for phase(s) {', '.join(missing)}",
                         patient=patient, step="crop")
    use_mask = {p: (p if (source == "per_phase" and p in masks) else fallback) for p in phases}
    areas = {p: masks[use_mask[p]].sum(axis=(1, 2)) for p in phases}
    central = {p: int(np.argmax(areas[p])) for p in phases}
    offsets = [o for o in range(-k, k + 1)
               if all(0 <= central[p] + o < len(areas[p]) and areas[p][central[p] + o] > 0
                      for p in phases)]
    margin_vox = np.round(margin / spacing_zyx[1:]).astype(int)
    norm = {}
    intensity = {}
    for p in phases:
        norm[p], intensity[p] = normalise_volume(arrs[p], crop["intensity"])
    out = np.zeros((len(offsets), len(phases), *size), np.float32)
    slices = []
    for i, o in enumerate(offsets):
        for j, p in enumerate(phases):
            z = central[p] + o
            lo, hi = tight_box(masks[use_mask[p]][z])
            lo, hi = expand_box(lo, hi, margin_vox, square)
            out[i, j] = box_resize(norm[p][z], lo, hi, size, cval=0.0)
            rec = {"phase": p, "offset": o, "slice": z, "mask_phase": use_mask[p],
                   "box_yx_lo": lo.tolist(), "box_yx_hi": hi.tolist(),
                   "tumour_area_mm2": float(areas[p][z] * spacing_zyx[1] * spacing_zyx[2])}
            if ref is not None:
                rec["box_lo_mm"] = _phys(ref, (z, *lo))
                rec["box_hi_mm"] = _phys(ref, (z, *hi))
            slices.append(rec)
    # the whole central slice of each phase (display only: Fig. 1-style panels draw the
    # tumour box on it); uint8 keeps it small beside the model input
    context = np.stack([np.round(np.clip(norm[p][central[p]], 0, 1) * 255) for p in phases])
    context = context.astype(np.uint8)
    meta = {"mode": "slices2d", "arrays": {"x": list(out.shape), "context": list(context.shape)},
            "axes": "slice,phase,y,x", "context_axes": "phase,y,x (central slice, 0-255)",
            "phases": list(phases), "central_slice": central, "offsets": offsets,
            "slice_source": source, "slices": slices, "intensity": intensity,
            "tumour_volume_mm3": {p: float(masks[p].sum() * np.prod(spacing_zyx))
                                  for p in masks}}
    return {"x": out, "context": context}, meta


def crop_voi3d(arrs: dict, masks: dict, spacing_zyx, crop: dict, model_phases: list[str],
               reference_phase: str, patient: str, ref=None):
    size = tuple(int(s) for s in crop["size"])
    variants = list(crop.get("variants", ["SS", "NSS"]))
    spec = crop["intensity"]
    if spec.get("kind") != "ct_window":
        raise ValueError("voi3d expects a ct_window intensity")
    fallback = reference_phase if reference_phase in masks else next(iter(masks))
    out = {v: np.zeros((len(model_phases), *size), np.float32) for v in variants}
    boxes = []
    for j, p in enumerate(model_phases):
        if p not in arrs:
            raise InputError(f"no registered image for phase {p}", patient=patient, step="crop")
        m = masks[p] if p in masks else masks[fallback]
        tlo, thi = tight_box(m)
        centre = (tlo + thi) // 2
        lo = centre - np.array(size) // 2
        win = ct_window(arrs[p], spec["level"], spec["width"])  # pad value = window minimum = 0
        nss = fixed_box(win, lo, size, 0.0)
        box_mask = fixed_box(m.astype(np.float32), lo, size, 0.0) > 0.5
        if "NSS" in out:
            out["NSS"][j] = nss
        if "SS" in out:
            out["SS"][j] = np.where(box_mask, nss, 0.0)
        rec = {"phase": p, "mask_phase": p if p in masks else fallback,
               "centre_zyx": centre.tolist(), "box_zyx_lo": lo.tolist(),
               "box_zyx_hi": (lo + np.array(size) - 1).tolist(),
               "tumour_box_zyx": [tlo.tolist(), thi.tolist()],
               "tumour_volume_mm3": float(m.sum() * np.prod(spacing_zyx)),
               "tumour_fraction_inside": float(box_mask.sum() / max(m.sum(), 1))}
        if ref is not None:
            rec["centre_mm"] = _phys(ref, centre)
            rec["box_lo_mm"] = _phys(ref, lo)
        boxes.append(rec)
    meta = {"mode": "voi3d", "arrays": {v: list(a.shape) for v, a in out.items()},
            "axes": "phase,z,y,x", "phases": list(model_phases), "boxes": boxes,
            "intensity": {"kind": "ct_window", "level": spec["level"], "width": spec["width"],
                          "pad_value": 0.0, "ss_background": 0.0}}
    return out, meta


def read_bvals(image_path: str | Path, patient: str) -> list[float]:
    p = Path(image_path)
    name = p.name
    stem = name[:-7] if name.endswith(".nii.gz") else p.stem
    bval = p.with_name(stem + ".bval")
    if not bval.is_file():
        raise InputError("b-value file (.bval) not found next to the DWI image",
                         patient=patient, file=bval, step="crop")
    try:
        return [float(v) for v in bval.read_text().split()]
    except ValueError:
        raise InputError("b-value file holds non-numeric values", patient=patient, file=bval,
                         step="crop") from None


def crop_bbox3d(stack: np.ndarray, mask: np.ndarray, bvals: list[float], spacing_zyx,
                crop: dict, patient: str, expected_b=None, ref=None, files=None):
    """`stack` is (n_b, z, y, x) from the 4D image; `mask` (z, y, x)."""
    size = tuple(int(s) for s in crop["size"])
    spec = crop["intensity"]
    if stack.shape[0] != len(bvals):
        raise InputError(f"{len(bvals)} b-values in the .bval file but {stack.shape[0]} volumes "
                         "in the DWI stack", patient=patient, file=files, step="crop")
    if expected_b is not None and sorted(bvals) != sorted(float(b) for b in expected_b):
        raise InputError(f"b-values {bvals} differ from the study's {list(expected_b)}",
                         patient=patient, file=files, step="crop")
    order = np.argsort(bvals, kind="stable")
    if bvals[order[0]] != 0:
        raise InputError("no b=0 volume for the intensity reference", patient=patient,
                         file=files, step="crop")
    margin_vox = np.round(float(crop.get("margin_mm", 0.0)) / np.asarray(spacing_zyx)).astype(int)
    lo, hi = tight_box(mask)
    lo, hi = expand_box(lo, hi, margin_vox)
    sl = tuple(slice(max(0, a), b + 1) for a, b in zip(lo, hi, strict=True))
    b0_crop = stack[order[0]][sl]
    scale = float(np.percentile(b0_crop, float(spec.get("percentile", 99.5))))
    if not scale > 0:
        raise InputError("the b=0 signal in the tumour box is not positive", patient=patient,
                         file=files, step="crop")
    clip = float(spec.get("clip", 1.5))
    out = np.stack([np.clip(box_resize(stack[i], lo, hi, size, 0.0) / scale, 0, clip)
                    for i in order]).astype(np.float32)
    meta = {"mode": "bbox3d", "arrays": {"x": list(out.shape)}, "axes": "b,z,y,x",
            "b_values": [bvals[i] for i in order], "box_zyx_lo": lo.tolist(),
            "box_zyx_hi": hi.tolist(),
            "tumour_volume_mm3": float(mask.sum() * np.prod(spacing_zyx)),
            "intensity": {"kind": "b0_percentile", "percentile": spec.get("percentile", 99.5),
                          "b0_value": scale, "clip": clip}}
    if ref is not None:
        meta["box_lo_mm"] = _phys(ref, lo)
        meta["box_hi_mm"] = _phys(ref, hi)
    return {"x": out}, meta


# ---------------------------------------------------------------- step
def run_crop(study: Mapping, patient: str, images: dict, masks: dict, out_npz, meta_path,
             qc_png=None) -> dict:
    """File-level step: read, crop per the preset, write arrays (.npz) and metadata (.json)."""

    from hccer.jsonio import provenance, write_json, write_npz

    crop = study.get("crop") or {}
    mode = crop.get("mode")
    if mode not in MODES:
        raise ValueError(f"crop.mode must be one of {MODES}, got {mode!r}")
    phases = list(study.get("phases", []))
    ref_phase = study.get("reference_phase", phases[0] if phases else None)
    if mode == "bbox3d":
        arrs, msk, spacing, ref, geom = load_inputs(images, masks, patient, four_d=True)
        (ph, path), = list(images.items())[:1]
        mask = msk.get(ph, next(iter(msk.values())))
        bvals = read_bvals(path, patient)
        arrays, meta = crop_bbox3d(arrs[ph], mask, bvals, spacing, crop, patient,
                                   study.get("b_values"), ref, files=path)
    else:
        arrs, msk, spacing, ref, geom = load_inputs(images, masks, patient)
        for p, m in msk.items():
            for q, a in arrs.items():
                if a.shape != m.shape:
                    raise InputError(f"mask of phase {p} and image of phase {q} differ in shape",
                                     patient=patient, file=masks[p], step="crop")
        if mode == "slices2d":
            arrays, meta = crop_slices2d(arrs, msk, spacing, crop, phases, ref_phase, patient,
                                         ref)
        else:
            arrays, meta = crop_voi3d(arrs, msk, spacing, crop,
                                      list(study.get("model_phases", phases)), ref_phase,
                                      patient, ref)
    meta.update({"patient": patient, "study": study.get("key"), "grid": geom,
                 "provenance": provenance()})
    write_npz(out_npz, arrays)
    write_json(meta_path, meta)
    if qc_png is not None:
        _montage(qc_png, arrays, meta, patient)
    log.info("crop %s: %s %s", patient, mode, {k: v.shape for k, v in arrays.items()})
    return meta


def _montage(path, arrays: dict, meta: dict, patient: str) -> None:
    from hccer.preprocess import qcplot

    tiles, labels = [], []
    if meta["mode"] == "slices2d":
        x = arrays["x"]
        for i in range(x.shape[0]):
            for j, p in enumerate(meta["phases"]):
                tiles.append(x[i, j])
                labels.append(f"{p} {meta['offsets'][i]:+d}")
    elif meta["mode"] == "voi3d":
        for v, a in arrays.items():
            for j, p in enumerate(meta["phases"]):
                tiles.append(a[j, a.shape[1] // 2])
                labels.append(f"{v} {p}")
    else:
        x = arrays["x"]
        for i, b in enumerate(meta["b_values"]):
            tiles.append(np.clip(x[i, x.shape[1] // 2] / float(meta["intensity"]["clip"]), 0, 1))
            labels.append(f"b={b:g}")
    qcplot.montage_png(path, tiles, labels, f"{patient} {meta['mode']}")
