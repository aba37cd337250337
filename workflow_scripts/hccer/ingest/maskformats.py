"""Tumour masks in the formats hospitals export, read as one binary mask on a series' grid.

Three kinds, told apart by the file's DICOM header (never by its extension):

- "image": NIfTI, NRRD or any other SimpleITK-readable volume, single- or multi-label;
- "seg": DICOM Segmentation (binary, fractional or label-map), read with highdicom;
- "rtstruct": DICOM RT Structure Set, whose closed planar contours are rasterised here.

`load_mask` returns the mask on the grid of `reference`, the series as this project converts it
(`hccer.ingest.convert.read_series`). DICOM masks are *placed*, never resampled: every SEG frame
and every contour must lie on a slice plane of that grid (within `PLANE_TOL` voxels), else the
mask is refused, so a mask drawn on another series or grid cannot slip through as a blurred copy.

Every failure is an `InputError` naming the file (basename only) with a one-line reason. Values
of identifying header fields (patient name, IDs, ...) are scrubbed from every message, including
the texts of library exceptions and user-typed segment or ROI names.
"""

from __future__ import annotations

import logging
import math
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hccer.errors import InputError

log = logging.getLogger(__name__)

SEG_SOP_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.66.4": "Segmentation Storage",
    "1.2.840.10008.5.1.4.1.1.66.7": "Label Map Segmentation Storage",
}
RTSTRUCT_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.481.3"

PLANE_TOL = 0.1     # voxels: how far a SEG frame or contour may sit off the grid's planes
DIR_TOL = 1e-3      # direction cosines of SEG frames vs the grid
SPACING_TOL = 1e-3  # mm: SEG pixel spacing vs the grid
SNAP = 1e-3         # voxels: contour vertices this close to a lattice line are put on it

# Header fields whose values must never reach a message (a reader may also type a patient's
# name into a segment label or ROI name).
_IDENTIFYING = ("PatientName", "PatientID", "OtherPatientIDs", "OtherPatientNames",
                "PatientBirthDate", "IssuerOfPatientID", "AccessionNumber", "StudyID",
                "InstitutionName", "InstitutionAddress", "ReferringPhysicianName",
                "PerformingPhysicianName", "OperatorsName", "PhysiciansOfRecord",
                "ContentCreatorName", "PatientAddress", "PatientTelephoneNumbers")


# ---------------------------------------------------------------------------------- headers


