"""DICOM series → NIfTI: own stacking of pydicom pixel arrays into a SimpleITK image.

Why not ImageSeriesReader alone: it silently builds a wrong grid for tilted or unevenly spaced
stacks, and it cannot split a DWI series into b-value volumes. Here the slices are ordered along
the slice normal (see `geometry.series_geometry`), rescaled to HU / real values, and stacks that
do not fit a regular grid are resampled onto one with a logged WARNING. Enhanced multi-frame
files are read frame by frame through the same path (`dicomio.frame_headers`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hccer.errors import InputError
from hccer.ingest.dicomio import NotImage, SliceHeader, decode_pixels, frame_headers
from hccer.ingest.geometry import series_geometry

log = logging.getLogger(__name__)

# Sidecar fields copied from the headers: scanner description only, nothing that identifies
# a person, a visit or an institution.
_SIDE_FIELDS = ("modality", "manufacturer", "model", "field_strength", "kvp", "slice_thickness",
                "series_number", "description", "echo_time", "tube_current_ma",
                "exposure_modulation", "single_collimation_mm", "total_collimation_mm",
                "revolution_time_s", "pitch", "recon_diameter_mm")


def _frame_selection(files: Sequence[str | Path], frames) -> dict[Path, set[int]]:
    """`frames` ({file: [0-based frames]}) keyed by the given paths; a key may also be a path
    relative to the files' folder, as a triage status lists it."""
    if not frames:
        return {}
    out: dict[Path, set[int]] = {}
    for key, idx in frames.items():
        key = Path(key)
        match = [Path(f) for f in files if Path(f) == key or Path(f).as_posix().endswith(
            "/" + key.as_posix())]
        if not match:
            raise InputError("frame list names a file that is not among the series' files",
                             file=key.name)
        out[match[0]] = {int(i) for i in idx}
    return out


def load_slices(files: Sequence[str | Path], frames=None
                ) -> tuple[list[SliceHeader], list[np.ndarray], list]:
    """Read headers and stored pixels of the given files, one entry per slice: a single-frame
    file or a frame of an enhanced file (all its frames, or those `frames` lists for it).
    Non-image files are skipped (noted); a file listed twice is read once."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    wanted = _frame_selection(files, frames)
    headers, pixels, skipped = [], [], []
    for path in dict.fromkeys(Path(f) for f in files):
        try:
            ds = pydicom.dcmread(path)
        except InvalidDicomError:
            log.info("skipped %s: not a DICOM file", path.name)
            skipped.append(path.name)
            continue
        except Exception as exc:  # noqa: BLE001
            raise InputError(f"corrupt DICOM, cannot be read ({type(exc).__name__}: {exc})",
                             file=path) from exc
        try:
            hs = frame_headers(ds, path)
        except NotImage as exc:
            log.info("skipped %s: %s", path.name, exc)
            skipped.append(path.name)
            continue
        except InputError:
            raise
        except Exception as exc:  # noqa: BLE001 - a malformed value deep in a sequence
            raise InputError(f"corrupt DICOM header ({type(exc).__name__}: {exc})",
                             file=path) from exc
        if path in wanted:
            bad = sorted(wanted[path] - {h.frame for h in hs})
            if bad:
                raise InputError(f"frame {bad[0] + 1} is not an image frame of this file "
                                 f"({hs[0].n_frames} frames)", file=path)
            hs = [h for h in hs if h.frame in wanted[path]]
        arr = decode_pixels(path, ds=ds)
        headers.extend(hs)
        pixels.extend(arr[h.frame or 0] for h in hs)
    if not headers:
        raise InputError("no DICOM image slices found among the given files",
                         file=Path(files[0]).parent if files else None)
    return headers, pixels, skipped


def _rescaled(headers: list[SliceHeader], pixels: list[np.ndarray], order: list[int]) -> np.ndarray:
    """Stack slices in `order` as real values: int16 when that is exact, float32 otherwise."""
    slopes = {headers[i].slope for i in order}
    inters = {headers[i].intercept for i in order}
    if slopes == {1.0} and all(float(v).is_integer() for v in inters):
        stack = np.stack([pixels[i].astype(np.int32) + int(headers[i].intercept) for i in order])
        if stack.min() >= np.iinfo(np.int16).min and stack.max() <= np.iinfo(np.int16).max:
            return stack.astype(np.int16)
        return stack.astype(np.float32)
    return np.stack([pixels[i].astype(np.float64) * headers[i].slope + headers[i].intercept
                     for i in order]).astype(np.float32)


def background(modality: str, stack: np.ndarray) -> float:
    """The value of voxels outside the acquired data: air (-1024 HU) for CT, else the stack's
    minimum (MR has no absolute scale)."""
    return -1024.0 if modality.upper() == "CT" else float(stack.min())


def _linear_weights(coords: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Neighbour indices (clipped: nearest beyond the ends) and weight of the upper one for
    linear interpolation at `coords` along an axis of n samples."""
    base = np.floor(coords)
    t = (coords - base).astype(np.float32)
    base = base.astype(int)
    return np.clip(base, 0, n - 1), np.clip(base + 1, 0, n - 1), t


