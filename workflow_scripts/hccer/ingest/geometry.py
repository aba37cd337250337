"""Volume geometry from slice headers: the grid a conversion produces, computed without pixels.

Slices are ordered along the slice normal n = row × column direction cosine (ImageOrientation-
Patient), as ITK/GDCM and dcm2niix do. The frames of an enhanced multi-frame file arrive as one
`SliceHeader` each (`dicomio.frame_headers`) and are checked like slice files. A stack whose
slice steps are not all equal, or whose slice origins drift sideways (gantry tilt: each
position step is not parallel to n), cannot be described by origin + spacing + orthonormal
direction. Such a stack is resampled onto a regular grid (see `hccer.ingest.convert.
regularise`) with the first slice's row/column/normal axes: along n it spans the first to the
last slice; in plane it is the first slice's pixel lattice widened to the bounding box of every
slice's pixel centres, so no acquired pixel falls outside it. The grid reported here is that
regular grid, so triage's mask check sees what convert will write.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hccer.errors import InputError
from hccer.ingest.dicomio import SliceHeader

ORIENT_TOL = 1e-4      # direction cosine agreement between slices of one volume
DUPLICATE_TOL_MM = 1e-3  # two slices closer than this along n occupy the same position
SPACING_TOL_MM = 0.01  # slice steps differing by more than this are "uneven"
TILT_TOL_MM = 0.01     # sideways drift of slice origins beyond this is "tilt"


def _as_headers(headers) -> list[SliceHeader]:
    from hccer.ingest.dicomio import header_from_dataset

    out = []
    for h in headers:
        if isinstance(h, SliceHeader):
            out.append(h)
        else:  # a pydicom Dataset
            out.append(header_from_dataset(h, getattr(h, "filename", "") or ""))
    return out


def frame(iop: Sequence[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row direction r, column direction c and slice normal n = r × c (unit vectors)."""
    r = np.asarray(iop[:3], dtype=float)
    c = np.asarray(iop[3:6], dtype=float)
    r = r / np.linalg.norm(r)
    c = c / np.linalg.norm(c)
    n = np.cross(r, c)
    return r, c, n / np.linalg.norm(n)


def orientation_label(iop: Sequence[float]) -> str:
    """'axial', 'coronal' or 'sagittal' from the dominant axis of the slice normal."""
    _, _, n = frame(iop)
    return ("sagittal", "coronal", "axial")[int(np.argmax(np.abs(n)))]


def _check_common(hs: list[SliceHeader]) -> None:
    first = hs[0]
    for h in hs:
        # Frames of enhanced files arrive one header each (frame set); other multi-frame
        # objects (legacy multi-frame MR/CT, NM, US) carry no per-frame geometry.
        where = f" ({h.label})" if h.frame is not None else ""
        if h.n_frames > 1 and h.frame is None:
            raise InputError(f"multi-frame DICOM ({h.n_frames} frames in one file) of SOP "
                             f"class {h.sop_class or 'unknown'} without per-frame functional "
                             "groups is not supported; export the series as one file per "
                             "slice or as an enhanced CT/MR object", file=h.path)
        if h.iop is None or h.ipp is None or h.pixel_spacing is None:
            missing = [name for name, v in (("ImageOrientationPatient", h.iop),
                                            ("ImagePositionPatient", h.ipp),
                                            ("PixelSpacing", h.pixel_spacing)) if v is None]
            raise InputError(f"image{where} without {', '.join(missing)}: its position in the "
                             "body is unknown", file=h.path)
        if (h.rows, h.cols) != (first.rows, first.cols):
            raise InputError(f"slice size {h.rows}x{h.cols}{where} differs from {first.rows}x"
                             f"{first.cols} of {first.label}: not one volume", file=h.path)
        if not np.allclose(h.pixel_spacing, first.pixel_spacing, atol=1e-4):
            raise InputError(f"pixel spacing {h.pixel_spacing}{where} differs from "
                             f"{first.pixel_spacing} of {first.label}: not one volume",
                             file=h.path)
        if not np.allclose(h.iop, first.iop, atol=ORIENT_TOL):
            raise InputError(f"slice orientation {h.iop}{where} differs from {first.iop} of "
                             f"{first.label}: not one volume", file=h.path)


def _volumes(hs: list[SliceHeader]) -> tuple[list[list[int]], list[float]]:
    """Split a series into 3D volumes by b-value (DWI) and return file indices per volume."""
    bs = [h.b_value for h in hs]
    distinct = sorted({round(b, 3) for b in bs if b is not None})
    if len(distinct) <= 1 or any(b is None for b in bs):
        return [list(range(len(hs)))], distinct[:1] if len(distinct) == 1 else []
    vols = [[i for i, b in enumerate(bs) if round(b, 3) == value] for value in distinct]
    return vols, distinct