def _header(path: Path):
    """The DICOM header of `path` (pixels not read), or None when the file is not DICOM."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    if not path.is_file():
        raise InputError("mask file does not exist", file=path.name)
    try:
        with warnings.catch_warnings():
            # pydicom's value warnings are noise here and may quote header values
            warnings.simplefilter("ignore")
            return pydicom.dcmread(path, stop_before_pixels=True)
    except InvalidDicomError:
        return None  # no DICOM preamble/meta: an image file for SimpleITK
    except Exception as exc:  # noqa: BLE001 - any parse failure means a damaged file
        raise InputError(f"corrupt DICOM, cannot read its header ({type(exc).__name__})",
                         file=path.name) from exc


def _sop_class(ds) -> str:
    meta = getattr(ds, "file_meta", None)
    return str(ds.get("SOPClassUID") or (meta.get("MediaStorageSOPClassUID") if meta else "")
               or "")


def _kind_of(path: Path, ds) -> str:
    if ds is None:
        return "image"
    sop = _sop_class(ds)
    if sop in SEG_SOP_CLASSES:
        return "seg"
    if sop == RTSTRUCT_SOP_CLASS:
        return "rtstruct"
    from pydicom.uid import UID

    if not sop:
        raise InputError("DICOM header names no SOP class (corrupt or incomplete file?); "
                         "cannot tell a DICOM-SEG or RTSTRUCT mask", file=path.name)
    raise InputError(f"mask file is a DICOM {UID(sop).name} object, neither a segmentation "
                     "(DICOM-SEG) nor an RT structure set; export the mask as SEG, RTSTRUCT "
                     "or NIfTI", file=path.name)


def mask_kind(path: str | Path) -> str:
    """"seg", "rtstruct" or "image" (NIfTI/NRRD/...), from the DICOM header when there is one.

    Raises InputError for a missing file, a corrupt DICOM header, or a DICOM object that is
    neither SEG nor RTSTRUCT (e.g. a CT slice listed as a mask).
    """
    path = Path(path)
    return _kind_of(path, _header(path))


def _secrets(ds) -> list[str]:
    """Identifying values (and name components) present in a header, longest first."""
    found: set[str] = set()
    if ds is None:
        return []
    for key in _IDENTIFYING:
        value = ds.get(key)
        if value in (None, ""):
            continue
        values = value if isinstance(value, Sequence) and not isinstance(value, str) else [value]
        for v in values:
            text = str(v).strip()
            parts = [text] + re.split(r"[\^=\s]+", text)
            found.update(p for p in parts if len(p) >= 3)
    return sorted(found, key=len, reverse=True)


def _scrub(text: str, ds) -> str:
    """One line, at most 300 characters, with identifying header values blanked."""
    text = " ".join(str(text).split())
    for secret in _secrets(ds):
        # whole words only: a short name part must not blank the middle of ordinary words
        text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(secret)}(?![A-Za-z0-9])", "[redacted]",
                      text, flags=re.IGNORECASE)
    return text if len(text) <= 300 else text[:297] + "..."


def _fail(reason: str, path: Path, ds, exc: BaseException | None = None) -> InputError:
    """An InputError for `path`; a library exception contributes its (scrubbed) text."""
    if exc is not None:
        detail = str(exc).strip()
        reason += f" ({type(exc).__name__}{': ' + detail if detail else ''})"
    return InputError(_scrub(reason, ds), file=path.name)


# ------------------------------------------------------------------------ series references


def instance_index(files: Iterable[str | Path]) -> dict[str, str]:
    """SOPInstanceUID → SeriesInstanceUID of readable DICOM files (others are skipped).

    For `referenced_series_uid` / `check_reference` when a mask names only the images it was
    drawn on (SEG without ReferencedSeriesSequence, RTSTRUCT without referenced frame of
    reference): build it from the patient's image files.
    """
    import pydicom

    index = {}
    for f in files:
        try:
            ds = pydicom.dcmread(f, stop_before_pixels=True,
                                 specific_tags=["SOPInstanceUID", "SeriesInstanceUID"])
        except Exception:  # noqa: BLE001 - unreadable files are triage's business, not ours
            continue
        if ds.get("SOPInstanceUID") and ds.get("SeriesInstanceUID"):
            index[str(ds.SOPInstanceUID)] = str(ds.SeriesInstanceUID)
    return index


def _items(ds, *keywords):
    """Items reached by walking nested sequences `keywords` from `ds`."""
    level = [ds]
    for key in keywords:
        level = [item for parent in level for item in (parent.get(key) or [])]
    return level


def _referenced_instances(ds, kind: str) -> set[str]:
    if kind == "seg":
        refs = _items(ds, "PerFrameFunctionalGroupsSequence", "DerivationImageSequence",
                      "SourceImageSequence")
        refs += _items(ds, "SharedFunctionalGroupsSequence", "DerivationImageSequence",
                       "SourceImageSequence")
    else:
        refs = _items(ds, "ROIContourSequence", "ContourSequence", "ContourImageSequence")
        refs += _items(ds, "ReferencedFrameOfReferenceSequence", "RTReferencedStudySequence",
                       "RTReferencedSeriesSequence", "ContourImageSequence")
    return {str(r.ReferencedSOPInstanceUID) for r in refs if r.get("ReferencedSOPInstanceUID")}


def _referenced_series(ds, kind: str, instances: Mapping[str, str] | None) -> list[str]:
    """Series UIDs the mask names in its header, else those of the images it references."""
    if kind == "seg":
        series = _items(ds, "ReferencedSeriesSequence")
        series += _items(ds, "StudiesContainingOtherReferencedInstancesSequence",
                         "ReferencedSeriesSequence")
    else:
        series = _items(ds, "ReferencedFrameOfReferenceSequence", "RTReferencedStudySequence",
                        "RTReferencedSeriesSequence")
    uids = list(dict.fromkeys(str(s.SeriesInstanceUID) for s in series
                              if s.get("SeriesInstanceUID")))
    if uids or not instances:
        return uids
    found = (instances.get(u) for u in sorted(_referenced_instances(ds, kind)))
    return sorted({u for u in found if u})


def _series_refs(path: Path, instances: Mapping[str, str] | None):
    """(header, the series UIDs a SEG/RTSTRUCT refers to); (header, None) for image masks."""
    ds = _header(path)
    kind = _kind_of(path, ds)
    return ds, None if kind == "image" else _referenced_series(ds, kind, instances)


def referenced_series_uid(path: str | Path, *,
                          instances: Mapping[str, str] | None = None) -> str | None:
    """The SeriesInstanceUID a SEG/RTSTRUCT was drawn on; None for image masks or when unknown.

    Taken from the header (SEG: ReferencedSeriesSequence; RTSTRUCT: ReferencedFrameOfReference
    → RTReferencedStudy → RTReferencedSeries); failing that, from the referenced images
    (per-frame SourceImageSequence / ContourImageSequence) looked up in `instances`
    (see `instance_index`). A mask naming several series is an InputError.
    """
    path = Path(path)
    ds, uids = _series_refs(path, instances)
    if uids is None:
        return None
    if len(uids) > 1:
        raise _fail(f"mask refers to {len(uids)} series ({', '.join(uids)}); a tumour mask "
                    "must be drawn on one", path, ds)
    return uids[0] if uids else None


def check_reference(path: str | Path, chosen_series_uid: str, *,
                    instances: Mapping[str, str] | None = None) -> str | None:
    """A problem message when a SEG/RTSTRUCT was drawn on another series than the one chosen.

    None when the mask refers to `chosen_series_uid` (among others, for a multi-series
    structure set) and for image masks. A DICOM mask that names no series at all (and whose
    referenced images are not in `instances`) also gets a message: it cannot be confirmed.
    """
    _, uids = _series_refs(Path(path), instances)
    if uids is None:
        return None
    if not uids:
        return (f"mask names no referenced series (nor images of a known series); cannot "
                f"confirm it was drawn on series {chosen_series_uid}")
    if chosen_series_uid in uids:
        return None
    return (f"mask refers to series {', '.join(uids)}, but the manifest chose series "
            f"{chosen_series_uid} for this phase")


# ------------------------------------------------------------------------------ placement


@dataclass
class _Plane:
    """One 2-D mask plane with its patient geometry (LPS mm)."""

    ipp: np.ndarray          # centre of the first transmitted pixel
    row_dir: np.ndarray      # along a row: column index grows (DICOM IOP[:3])
    col_dir: np.ndarray      # down a column: row index grows (DICOM IOP[3:])
    spacing: tuple[float, float]  # (between rows, between columns), DICOM PixelSpacing order
    mask: np.ndarray         # bool (rows, cols)


class _Grid:
    """The reference grid: index ↔ LPS mapping and size in array order (z, y, x)."""

    def __init__(self, reference):
        if reference is None:
            raise ValueError("DICOM-SEG and RTSTRUCT masks need the reference series image")
        if reference.GetDimension() != 3:
            raise ValueError("reference must be a 3-D image (one volume of the series)")
        self.image = reference
        self.origin = np.asarray(reference.GetOrigin(), float)
        self.spacing = np.asarray(reference.GetSpacing(), float)
        self.direction = np.asarray(reference.GetDirection(), float).reshape(3, 3)
        self.shape = tuple(reference.GetSize()[::-1])
        self.to_index = np.linalg.inv(self.direction * self.spacing)

    def index(self, points: np.ndarray) -> np.ndarray:
        """Continuous (i, j, k) of LPS points (..., 3); same as
        TransformPhysicalPointToContinuousIndex, vectorised."""
        return (np.asarray(points, float) - self.origin) @ self.to_index.T

    def as_image(self, array: np.ndarray):
        import SimpleITK as sitk

        out = sitk.GetImageFromArray(array.astype(np.uint8))
        out.CopyInformation(self.image)
        return out


def _paste(planes: list[_Plane], grid: _Grid, path: Path, ds, what: str) -> np.ndarray:
    """OR the planes into a (z, y, x) uint8 array; each must lie on the grid exactly."""
    out = np.zeros(grid.shape, np.uint8)
    nz, ny, nx = grid.shape
    for plane in planes:
        if not plane.mask.any():
            continue  # empty frames carry nothing to place; their geometry does not matter
        if not (np.allclose(plane.row_dir, grid.direction[:, 0], atol=DIR_TOL)
                and np.allclose(plane.col_dir, grid.direction[:, 1], atol=DIR_TOL)):
            shown = ", ".join(f"{v:.4f}" for v in (*plane.row_dir, *plane.col_dir))
            grid_iop = ", ".join(f"{v:.4f}" for v in (*grid.direction[:, 0],
                                                       *grid.direction[:, 1]))
            raise _fail(f"{what} orientation ({shown}) differs from the series' ({grid_iop}); "
                        "the mask was drawn on another grid", path, ds)
        if (abs(plane.spacing[1] - grid.spacing[0]) > SPACING_TOL
                or abs(plane.spacing[0] - grid.spacing[1]) > SPACING_TOL):
            raise _fail(f"{what} pixel spacing {plane.spacing[0]:g} x {plane.spacing[1]:g} mm "
                        f"differs from the series' {grid.spacing[1]:g} x {grid.spacing[0]:g} "
                        "mm; the mask was drawn on another grid", path, ds)
        i, j, k = grid.index(plane.ipp)
        ri, rj, rk = round(i), round(j), round(k)
        if max(abs(i - ri), abs(j - rj), abs(k - rk)) > PLANE_TOL:
            raise _fail(f"{what} at grid index ({i:.2f}, {j:.2f}, {k:.2f}) is off the series' "
                        "voxel lattice (mask drawn on another grid, or the series was "
                        "resampled at conversion, e.g. for gantry tilt or uneven spacing)",
                        path, ds)
        if not 0 <= rk < nz:
            raise _fail(f"{what} lies at slice {rk}, outside the series' slices 0-{nz - 1}",
                        path, ds)
        rows, cols = plane.mask.shape
        y0, x0 = max(rj, 0), max(ri, 0)
        y1, x1 = min(rj + rows, ny), min(ri + cols, nx)
        inner = np.zeros_like(plane.mask)
        if y1 > y0 and x1 > x0:
            inner[y0 - rj:y1 - rj, x0 - ri:x1 - ri] = True
        if (plane.mask & ~inner).any():
            raise _fail(f"{what} at slice {rk} extends beyond the series' {nx}x{ny} image",
                        path, ds)
        if y1 > y0 and x1 > x0:
            out[rk, y0:y1, x0:x1] |= plane.mask[y0 - rj:y1 - rj, x0 - ri:x1 - ri]
    return out


# ------------------------------------------------------------------------------------ SEG


def _choose_segment(seg, segment: str | None, path: Path, ds) -> int:
    """Segment number by SegmentLabel (first) or SegmentNumber; the only one when omitted."""
    found = [(int(item.SegmentNumber), str(item.get("SegmentLabel") or ""))
             for item in seg.SegmentSequence]
    listing = ", ".join(f"{n} {label!r}" for n, label in found)
    if segment is None:
        if len(found) == 1:
            return found[0][0]
        raise _fail(f"DICOM-SEG holds {len(found)} segments ({listing}); name the one to use "
                    "(segment label or number)", path, ds)
    by_label = [n for n, label in found if label == segment]
    if len(by_label) == 1:
        return by_label[0]
    if len(by_label) > 1:
        raise _fail(f"segment label {segment!r} is used by segments "
                    f"{', '.join(map(str, by_label))}; name the segment by number", path, ds)
    if segment.strip().isdigit() and int(segment) in {n for n, _ in found}:
        return int(segment)
    raise _fail(f"no segment {segment!r} in the DICOM-SEG; segments: {listing}", path, ds)


def _source_planes(series_files: Sequence[str | Path]) -> dict[str, dict]:
    """SOPInstanceUID → plane geometry of the series' single-frame images."""
    import pydicom

    planes = {}
    for f in series_files:
        try:
            s = pydicom.dcmread(f, stop_before_pixels=True, specific_tags=[
                "SOPInstanceUID", "ImagePositionPatient", "ImageOrientationPatient",
                "PixelSpacing", "NumberOfFrames"])
        except Exception:  # noqa: BLE001 - not an image of the series; triage reports those
            continue
        if (s.get("SOPInstanceUID") and s.get("ImagePositionPatient") is not None
                and s.get("ImageOrientationPatient") is not None and s.get("PixelSpacing")
                and int(s.get("NumberOfFrames") or 1) == 1):
            iop = np.asarray(s.ImageOrientationPatient, float)
            planes[str(s.SOPInstanceUID)] = {
                "ipp": np.asarray(s.ImagePositionPatient, float), "row_dir": iop[:3],
                "col_dir": iop[3:], "spacing": tuple(float(v) for v in s.PixelSpacing)}
    return planes