def _plane_sampler(shape: tuple[int, int], out_shape: tuple[int, int],
                   start: tuple[int, int], fill: float):
    """sample(plane, shift): a (rows, cols) slice read on the output's in-plane lattice, where
    output pixel (j, i) sits at (j + start_row - shift_row, i + start_col - shift_col) in the
    slice. Linear between pixel centres; a pixel covers its own footprint, so points up to half
    a pixel beyond the outer centres take the outer value; further out `fill`."""

    def sample(plane: np.ndarray, shift: tuple[float, float]) -> np.ndarray:
        if out_shape == shape and start == (0, 0) and abs(shift[0]) < 1e-6 \
                and abs(shift[1]) < 1e-6:
            return plane
        rows = np.arange(out_shape[0]) + (start[1] - shift[0])
        cols = np.arange(out_shape[1]) + (start[0] - shift[1])
        r0, r1, tr = _linear_weights(rows, shape[0])
        c0, c1, tc = _linear_weights(cols, shape[1])
        part = plane[r0] * (1 - tr)[:, None] + plane[r1] * tr[:, None]
        out = part[:, c0] * (1 - tc)[None, :] + part[:, c1] * tc[None, :]
        keep = (((rows >= -0.5) & (rows <= shape[0] - 0.5))[:, None]
                & ((cols >= -0.5) & (cols <= shape[1] - 0.5))[None, :])
        return np.where(keep, out, np.float32(fill))

    return sample


def regularise(stack: np.ndarray, geom: dict, fill: float | None = None) -> np.ndarray:
    """Resample a (slices, rows, cols) stack onto the regular grid of `geom` (linear).

    Output slice k lies at k·dz along the normal; its in-plane lattice is the first slice's,
    starting at `geom["plane_start"]` (negative when a tilted stack widens the grid). Its value
    at voxel (j, i) comes from the input slices bracketing that position, each sampled at the
    same in-plane point: input slice m has its origin shifted sideways by offsets_mm[m] (tilt),
    so the point sits at (j + j0 − v/dy, i + i0 − u/dx) in it. Linear along the normal and in
    plane, i.e. trilinear on the sheared lattice. Voxels outside the acquired slices' footprint
    take `fill`, the background (`read_series` passes `background`: -1024 HU for CT, else the
    minimum; default the stack's minimum).
    """
    pos = np.asarray(geom["positions_mm"], float)
    offs = np.asarray(geom["offsets_mm"], float)
    dx, dy, dz = geom["spacing"]
    nx, ny, nz = geom["size"]
    data = stack.astype(np.float32)
    fill = float(data.min()) if fill is None else float(fill)
    start = tuple(int(v) for v in geom.get("plane_start", (0, 0)))
    sample = _plane_sampler(data.shape[1:], (ny, nx), start, fill)
    out = np.empty((nz, ny, nx), np.float32)
    index = np.arange(len(pos), dtype=float)
    for k in range(nz):
        f = float(np.interp(k * dz, pos, index))
        lo = int(np.floor(f))
        hi = min(lo + 1, len(pos) - 1)
        w = f - lo
        u = float(np.interp(f, index, offs[:, 0]))
        v = float(np.interp(f, index, offs[:, 1]))
        shift = (v / dy, u / dx)
        out[k] = (sample(data[lo], shift) if w < 1e-6
                  else (1 - w) * sample(data[lo], shift) + w * sample(data[hi], shift))
    return out


