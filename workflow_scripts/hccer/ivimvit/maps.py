"""Crops of the IVIM parameter maps (ADC, D, D*, f) on the b-value stack's tumour box: the input
of the map ViT (ViT-mDL, seed-003 §4 steps 5-8).

The maps are fitted on the native DWI grid. They are resampled to the grid the `bbox3d` crop
was cut from, with the same resampler and spacing, and cut to the box recorded in that crop's
metadata, then resized to the crop size. So a map crop voxel and a b-stack crop voxel sample
the same point.

Scaling, per map: values are clipped to a physical range first (config `vit.maps.ranges`;
defaults ADC and D [0, 4e-3], D* [0, 0.5] mm²/s, f [0, 1]: the spec's ranges). Then
  * `range` (default): (v - lo) / (hi - lo), in [0, 1]. The scale is the same for every
    patient, so between-patient differences in the mean level survive, and the mean tumour D
    is the IVIM value the paper found predictive (OR 0.037).
  * `zscore`: z-score of each map within the crop (seed-003 §4 step 8). This removes the
    level and keeps only the texture.
Array `maps` (4, z, y, x) float32 in the order of MAP_NAMES; `mask` (z, y, x) uint8 holds the
tumour VOI on the same crop grid (to display the slice with the largest VOI area).
"""

from __future__ import annotations

import logging

import numpy as np

from hccer.errors import ConfigError, InputError

log = logging.getLogger(__name__)

MAP_NAMES = ("ADC", "D", "Dstar", "f")
DEFAULT_RANGES = {"ADC": (0.0, 4e-3), "D": (0.0, 4e-3), "Dstar": (0.0, 0.5), "f": (0.0, 1.0)}
SCALINGS = ("range", "zscore")


def map_settings(study: dict) -> tuple[str, dict[str, tuple[float, float]]]:
    """(scaling, {map: (lo, hi)}) from the preset's `vit.maps` block, checked."""
    block = (study.get("vit") or {}).get("maps") or {}
    scaling = block.get("scaling", "range")
    if scaling not in SCALINGS:
        raise ConfigError(f"vit.maps.scaling must be one of {SCALINGS}, not {scaling!r}")
    ranges = dict(DEFAULT_RANGES)
    for name, pair in (block.get("ranges") or {}).items():
        if name not in MAP_NAMES:
            raise ConfigError(f"vit.maps.ranges: unknown map {name!r}; maps: {MAP_NAMES}")
        lo, hi = (float(v) for v in pair)
        if not hi > lo:
            raise ConfigError(f"vit.maps.ranges.{name}: upper bound {hi} must exceed {lo}")
        ranges[name] = (lo, hi)
    return scaling, ranges


def scale_map(a: np.ndarray, lo: float, hi: float, scaling: str) -> np.ndarray:
    a = np.clip(np.asarray(a, np.float32), lo, hi)
    if scaling == "range":
        return (a - lo) / (hi - lo)
    mean, sd = float(a.mean()), float(a.std())
    # a map constant up to float32 interpolation noise has no texture: zeros, not noise * 1e6
    return (a - mean) / sd if sd > 1e-5 * abs(mean) and sd > 0 else np.zeros_like(a)


def _box(meta: dict, patient: str, file) -> tuple[np.ndarray, np.ndarray, dict]:
    if meta.get("mode") != "bbox3d":
        raise InputError(f"crop metadata is of mode {meta.get('mode')!r}; the map crop needs "
                         "the bbox3d crop of the b-value stack", patient=patient, file=file)
    try:
        lo, hi, grid = (np.array(meta["box_zyx_lo"], int), np.array(meta["box_zyx_hi"], int),
                        meta["grid"])
    except KeyError as exc:
        raise InputError(f"crop metadata lacks {exc}", patient=patient, file=file) from None
    return lo, hi, grid


def _same_as_meta(img, grid: dict, tol: float = 1e-3) -> bool:
    # the b-stack is 4D: its recorded size has the b axis last
    return (list(img.GetSize())[:3] == list(grid["size_xyz"])[:3]
            and np.allclose(img.GetSpacing()[:3], grid["spacing_xyz"], atol=tol)
            and np.allclose(img.GetOrigin()[:3], grid["origin_xyz"], atol=tol))