def _seg_planes_by_source(seg, number: int, series_files, path: Path, ds) -> list[_Plane] | None:
    """Frames placed by the source images they were derived from (geometry of those images).

    None when the SEG cannot be indexed by source instance (no frame references, or spatial
    locations not declared preserved): the caller then uses the frames' own plane positions.
    """
    sources = _source_planes(series_files)
    referenced = _referenced_instances(ds, "seg")
    uids = [u for u in sources if u in referenced]
    if referenced and not uids:
        raise _fail("none of the DICOM-SEG's frames refers to an image of the given series "
                    f"({len(sources)} images); it was drawn on another series", path, ds)
    if not uids:
        return None
    try:
        pixels = seg.get_pixels_by_source_instance(
            uids, segment_numbers=[number], assert_missing_frames_are_empty=True)
    except (RuntimeError, KeyError, ValueError) as exc:
        log.info("%s: frames not indexable by source image (%s); placing them by their own "
                 "plane positions", path.name, type(exc).__name__)
        return None
    # Fractional segmentations come rescaled to [0, 1]; a voxel is tumour from 0.5 on.
    masks = pixels[..., 0] >= 0.5 if pixels.dtype.kind == "f" else pixels[..., 0] > 0
    return [_Plane(mask=m, **sources[u]) for u, m in zip(uids, masks, strict=True)]