def _to_sitk(array: np.ndarray, geom: dict):
    import SimpleITK as sitk

    img = sitk.GetImageFromArray(array)
    img.SetSpacing(geom["spacing"])
    img.SetOrigin(geom["origin"])
    img.SetDirection(geom["direction"])
    return img


def read_series(files: Sequence[str | Path], *, patient: str | None = None,
                allow_missing: bool = False, frames=None):
    """Convert the slices in `files` (one series or one split part) to a SimpleITK image.

    `files` may hold single-frame slice files and enhanced multi-frame files; `frames`
    ({file: [0-based frame indices]}, as the triage status's `frames` lists them) restricts a
    multi-frame file to the frames of one split part. Returns (image, meta). A DWI series with
    several b-values gives a 4D image (x, y, z, b) with volumes in ascending b;
    `meta["geometry"]` is the 3D grid and `meta["b_values"]` the b list. Tilted or unevenly
    spaced stacks are resampled (`regularise`), voxels outside the acquired data set to
    `background` (-1024 HU for CT, else the minimum). Raises InputError naming the patient and
    file on bad data.
    """
    import SimpleITK as sitk

    try:
        headers, pixels, skipped = load_slices(files, frames)
        geom = series_geometry(headers, allow_missing=allow_missing)
    except InputError as exc:
        raise InputError(exc.reason, patient=patient, file=exc.file) from exc
    for msg in geom["warnings"]:
        log.warning("%s%s", f"patient {patient}: " if patient else "", msg)
    vols = []
    for order in geom["volumes"]:
        stack = _rescaled(headers, pixels, order)
        if geom["resample"]:
            stack = regularise(stack, geom, background(headers[order[0]].modality, stack))
        vols.append(stack)
    dtype = np.result_type(*[v.dtype for v in vols])
    images = [_to_sitk(v.astype(dtype, copy=False), geom) for v in vols]
    image = images[0] if len(images) == 1 else sitk.JoinSeries(images)
    first = headers[geom["volumes"][0][0]]
    meta = {
        "geometry": {k: geom[k] for k in ("size", "spacing", "origin", "direction",
                                          "orientation")},
        "n_slices": geom["n_slices"],
        "n_volumes": geom["n_volumes"],
        "b_values": geom["b_values"] if geom["n_volumes"] > 1 else [],
        "tilt_deg": geom["tilt_deg"],
        "slice_step_mm": [geom["step_min_mm"], geom["step_max_mm"]],
        "resampled": geom["resample"],
        "warnings": list(geom["warnings"]),
        "skipped_files": len(skipped),
        "n_files": len({h.path for h in headers}),
        "multiframe": any(h.frame is not None for h in headers),
        "dtype": str(np.dtype(dtype)),
        "image_type": list(first.image_type),
        "transfer_syntaxes": sorted({h.transfer_syntax for h in headers}),
        "gantry_tilt_header": first.gantry_tilt,
    }
    meta.update({k: getattr(first, k) for k in _SIDE_FIELDS})
    return image, meta


def write_nifti(image, meta: dict, out: str | Path) -> list[Path]:
    """Write the image (and `.bval` next to a 4D DWI volume); returns the paths written."""
    from hccer.preprocess.imageio import write_image

    out = Path(out)
    write_image(image, out)
    written = [out]
    if meta.get("b_values"):
        from hccer.jsonio import write_text

        bval = out.with_name(out.name.removesuffix(".gz").removesuffix(".nii") + ".bval")
        write_text(bval, " ".join(f"{b:g}" for b in meta["b_values"]) + "\n")
        written.append(bval)
    return written


def list_series_files(series_dir: Path, files: Sequence[str] | None = None) -> list[Path]:
    """The files to convert: the listed ones (relative to series_dir) or every file in it."""
    series_dir = Path(series_dir)
    if files is not None:
        paths = [series_dir / f for f in files]
        missing = [p for p in paths if not p.is_file()]
        if missing:
            raise InputError(f"{len(missing)} listed file(s) do not exist, first "
                             f"{missing[0].name}", file=series_dir)
        return paths
    if not series_dir.is_dir():
        raise InputError("series folder does not exist", file=series_dir)
    return sorted(p for p in series_dir.rglob("*") if p.is_file())