def crop_maps(maps: dict[str, str], mask: str, crop_meta: str, study: dict, spacing,
              patient: str, interp: str = "linear") -> tuple[dict, dict]:
    """Read, resample, cut and scale the four maps (see module docstring)."""
    import SimpleITK as sitk

    from hccer.jsonio import read_json
    from hccer.preprocess.crop import box_resize
    from hccer.preprocess.imageio import grid_text, read_image, same_grid
    from hccer.preprocess.resample import resample_image

    missing = [m for m in MAP_NAMES if m not in maps]
    if missing:
        raise InputError(f"IVIM map(s) {missing} not given", patient=patient)
    scaling, ranges = map_settings(study)
    size = tuple(int(s) for s in study["crop"]["size"])
    if len(size) != 3:
        raise ConfigError(f"crop.size must have 3 values for the map crop, not {list(size)}")
    lo, hi, grid = _box(read_json(crop_meta), patient, crop_meta)
    native = {m: read_image(maps[m], patient, "crop_maps") for m in MAP_NAMES}
    first = native[MAP_NAMES[0]]
    for m, img in native.items():
        if img.GetDimension() != 3 or not same_grid(img, first):
            raise InputError(f"map {m} ({grid_text(img)}) is not a 3D image on the grid of map "
                             f"{MAP_NAMES[0]} ({grid_text(first)})", patient=patient,
                             file=maps[m], step="crop_maps")
    m_img = read_image(mask, patient, "crop_maps")
    if not _same_as_meta(m_img, grid):
        raise InputError(f"tumour mask grid ({grid_text(m_img)}) differs from the grid the "
                         "b-value crop was cut from", patient=patient, file=mask,
                         step="crop_maps")
    out = np.zeros((len(MAP_NAMES), *size), np.float32)
    stats = {}
    for i, m in enumerate(MAP_NAMES):
        img = resample_image(native[m], spacing, interp, default=0.0, patient=patient,
                             file=maps[m])
        if not _same_as_meta(img, grid):
            raise InputError(f"map {m} resampled to {grid_text(img)} does not match the grid "
                             "of the b-value crop; were both made with the same spacing?",
                             patient=patient, file=maps[m], step="crop_maps")
        a = np.clip(sitk.GetArrayFromImage(img), *ranges[m])
        cut = box_resize(a, lo, hi, size, cval=0.0)
        if not np.isfinite(cut).all():
            raise InputError(f"map {m} holds NaN or infinite values inside the tumour box",
                             patient=patient, file=maps[m], step="crop_maps")
        out[i] = scale_map(cut, *ranges[m], scaling)
        stats[m] = {"mean_in_box": float(cut.mean()), "range": list(ranges[m])}
    voi = box_resize(sitk.GetArrayFromImage(m_img).astype(np.float32), lo, hi, size, 0.0) > 0.5
    meta = {"mode": "ivimmaps", "arrays": {"maps": list(out.shape), "mask": list(voi.shape)},
            "axes": "map,z,y,x", "maps": list(MAP_NAMES), "units": "mm2/s (f: fraction)",
            "scaling": scaling, "box_zyx_lo": lo.tolist(), "box_zyx_hi": hi.tolist(),
            "box_from": str(crop_meta), "spacing_mm": [float(s) for s in spacing],
            "interpolation": interp, "maps_in_box": stats, "patient": patient}
    return {"maps": out, "mask": voi.astype(np.uint8)}, meta


def run_crop_maps(maps: dict[str, str], mask: str, crop_meta: str, study: dict, spacing,
                  patient: str, out_npz, meta_path, qc_png=None, interp: str = "linear") -> dict:
    """File-level step: write the map crop (.npz), its metadata (.json) and a QC montage."""

    from hccer.jsonio import provenance, write_json, write_npz
    from hccer.preprocess import qcplot

    arrays, meta = crop_maps(maps, mask, crop_meta, study, spacing, patient, interp)
    meta["provenance"] = provenance()
    write_npz(out_npz, arrays)
    write_json(meta_path, meta)
    if qc_png is not None:
        x, voi = arrays["maps"], arrays["mask"]
        z = int(np.argmax(voi.sum(axis=(1, 2))))
        tiles = []
        for a in x[:, z]:
            lo, hi = float(a.min()), float(a.max())
            tiles.append((a - lo) / (hi - lo) if hi > lo else np.zeros_like(a))
        qcplot.montage_png(qc_png, tiles + [voi[z].astype(float)], [*MAP_NAMES, "VOI"],
                           f"{patient} IVIM maps ({meta['scaling']}), slice {z}")
    log.info("map crop %s: %s, %s scaling", patient, arrays["maps"].shape, meta["scaling"])
    return meta