def _seg_planes_by_position(seg, number: int, path: Path, ds) -> list[_Plane]:
    """Frames placed by their own Plane Position / Orientation (via highdicom's volume)."""
    try:
        volume = seg.get_volume(segment_numbers=[number])
    except Exception as exc:  # noqa: BLE001 - highdicom raises several types for bad layouts
        raise _fail("cannot place the DICOM-SEG's frames in space", path, ds, exc) from exc
    affine = np.asarray(volume.affine, float)
    array = np.asarray(volume.array)
    array = array[..., 0] if array.ndim == 4 else array
    masks = array >= 0.5 if array.dtype.kind == "f" else array > 0
    down, along = affine[:3, 1], affine[:3, 2]  # volume axes: (slice, row, column)
    spacing = (float(np.linalg.norm(down)), float(np.linalg.norm(along)))
    return [_Plane(ipp=affine[:3, 3] + k * affine[:3, 0], row_dir=along / spacing[1],
                   col_dir=down / spacing[0], spacing=spacing, mask=masks[k])
            for k in range(masks.shape[0])]


def _check_pixel_length(seg, path: Path, ds) -> None:
    """Refuse a native (uncompressed) SEG whose pixel data is shorter than its frames need:
    pydicom reads a truncated file without complaint and the last frames would come out
    blank."""
    from pydicom.uid import UID

    syntax = UID(str(seg.file_meta.get("TransferSyntaxUID", "")))
    if "PixelData" not in seg or (syntax and syntax.is_compressed):
        return
    bits = (int(seg.Rows) * int(seg.Columns) * int(seg.get("NumberOfFrames") or 1)
            * int(seg.get("SamplesPerPixel") or 1) * int(seg.BitsAllocated))
    have = len(seg.PixelData)
    if have < math.ceil(bits / 8):
        raise _fail(f"truncated DICOM-SEG: pixel data holds {have} bytes, its frames need "
                    f"{math.ceil(bits / 8)}", path, ds)