def missing_slices(steps: np.ndarray, paths: list, allowed: bool,
                   files: list | None = None) -> str | None:
    """The stack's gaps: steps within 10 % of k times the regular step (k >= 2) mean k - 1
    slices are missing there. The regular step is the median of the steps up to 1.5 times the
    smallest (the median of all steps is pulled up by gaps in a short stack). Raises
    InputError naming the slices (`paths`: files or frame labels) around the first gap, and
    the file (`files`, default `paths`), unless `allowed`; then returns the warning (None
    without gaps)."""
    med = float(np.median(steps[steps <= 1.5 * steps.min()]))
    k = np.rint(steps / med)
    gaps = np.flatnonzero((k >= 2) & (np.abs(steps - k * med) <= 0.1 * med))
    if not len(gaps):
        return None
    i = int(gaps[0])
    n = int(sum(k[gaps] - 1))
    what = (f"{n} slice(s) missing from the stack: the step between {Path(paths[i]).name} and "
            f"{Path(paths[i + 1]).name} is {steps[i]:.2f} mm, {int(k[i])} times the series' "
            f"{med:.2f} mm" + (f" ({len(gaps)} gaps)" if len(gaps) > 1 else ""))
    if not allowed:
        raise InputError(what + "; set ingest.allow_missing_slices to interpolate across gaps",
                         file=(files or paths)[i + 1])
    return what + "; interpolated (ingest.allow_missing_slices)"


def _ordered_volumes(hs: list[SliceHeader], vols: list[list[int]], b_values: list[float],
                     n: np.ndarray) -> list[list[int]]:
    """Each volume's slice indices ordered along the normal n; raises InputError for two
    slices at one position, or for b-value volumes whose positions differ."""
    s_all = np.array([np.dot(h.ipp, n) for h in hs])
    ordered = []
    ref_pos = None
    for vol in vols:
        vol = sorted(vol, key=lambda i: (s_all[i], hs[i].path.name, hs[i].frame or 0))
        s = s_all[vol]
        for a, b in zip(vol[:-1], vol[1:], strict=True):
            if abs(s_all[b] - s_all[a]) < DUPLICATE_TOL_MM:
                where = f" (b={hs[a].b_value:g})" if len(vols) > 1 else ""
                why = ("diffusion directions without an isotropic (trace) image" if
                       hs[a].extra.get("directionality") == "DIRECTIONAL" else
                       "the folder mixes repeated acquisitions that cannot be told apart")
                raise InputError(
                    f"duplicate slice position{where}: {hs[a].label} and {hs[b].label} "
                    f"both lie at {s_all[a]:.3f} mm along the slice normal; {why}",
                    file=hs[b].path)
        if ref_pos is None:
            ref_pos = s
        elif len(s) != len(ref_pos) or not np.allclose(s, ref_pos, atol=1e-2):
            raise InputError(f"the b={hs[vol[0]].b_value:g} volume has {len(s)} slices at "
                             f"positions differing from the b={b_values[0]:g} volume "
                             f"({len(ref_pos)} slices)", file=hs[vol[0]].path)
        ordered.append(vol)
    return ordered


