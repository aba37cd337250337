"""DICOM series → NIfTI: own stacking of pydicom pixel arrays into a SimpleITK image.

Why not ImageSeriesReader alone: it silently builds a wrong grid for tilted or unevenly spaced
stacks, and it cannot split a DWI series into b-value volumes. Here the slices are ordered along
the slice normal (see `geometry.series_geometry`), rescaled to HU / real values, and stacks that
do not fit a regular grid are resampled onto one with a logged WARNING.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hccer.errors import InputError
from hccer.ingest.dicomio import NotImage, SliceHeader, decode_pixels, header_from_dataset
from hccer.ingest.geometry import series_geometry

log = logging.getLogger(__name__)

# Sidecar fields copied from the headers: scanner description only, nothing that identifies
# a person, a visit or an institution.
_SIDE_FIELDS = ("modality", "manufacturer", "model", "field_strength", "kvp", "slice_thickness",
                "series_number", "description", "echo_time", "tube_current_ma",
                "exposure_modulation", "single_collimation_mm", "total_collimation_mm",
                "revolution_time_s", "pitch", "recon_diameter_mm")


def load_slices(files: Sequence[str | Path]) -> tuple[list[SliceHeader], list[np.ndarray], list]:
    """Read headers and stored pixels of the given files; non-image files are skipped (noted)."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    headers, pixels, skipped = [], [], []
    for f in files:
        path = Path(f)
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
            hdr = header_from_dataset(ds, path)
        except NotImage as exc:
            log.info("skipped %s: %s", path.name, exc)
            skipped.append(path.name)
            continue
        headers.append(hdr)
        pixels.append(decode_pixels(path, ds=ds)[0])
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


def regularise(stack: np.ndarray, geom: dict) -> np.ndarray:
    """Resample a (slices, rows, cols) stack onto the regular grid of `geom` (linear).

    Output slice k lies at k·dz along the normal. Its value at in-plane voxel (j, i) comes from
    the input slices bracketing that position, each sampled at the same world point: input
    slice m has its origin shifted sideways by offsets_mm[m] (tilt), so the point sits at
    (j − v/dy, i − u/dx) in it. Linear along the normal and in plane, i.e. trilinear on the
    sheared lattice. Points outside the acquired stack take the stack minimum (background).
    """
    from scipy import ndimage

    pos = np.asarray(geom["positions_mm"], float)
    offs = np.asarray(geom["offsets_mm"], float)
    dx, dy, dz = geom["spacing"]
    nz = geom["size"][2]
    data = stack.astype(np.float32)
    fill = float(data.min())
    out = np.empty((nz, data.shape[1], data.shape[2]), np.float32)
    index = np.arange(len(pos), dtype=float)
    for k in range(nz):
        f = float(np.interp(k * dz, pos, index))
        lo = int(np.floor(f))
        hi = min(lo + 1, len(pos) - 1)
        w = f - lo
        u = float(np.interp(f, index, offs[:, 0]))
        v = float(np.interp(f, index, offs[:, 1]))
        shift = (v / dy, u / dx)

        def sample(m, shift=shift):
            if abs(shift[0]) < 1e-6 and abs(shift[1]) < 1e-6:
                return data[m]
            return ndimage.shift(data[m], shift, order=1, mode="constant", cval=fill)

        out[k] = sample(lo) if w < 1e-6 else (1 - w) * sample(lo) + w * sample(hi)
    return out


def _to_sitk(array: np.ndarray, geom: dict):
    import SimpleITK as sitk

    img = sitk.GetImageFromArray(array)
    img.SetSpacing(geom["spacing"])
    img.SetOrigin(geom["origin"])
    img.SetDirection(geom["direction"])
    return img


def read_series(files: Sequence[str | Path], *, patient: str | None = None,
                allow_missing: bool = False):
    """Convert the slices in `files` (one series or one split part) to a SimpleITK image.

    Returns (image, meta). A DWI series with several b-values gives a 4D image (x, y, z, b) with
    volumes in ascending b; `meta["geometry"]` is the 3D grid and `meta["b_values"]` the b list.
    Raises InputError naming the patient and file on bad data.
    """
    import SimpleITK as sitk

    try:
        headers, pixels, skipped = load_slices(files)
        geom = series_geometry(headers, allow_missing=allow_missing)
    except InputError as exc:
        raise InputError(exc.reason, patient=patient, file=exc.file) from exc
    for msg in geom["warnings"]:
        log.warning("%s%s", f"patient {patient}: " if patient else "", msg)
    vols = []
    for order in geom["volumes"]:
        stack = _rescaled(headers, pixels, order)
        if geom["resample"]:
            stack = regularise(stack, geom)
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