def _load_seg(path: Path, ds, segment, series_files, grid: _Grid):
    import highdicom as hd

    try:
        seg = hd.seg.segread(path)
    except Exception as exc:  # noqa: BLE001 - truncated or malformed objects fail in many ways
        raise _fail("corrupt or unreadable DICOM-SEG", path, ds, exc) from exc
    _check_pixel_length(seg, path, ds)
    number = _choose_segment(seg, segment, path, ds)
    planes = None
    if series_files:
        planes = _seg_planes_by_source(seg, number, series_files, path, ds)
    if planes is None:
        planes = _seg_planes_by_position(seg, number, path, ds)
    return _paste(planes, grid, path, ds, f"segment {number} frame")


# ------------------------------------------------------------------------------- RTSTRUCT


def _polygon(xy: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(strictly inside, on the outline) pixel-centre masks of one closed polygon.

    `xy` holds (column, row) continuous indices. Inside is the even-odd scanline rule; the
    outline is kept separately because contours drawn through boundary pixel centres (as
    rt-utils and many planning systems write them) must keep those pixels.
    """
    ny, nx = shape
    inside = np.zeros(shape, bool)
    edge = np.zeros(shape, bool)
    xy = np.where(np.abs(xy - np.round(xy)) < SNAP, np.round(xy), xy)  # float noise off
    x1, y1 = xy[:, 0], xy[:, 1]
    x2, y2 = np.roll(x1, -1), np.roll(y1, -1)
    for j in range(max(0, math.ceil(y1.min())), min(ny - 1, math.floor(y1.max())) + 1):
        crosses = (y1 <= j) != (y2 <= j)  # half-open: each vertex counted once
        if not crosses.any():
            continue
        xs = np.sort(x1[crosses] + (j - y1[crosses]) * (x2[crosses] - x1[crosses])
                     / (y2[crosses] - y1[crosses]))
        for a, b in zip(xs[0::2], xs[1::2], strict=True):
            lo, hi = max(math.floor(a) + 1, 0), min(math.ceil(b) - 1, nx - 1)
            if hi >= lo:
                inside[j, lo:hi + 1] = True
    for ax, ay, bx, by in zip(x1, y1, x2, y2, strict=True):
        if ay == by:
            if ay.is_integer() and 0 <= ay < ny:
                lo, hi = max(math.ceil(min(ax, bx)), 0), min(math.floor(max(ax, bx)), nx - 1)
                if hi >= lo:
                    edge[int(ay), lo:hi + 1] = True
            continue
        rows = np.arange(max(math.ceil(min(ay, by)), 0), min(math.floor(max(ay, by)), ny - 1) + 1)
        xs = ax + (rows - ay) * (bx - ax) / (by - ay)
        on = (np.abs(xs - np.round(xs)) < SNAP) & (np.round(xs) >= 0) & (np.round(xs) < nx)
        edge[rows[on], np.round(xs[on]).astype(int)] = True
    return inside, edge


def _load_rtstruct(path: Path, header, segment, grid: _Grid):
    import pydicom

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(path)
    except Exception as exc:  # noqa: BLE001
        raise _fail("corrupt or unreadable RT structure set", path, header, exc) from exc
    rois = [(int(r.ROINumber), str(r.get("ROIName") or ""))
            for r in ds.get("StructureSetROISequence") or [] if r.get("ROINumber") is not None]
    listing = ", ".join(repr(name) for _, name in rois) or "none"
    if segment is None:
        if len(rois) != 1:
            raise _fail(f"RT structure set holds {len(rois)} ROIs ({listing}); name the one "
                        "to use (ROI name)", path, ds)
        number, name = rois[0]
    else:
        matches = [(n, name) for n, name in rois if name == segment]
        if not matches:
            raise _fail(f"no ROI named {segment!r} in the RT structure set; ROIs: {listing}",
                        path, ds)
        if len(matches) > 1:
            raise _fail(f"{len(matches)} ROIs are named {segment!r}; keep one", path, ds)
        number, name = matches[0]
    contours = [c for item in ds.get("ROIContourSequence") or []
                if item.get("ReferencedROINumber") is not None
                and int(item.ReferencedROINumber) == number
                for c in item.get("ContourSequence") or []]
    closed = [c for c in contours
              if str(c.get("ContourGeometricType") or "CLOSED_PLANAR") == "CLOSED_PLANAR"]
    if not closed:
        raise _fail(f"ROI {name!r} has no closed planar contours ({len(contours)} contour(s) "
                    "of other types)", path, ds)
    nz, ny, nx = grid.shape
    inside = np.zeros(grid.shape, bool)
    edge = np.zeros(grid.shape, bool)
    for n, contour in enumerate(closed, start=1):
        data = np.asarray(contour.get("ContourData") or [], float)
        declared = contour.get("NumberOfContourPoints")
        # pydicom reads a truncated file without complaint; a short point list shows it
        if data.size == 0 or data.size % 3 or (declared is not None
                                                and int(declared) * 3 != data.size):
            raise _fail(f"contour {n} of ROI {name!r} has {data.size} coordinates for "
                        f"{declared if declared is not None else 'unstated'} points "
                        "(truncated or corrupt file?)", path, ds)
        ijk = grid.index(data.reshape(-1, 3))
        k = round(float(np.median(ijk[:, 2])))
        off = float(np.abs(ijk[:, 2] - k).max())
        if off > PLANE_TOL:
            raise _fail(f"contour {n} of ROI {name!r} is not on a slice plane of the series "
                        f"(slice index {ijk[:, 2].min():.2f}-{ijk[:, 2].max():.2f}); drawn on "
                        "another grid, or the series was resampled at conversion", path, ds)
        if not 0 <= k < nz:
            raise _fail(f"contour {n} of ROI {name!r} lies at slice {k}, outside the series' "
                        f"slices 0-{nz - 1}", path, ds)
        if (ijk[:, 0].min() < -0.5 or ijk[:, 0].max() > nx - 0.5 or ijk[:, 1].min() < -0.5
                or ijk[:, 1].max() > ny - 0.5):
            raise _fail(f"contour {n} of ROI {name!r} at slice {k} extends beyond the series' "
                        f"{nx}x{ny} image", path, ds)
        ins, on = _polygon(ijk[:, :2], (ny, nx))
        inside[k] ^= ins  # several contours on one slice: XOR, so inner ones cut holes
        edge[k] |= on
    return (inside | edge).astype(np.uint8)


# ----------------------------------------------------------------------------------- image


def _load_image(path: Path, segment):
    import SimpleITK as sitk

    try:
        image = sitk.ReadImage(str(path))
    except RuntimeError as exc:
        raise InputError("mask file cannot be read as an image (corrupt, or not NIfTI/NRRD/"
                         "DICOM-SEG/RTSTRUCT)", file=path.name) from exc
    if image.GetNumberOfComponentsPerPixel() != 1:
        return image  # masks.check_masks reports non-scalar masks
    array = sitk.GetArrayViewFromImage(image)
    labels = [v for v in np.unique(array).tolist() if v != 0]
    shown = ", ".join(f"{v:g}" for v in labels[:8]) + (" ..." if len(labels) > 8 else "")
    if segment is None:
        if len(labels) > 1:
            raise InputError(f"multi-label mask (labels {shown}); name the label to use as "
                             "the segment", file=path.name)
        return image
    try:
        value = float(segment)
    except ValueError:
        raise InputError(f"segment {segment!r} is not a label number; the mask holds labels "
                         f"{shown or 'none'}", file=path.name) from None
    if value not in labels:
        raise InputError(f"label {segment} is not in the mask; labels: {shown or 'none'}",
                         file=path.name)
    out = sitk.GetImageFromArray((array == value).astype(np.uint8))
    out.CopyInformation(image)
    return out


# ------------------------------------------------------------------------------------ API


def load_mask(path: str | Path, *, segment: str | None = None,
              series_files: Sequence[str | Path] | None = None, reference=None):
    """The tumour mask in `path` as a SimpleITK image.

    - image kind: returned as read when it holds one label (masks.check_masks judges labels and
      grid); `segment` picks one integer label of a multi-label file (→ uint8 0/1, same grid).
      A multi-label file without `segment` is an error listing its labels.
    - seg: `segment` is a SegmentLabel (exact) or SegmentNumber, optional with one segment.
      With `series_files` (the series' DICOM files) frames are placed by the source images they
      reference; otherwise, or when the SEG does not allow it, by their own plane positions.
      Fractional segments are thresholded at 0.5.
    - rtstruct: `segment` is the exact ROIName, optional with one ROI; closed planar contours
      are filled (pixel centres inside or on the outline; several on one slice XOR-combined).

    SEG and RTSTRUCT need `reference` (the converted 3-D series) and give uint8 0/1 on its grid.
    Bad data raises InputError naming the file; a missing reference raises ValueError.
    """
    path = Path(path)
    ds = _header(path)
    kind = _kind_of(path, ds)
    segment = None if segment is None or str(segment).strip() == "" else str(segment)
    if kind == "image":
        return _load_image(path, segment)
    grid = _Grid(reference)
    if kind == "seg":
        array = _load_seg(path, ds, segment, series_files, grid)
    else:
        array = _load_rtstruct(path, ds, segment, grid)
    return grid.as_image(array)