def series_geometry(headers, *, spacing_tol_mm: float = SPACING_TOL_MM,
                    tilt_tol_mm: float = TILT_TOL_MM, allow_missing: bool = False) -> dict:
    """The geometry a conversion of these slices produces (LPS, ITK conventions).

    Returns a dict with `size` (x, y, z), `spacing`, `origin`, `direction` (row-major 3×3),
    `plane_start` (the grid's first column and row in the first slice's pixel lattice: negative
    where a tilted stack widens the grid, else 0),
    `n_slices`, `volumes` (file indices per 3D volume, each ordered along the normal),
    `b_values`, `positions_mm` (slice positions along n relative to the first),
    `offsets_mm` (sideways (row, column) drift of each slice origin), `step_min/max_mm`,
    `tilt_deg`, `uneven`, `tilted`, `resample` and `warnings`.
    Raises InputError (naming a file) when the slices cannot form one consistent volume, or
    when slices are missing from the stack (a step close to a whole multiple, 2 or more, of
    the median step) unless `allow_missing`, which interpolates across the gap with a warning.
    """
    hs = _as_headers(headers)
    if not hs:
        raise InputError("no image slices given")
    _check_common(hs)
    first = hs[0]
    r, c, n = frame(first.iop)
    vols, b_values = _volumes(hs)
    ordered = _ordered_volumes(hs, vols, b_values, n)
    vol0 = ordered[0]
    ipps = np.array([hs[i].ipp for i in vol0], dtype=float)
    start, size_xy = (0, 0), (int(first.cols), int(first.rows))
    rel = ipps - ipps[0]
    pos = rel @ n
    side = rel - np.outer(pos, n)
    offsets = np.stack([side @ r, side @ c], axis=1)
    dx, dy = first.pixel_spacing[1], first.pixel_spacing[0]
    warnings: list[str] = []
    nz = len(vol0)
    if nz == 1:
        dz = first.spacing_between or first.slice_thickness or 1.0
        steps = np.array([dz])
        uneven = tilted = False
        tilt_deg = 0.0
    else:
        steps = np.diff(pos)
        uneven = float(steps.max() - steps.min()) > spacing_tol_mm
        drift = float(np.max(np.linalg.norm(offsets, axis=1)))
        tilted = drift > tilt_tol_mm
        tilt_deg = math.degrees(math.atan2(float(np.linalg.norm(offsets[-1])), float(pos[-1])))
        if tilted:
            start, size_xy = _plane_extent(offsets, (dx, dy), (first.cols, first.rows))
            warnings.append(
                f"gantry tilt: slice origins drift {drift:.2f} mm sideways over the stack "
                f"(tilt {tilt_deg:.2f} deg, header GantryDetectorTilt "
                f"{first.gantry_tilt if first.gantry_tilt is not None else 'absent'}); "
                f"resampled onto a regular grid (linear), widened from {first.cols}x"
                f"{first.rows} to {size_xy[0]}x{size_xy[1]} in plane to keep every acquired "
                "pixel")
        if uneven:
            gap = missing_slices(steps, [hs[i].label for i in vol0], allow_missing,
                                 [hs[i].path for i in vol0])
            if gap:
                warnings.append(gap)
            warnings.append(
                f"uneven slice spacing: steps range {steps.min():.3f}-{steps.max():.3f} mm; "
                "resampled onto a regular grid (linear)")
        if tilted or uneven:
            dz0 = float(np.median(steps))
            nz = int(math.floor(pos[-1] / dz0 + 0.5)) + 1  # half rounds up
            dz = float(pos[-1] / (nz - 1))
        else:
            dz = float(pos[-1] / (nz - 1))
    direction = np.stack([r, c, n], axis=1)  # columns: x, y, z axes
    origin = ipps[0] + start[0] * dx * r + start[1] * dy * c
    return {
        "size": [int(size_xy[0]), int(size_xy[1]), int(nz)],
        "spacing": [float(dx), float(dy), float(dz)],
        "origin": [float(v) for v in origin],
        "plane_start": [int(start[0]), int(start[1])],
        "direction": [float(v) for v in direction.ravel()],
        "orientation": orientation_label(first.iop),
        "n_slices": len(vol0),
        "n_volumes": len(ordered),
        "volumes": ordered,
        "b_values": [float(b) for b in b_values] if len(ordered) > 1 or b_values else [],
        "positions_mm": [float(v) for v in pos],
        "offsets_mm": offsets.tolist(),
        "step_min_mm": float(steps.min()),
        "step_max_mm": float(steps.max()),
        "tilt_deg": float(tilt_deg),
        "uneven": bool(uneven),
        "tilted": bool(tilted),
        "resample": bool(uneven or tilted),
        "warnings": warnings,
    }


def _plane_extent(offsets: np.ndarray, spacing: tuple[float, float],
                  shape: tuple[int, int]) -> tuple[tuple[int, int], tuple[int, int]]:
    """(start, size) in the first slice's pixel lattice of the bounding box of every slice's
    pixel centres, given each slice origin's sideways (row, column) offset in mm."""
    sp = np.asarray(spacing, float)
    eps = 1e-6  # a rounding error in an offset must not add a whole column
    lo = np.floor(offsets.min(axis=0) / sp + eps).astype(int)
    hi = np.ceil(offsets.max(axis=0) / sp - eps).astype(int) + np.asarray(shape) - 1
    lo = np.minimum(lo, 0)
    hi = np.maximum(hi, np.asarray(shape) - 1)
    return (int(lo[0]), int(lo[1])), (int(hi[0] - lo[0] + 1), int(hi[1] - lo[1] + 1))


def same_grid(a: dict, b: dict, *, mm_tol: float = 1e-3, dir_tol: float = 1e-4) -> list[str]:
    """Differences between two grids (size, spacing, origin, direction); empty if equal."""
    diffs = []
    if list(a["size"]) != list(b["size"]):
        diffs.append(f"size {list(a['size'])} vs {list(b['size'])}")
    for key, tol in (("spacing", mm_tol), ("origin", mm_tol), ("direction", dir_tol)):
        va, vb = np.asarray(a[key], float), np.asarray(b[key], float)
        if va.shape != vb.shape or not np.allclose(va, vb, atol=tol, rtol=0):
            fmt = ", ".join(f"{v:.4f}" for v in va)
            fmt_b = ", ".join(f"{v:.4f}" for v in vb)
            diffs.append(f"{key} ({fmt}) vs ({fmt_b})")
    return diffs
