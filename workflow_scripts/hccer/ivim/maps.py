"""Fit a 4D DWI volume into ADC/D/D*/f maps on the DWI grid and summarise them over tumour VOIs.

Arrays here are (z, y, x) for maps and (z, y, x, b) for the DWI, as numpy sees SimpleITK images.
Map NIfTIs hold finite values only (0 where nothing was fitted, so a later linear resampling to
1 mm does not spread NaN); the fit-status mask next to them says which voxels hold a fit.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from hccer.errors import InputError
from hccer.ivim import fit

log = logging.getLogger(__name__)

MAP_NAMES = ("ADC", "D", "Dstar", "f")
# Scale from the stored unit (mm²/s) to the reported one (×10⁻³ mm²/s); f is a fraction.
REPORT_SCALE = {"ADC": 1e3, "D": 1e3, "Dstar": 1e3, "f": 1.0}
REPORT_UNIT = {"ADC": "1e-3 mm2/s", "D": "1e-3 mm2/s", "Dstar": "1e-3 mm2/s", "f": "fraction"}


def map_path(prefix: str | Path, name: str) -> Path:
    return Path(f"{prefix}_desc-{name}_map.nii.gz")


def status_path(prefix: str | Path) -> Path:
    return Path(f"{prefix}_desc-fitstatus_mask.nii.gz")


def read_bval(path: str | Path, patient: str | None = None) -> np.ndarray:
    path = Path(path)
    if not path.is_file():
        raise InputError("b-value file (.bval) not found", patient=patient, file=path)
    try:
        vals = np.array([float(v) for v in path.read_text().split()])
    except ValueError:
        raise InputError("b-value file holds non-numeric values", patient=patient,
                         file=path) from None
    if vals.size == 0:
        raise InputError("b-value file is empty", patient=patient, file=path)
    return vals


def default_bval_path(dwi: str | Path) -> Path:
    """The `.bval` that `hccer convert` writes next to a 4D DWI NIfTI."""
    p = Path(dwi)
    stem = p.name.removesuffix(".gz").removesuffix(".nii")
    return p.with_name(stem + ".bval")


def load_dwi(path: str | Path, bval: np.ndarray, patient: str | None = None):
    """(array (z, y, x, b) float64, 3D reference image carrying the grid)."""
    import SimpleITK as sitk

    from hccer.preprocess.imageio import read_image

    img = read_image(path, patient, step="ivim")
    if img.GetDimension() != 4:
        raise InputError(f"expected a 4D DWI (one volume per b-value), got a "
                         f"{img.GetDimension()}D image", patient=patient, file=path)
    arr = sitk.GetArrayFromImage(img)                  # (b, z, y, x)
    if arr.shape[0] != bval.size:
        raise InputError(f"the DWI has {arr.shape[0]} b-volumes but the .bval lists "
                         f"{bval.size} b-values", patient=patient, file=path)
    size = list(img.GetSize())
    ref = sitk.Extract(img, size[:3] + [0], [0, 0, 0, 0])
    return np.moveaxis(arr.astype(np.float64), 0, -1), ref


def load_mask(path: str | Path, ref, patient: str | None = None, shown: str | None = None
              ) -> np.ndarray:
    """Boolean tumour mask; it must lie on the DWI grid (masks are drawn on the b = 1000 image).
    `shown` names it in messages instead of its path."""
    import SimpleITK as sitk

    from hccer.preprocess.imageio import grid_text, read_image, same_grid

    img = read_image(path, patient, step="ivim", shown=shown)
    path = shown or path
    if img.GetDimension() != 3 or not same_grid(img, ref):
        raise InputError(f"the mask grid ({grid_text(img)}) differs from the DWI grid "
                         f"({grid_text(ref)}); draw the VOI on the DWI series itself",
                         patient=patient, file=path)
    m = sitk.GetArrayFromImage(img) > 0
    if not m.any():
        raise InputError("the tumour mask is empty", patient=patient, file=path)
    return m


def fit_volume(dwi: np.ndarray, b: np.ndarray, settings: dict) -> dict[str, np.ndarray]:
    """All maps of one DWI volume: ADC, D, Dstar, f (mm²/s, fraction; NaN unfitted), status."""
    s0 = dwi[..., b == 0].mean(-1) if (b == 0).any() else None
    if s0 is None:
        raise InputError(f"no b = 0 volume among the b-values {b.tolist()}")
    fg = fit.background_mask(s0, settings.get("s0_fraction", 0.05),
                             settings.get("s0_percentile", 99.0))
    seg = fit.fit_ivim_segmented(
        dwi, b, b_threshold=settings.get("b_threshold", 200.0), mask=fg,
        d_bounds=tuple(settings.get("d_bounds", fit.D_BOUNDS)),
        dstar_bounds=tuple(settings.get("dstar_bounds", fit.DSTAR_BOUNDS)),
        f_bounds=tuple(settings.get("f_bounds", fit.F_BOUNDS)),
        n_grid=int(settings.get("dstar_grid", 100)))
    adc = fit.fit_adc(dwi, b, mask=fg)["adc"]
    return {"ADC": adc, "D": seg.d, "Dstar": seg.dstar, "f": seg.f, "status": seg.status}


def write_maps(maps: dict[str, np.ndarray], ref, prefix: str | Path) -> list[Path]:
    """NIfTI maps on the DWI grid (float32, 0 where unfitted) and the uint8 fit-status mask."""
    import SimpleITK as sitk

    from hccer.preprocess.imageio import write_image

    written = []
    for name in MAP_NAMES:
        img = sitk.GetImageFromArray(np.nan_to_num(maps[name], nan=0.0).astype(np.float32))
        img.CopyInformation(ref)
        write_image(img, map_path(prefix, name))
        written.append(map_path(prefix, name))
    img = sitk.GetImageFromArray(maps["status"].astype(np.uint8))
    img.CopyInformation(ref)
    write_image(img, status_path(prefix))
    written.append(status_path(prefix))
    return written


def voi_stats(maps: dict[str, np.ndarray], mask: np.ndarray) -> dict:
    """Mean (and SD, median) of each map over the VOI in reported units, with voxel counts.

    Unfitted voxels (background, failed fits, D* where f = 0) are left out of that map's
    statistics; the counts say how many.
    """
    status = maps["status"][mask]
    out = {
        "n_voxels": int(mask.sum()),
        "n_fitted": int(np.isin(status, (fit.STATUS_OK, fit.STATUS_DSTAR_UNDEFINED)).sum()),
        "n_failed": int((status == fit.STATUS_FAILED).sum()),
        "n_background": int((status == fit.STATUS_BACKGROUND).sum()),
        "n_dstar_undefined": int((status == fit.STATUS_DSTAR_UNDEFINED).sum()),
    }
    for name in MAP_NAMES:
        v = maps[name][mask] * REPORT_SCALE[name]
        v = v[np.isfinite(v)]
        out[name] = float(v.mean()) if v.size else float("nan")
        out[f"{name}_sd"] = float(v.std(ddof=1)) if v.size > 1 else float("nan")
        out[f"{name}_median"] = float(np.median(v)) if v.size else float("nan")
        out[f"{name}_n"] = int(v.size)
    return out


def largest_slice(mask: np.ndarray) -> int:
    """Axial index (z) with the largest VOI area."""
    return int(np.argmax(mask.reshape(mask.shape[0], -1).sum(1)))
