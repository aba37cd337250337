"""Reading DICOM headers and pixel data with pydicom, with the cheap integrity checks triage needs.

Headers are reduced to `SliceHeader`, a small record of the fields the workflow uses (geometry,
classification evidence, scanner description). Identifying values (names, IDs, dates, UIDs other
than the series UID kept in memory for grouping) are never copied into it.

An enhanced multi-frame file (Enhanced / Legacy Converted Enhanced CT and MR: one file per
series) becomes one `SliceHeader` per frame (`frame_headers`), filled from that frame's
functional groups with the shared ones as fallback, so grouping, geometry and conversion treat
its frames exactly like single-frame slice files.
"""

from __future__ import annotations

import logging
import math
import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from hccer.errors import InputError

log = logging.getLogger(__name__)

# SOP classes of objects that carry no image volume: directories, reports, presentation states,
# dose reports, raw data, waveforms, segmentations/RT objects stored next to images.
NON_IMAGE_SOP_PREFIXES = (
    "1.2.840.10008.1.3.10",        # Media Storage Directory (DICOMDIR / DIRFILE)
    "1.2.840.10008.5.1.4.1.1.88",  # structured reports, including dose SR
    "1.2.840.10008.5.1.4.1.1.11",  # presentation states
    "1.2.840.10008.5.1.4.1.1.66",  # raw data, spatial registration, segmentation
    "1.2.840.10008.5.1.4.1.1.9",   # waveforms
    "1.2.840.10008.5.1.4.1.1.104",  # encapsulated PDF/CDA
    "1.2.840.10008.5.1.4.1.1.481",  # RT objects
)
# Image storage classes of the modalities the studies read: such a file without pixel data was
# cut short (the header survives, the pixels do not), not a non-image object.
IMAGE_SOP_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.2": "CT Image Storage",
    "1.2.840.10008.5.1.4.1.1.2.1": "Enhanced CT Image Storage",
    "1.2.840.10008.5.1.4.1.1.2.2": "Legacy Converted Enhanced CT Image Storage",
    "1.2.840.10008.5.1.4.1.1.4": "MR Image Storage",
    "1.2.840.10008.5.1.4.1.1.4.1": "Enhanced MR Image Storage",
    "1.2.840.10008.5.1.4.1.1.4.4": "Legacy Converted Enhanced MR Image Storage",
}
UNCOMPRESSED_TS = {"1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2",
                   "1.2.840.10008.1.2.1.99"}
NO_CONTRAST_WORDS = {"", "NONE", "NO", "N", "0", "NIL", "-"}
PHILIPS_BVALUE = (0x2001, 0x1003)
SIEMENS_BVALUE = (0x0019, 0x100C)
GE_BVALUE = (0x0043, 0x1039)
# Functional-group sequences whose items hold raw legacy attributes (Legacy Converted Enhanced):
# read first so the proper macros (plane position, pixel measures, ...) override them.
UNASSIGNED_GROUPS = ("UnassignedSharedConvertedAttributesSequence",
                     "UnassignedPerFrameConvertedAttributesSequence")
# SliceHeader field -> keywords that carry it inside a frame's functional groups, best first.
FRAME_NUMBERS = {
    "slice_thickness": ("SliceThickness",), "spacing_between": ("SpacingBetweenSlices",),
    "echo_time": ("EffectiveEchoTime", "EchoTime"), "kvp": ("KVP",),
    "tube_current_ma": ("XRayTubeCurrentInmA", "XRayTubeCurrent"),
    "single_collimation_mm": ("SingleCollimationWidth",),
    "total_collimation_mm": ("TotalCollimationWidth",), "revolution_time_s": ("RevolutionTime",),
    "pitch": ("SpiralPitchFactor",), "recon_diameter_mm": ("ReconstructionDiameter",),
    "gantry_tilt": ("GantryDetectorTilt",), "slope": ("RescaleSlope",),
    "intercept": ("RescaleIntercept",),
}
FRAME_INTEGERS = {"temporal_id": ("TemporalPositionIndex", "TemporalPositionIdentifier"),
                  "acq_number": ("FrameAcquisitionNumber", "AcquisitionNumber")}


class NotImage(Exception):
    """A readable DICOM (or other) file that holds no image; skipped with a note."""


@dataclass
class SliceHeader:
    """The header fields of one image file that triage and convert use."""

    path: Path
    series_uid: str
    sop_class: str
    transfer_syntax: str
    modality: str
    rows: int
    cols: int
    pixel_spacing: tuple[float, float] | None  # (between rows, between columns), DICOM order
    iop: tuple[float, ...] | None
    ipp: tuple[float, float, float] | None
    n_frames: int = 1
    samples: int = 1
    bits_allocated: int = 16
    series_number: int | None = None
    description: str = ""
    image_type: tuple[str, ...] = ()
    slice_thickness: float | None = None
    spacing_between: float | None = None
    acq_number: int | None = None
    temporal_id: int | None = None
    echo_time: float | None = None
    acq_time_s: float | None = None
    bolus_start_s: float | None = None
    contrast: bool = False
    b_value: float | None = None
    gantry_tilt: float | None = None
    slope: float = 1.0
    intercept: float = 0.0
    manufacturer: str = ""
    model: str = ""
    field_strength: float | None = None
    kvp: float | None = None
    # CT acquisition (scan-characteristics tables): scanner settings, nothing personal
    tube_current_ma: float | None = None
    exposure_modulation: str = ""
    single_collimation_mm: float | None = None
    total_collimation_mm: float | None = None
    revolution_time_s: float | None = None
    pitch: float | None = None
    recon_diameter_mm: float | None = None
    frame: int | None = None  # 0-based frame of an enhanced multi-frame file; None: single-frame
    extra: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        """The file's name, with the frame (1-based, as DICOM counts) of a multi-frame file."""
        return self.path.name if self.frame is None else f"{self.path.name} frame {self.frame + 1}"


def _values(value) -> list:
    """A DICOM value as a list (multi-valued elements are sequences; empty -> [])."""
    if value is None or value == "":
        return []
    return list(value) if isinstance(value, Sequence) and not isinstance(value, str) \
        else [value]


def _num(value, cast=float):
    if value is None or value == "":
        return None
    try:
        out = cast(value)
    except (TypeError, ValueError):
        return None
    if isinstance(out, float) and not math.isfinite(out):
        return None
    return out


def parse_time(value) -> float | None:
    """DICOM TM 'HHMMSS.ffffff' (or 'HH:MM:SS') → seconds since midnight."""
    if value is None:
        return None
    text = str(value).strip().replace(":", "")
    if len(text) < 2 or not text[:2].isdigit():
        return None
    try:
        hh = int(text[0:2])
        mm = int(text[2:4]) if len(text) >= 4 else 0
        ss = float(text[4:]) if len(text) > 4 else 0.0
    except ValueError:
        return None
    return hh * 3600 + mm * 60 + ss


def format_time(seconds: float | None) -> str:
    if seconds is None:
        return ""
    s = int(seconds)
    return f"{s // 3600:02d}:{(s % 3600) // 60:02d}:{s % 60:02d}"


def _private_float(ds, tag) -> float | None:
    if tag not in ds:
        return None
    value = ds[tag].value
    if isinstance(value, bytes):  # private tag read without a dictionary VR (UN)
        if len(value) == 4:
            return float(struct.unpack("<f", value)[0])
        if len(value) == 8:
            return float(struct.unpack("<d", value)[0])
        try:
            value = value.decode("ascii").strip("\x00 ").split("\\")[0]
        except UnicodeDecodeError:
            return None
    if not isinstance(value, str | int | float):  # multi-valued element
        value = list(value)[0] if len(list(value)) else None
    return _num(value)


def b_value_of(ds) -> float | None:
    """Diffusion b-value: standard (0018,9087), then Philips, Siemens and GE private tags."""
    b = _num(ds.get("DiffusionBValue"))
    if b is None:
        b = _private_float(ds, PHILIPS_BVALUE)
    if b is None:
        b = _private_float(ds, SIEMENS_BVALUE)
    if b is None and GE_BVALUE in ds:
        ge = _private_float(ds, GE_BVALUE)
        if ge is not None:
            b = ge % 1e9  # GE stores b + 1e9 on some software versions
    return b


def header_from_dataset(ds, path: Path) -> SliceHeader:
    """Reduce a pydicom dataset to a SliceHeader; raise NotImage for non-image objects."""
    meta = getattr(ds, "file_meta", None)
    sop = str(ds.get("SOPClassUID") or (meta.get("MediaStorageSOPClassUID") if meta else "") or "")
    if any(sop.startswith(p) for p in NON_IMAGE_SOP_PREFIXES):
        raise NotImage(f"non-image object (SOP class {sop})")
    if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
        if sop in IMAGE_SOP_CLASSES:
            raise InputError(f"truncated DICOM image: a {IMAGE_SOP_CLASSES[sop]} file that "
                             f"ends before its pixel data ({path.stat().st_size} bytes)",
                             file=path)
        raise NotImage("no pixel data (not an image)")
    if not ds.get("SeriesInstanceUID"):
        raise NotImage("image without SeriesInstanceUID")
    ts = str(meta.get("TransferSyntaxUID", "")) if meta else ""
    ps = ds.get("PixelSpacing")
    iop = ds.get("ImageOrientationPatient")
    ipp = ds.get("ImagePositionPatient")
    agent = str(ds.get("ContrastBolusAgent") or "").strip()
    acq = parse_time(ds.get("AcquisitionTime") or ds.get("ContentTime") or ds.get("SeriesTime"))
    return SliceHeader(
        path=Path(path),
        series_uid=str(ds.SeriesInstanceUID),
        sop_class=sop,
        transfer_syntax=ts,
        modality=str(ds.get("Modality") or ""),
        rows=int(ds.get("Rows") or 0),
        cols=int(ds.get("Columns") or 0),
        pixel_spacing=(float(ps[0]), float(ps[1])) if ps is not None and len(ps) == 2 else None,
        iop=tuple(float(v) for v in iop) if iop is not None and len(iop) == 6 else None,
        ipp=tuple(float(v) for v in ipp) if ipp is not None and len(ipp) == 3 else None,
        n_frames=int(_num(ds.get("NumberOfFrames"), int) or 1),
        samples=int(ds.get("SamplesPerPixel") or 1),
        bits_allocated=int(ds.get("BitsAllocated") or 16),
        series_number=_num(ds.get("SeriesNumber"), int),
        description=str(ds.get("SeriesDescription") or "").strip(),
        image_type=tuple(str(v).upper() for v in (ds.get("ImageType") or ())),
        slice_thickness=_num(ds.get("SliceThickness")),
        spacing_between=_num(ds.get("SpacingBetweenSlices")),
        acq_number=_num(ds.get("AcquisitionNumber"), int),
        temporal_id=_num(ds.get("TemporalPositionIdentifier"), int),
        echo_time=_num(ds.get("EchoTime")),
        acq_time_s=acq,
        bolus_start_s=parse_time(ds.get("ContrastBolusStartTime")),
        contrast=agent.upper() not in NO_CONTRAST_WORDS,
        b_value=b_value_of(ds),
        gantry_tilt=_num(ds.get("GantryDetectorTilt")),
        slope=float(_num(ds.get("RescaleSlope")) or 1.0) if ds.get("RescaleSlope") is not None
        else 1.0,
        intercept=float(_num(ds.get("RescaleIntercept")) or 0.0),
        manufacturer=str(ds.get("Manufacturer") or ""),
        model=str(ds.get("ManufacturerModelName") or ""),
        field_strength=_num(ds.get("MagneticFieldStrength")),
        kvp=_num(ds.get("KVP")),
        tube_current_ma=_num(ds.get("XRayTubeCurrent")),
        exposure_modulation="\\".join(str(v).strip() for v in _values(
            ds.get("ExposureModulationType"))),
        single_collimation_mm=_num(ds.get("SingleCollimationWidth")),
        total_collimation_mm=_num(ds.get("TotalCollimationWidth")),
        revolution_time_s=_num(ds.get("RevolutionTime")),
        pitch=_num(ds.get("SpiralPitchFactor")),
        recon_diameter_mm=_num(ds.get("ReconstructionDiameter")),
    )


def is_enhanced(ds) -> bool:
    """True for a multi-frame image described by functional groups (enhanced CT/MR/PET,
    legacy converted enhanced): its per-frame geometry lives in those groups."""
    return "PerFrameFunctionalGroupsSequence" in ds or "SharedFunctionalGroupsSequence" in ds


def _flatten_groups(item) -> dict:
    """{keyword: value} of the attributes one level inside a functional-groups item (the first
    item of each macro sequence); the unassigned legacy attributes are overridden by macros."""
    out: dict = {}
    if item is None:
        return out
    seqs = sorted((e for e in item if e.VR == "SQ" and e.value and e.keyword),
                  key=lambda e: e.keyword not in UNASSIGNED_GROUPS)
    for seq in seqs:
        for elem in seq.value[0]:
            if elem.keyword and elem.VR != "SQ":
                out[elem.keyword] = elem.value
    return out


def _triple(value, n: int) -> tuple[float, ...] | None:
    vals = [_num(v) for v in _values(value)]
    return tuple(vals) if len(vals) == n and None not in vals else None


def _frame_header(base: SliceHeader, g: dict, k: int) -> SliceHeader:
    """One frame's header: `base` (the file's top level) updated from the frame's groups `g`."""
    ps = _triple(g.get("PixelSpacing"), 2)
    changes: dict = {
        "frame": k,
        "ipp": _triple(g.get("ImagePositionPatient"), 3) or base.ipp,
        "iop": _triple(g.get("ImageOrientationPatient"), 6) or base.iop,
        "pixel_spacing": ps or base.pixel_spacing,
        "extra": {"directionality": str(g.get("DiffusionDirectionality") or "").upper()},
    }
    for table, cast in ((FRAME_NUMBERS, float), (FRAME_INTEGERS, int)):
        for name, keys in table.items():
            value = next((v for v in (_num(g.get(key), cast) for key in keys)
                          if v is not None), None)
            if value is not None and not (name == "slope" and value == 0):  # 0: not given
                changes[name] = value
    b = _num(g.get("DiffusionBValue"))
    if b is not None:
        changes["b_value"] = b
    frame_type = _values(g.get("FrameType"))
    if frame_type:
        changes["image_type"] = tuple(str(v).upper() for v in frame_type)
    when = str(g.get("FrameAcquisitionDateTime") or g.get("AcquisitionDateTime") or "")
    if len(when) > 8:  # DT YYYYMMDDHHMMSS.f: only the time of day is kept, never the date
        changes["acq_time_s"] = parse_time(when[8:].split("+")[0].split("-")[0])
    given = str(g.get("ContrastBolusAgentAdministered") or "").upper()
    if given in ("YES", "NO"):
        changes["contrast"] = given == "YES"
    return replace(base, **changes)


def frame_headers(ds, path: Path) -> list[SliceHeader]:
    """The SliceHeaders of one file: itself, or each frame of an enhanced multi-frame file.

    A frame's geometry, rescale, b-value (MRDiffusionSequence), echo time, temporal position
    and frame type come from its per-frame functional groups, then the shared ones, then the
    top level. When a diffusion file holds isotropic (trace) frames, its directional frames are
    left out: they would repeat each position within a b-value. Raises NotImage like
    `header_from_dataset` and InputError for inconsistent functional groups.
    """
    base = header_from_dataset(ds, path)
    if not is_enhanced(ds):
        return [base]
    if base.samples != 1:
        raise InputError("colour (RGB) image, not a scanner image volume", file=path)
    per = ds.get("PerFrameFunctionalGroupsSequence") or []
    if per and len(per) != base.n_frames:
        raise InputError(f"enhanced DICOM lists {len(per)} per-frame functional groups for "
                         f"{base.n_frames} frames", file=path)
    shared = ds.get("SharedFunctionalGroupsSequence")
    common = _flatten_groups(shared[0] if shared else None)
    if not common.get("ContrastBolusAgentAdministered") and ds.get("ContrastBolusAgentSequence"):
        base = replace(base, contrast=True)  # enhanced contrast module: agent coded, not text
    hs = [_frame_header(base, {**common, **_flatten_groups(per[k] if per else None)}, k)
          for k in range(base.n_frames)]
    kinds = {h.extra["directionality"] for h in hs}
    if "ISOTROPIC" in kinds and kinds & {"DIRECTIONAL", "BMATRIX"}:
        kept = [h for h in hs if h.extra["directionality"] not in ("DIRECTIONAL", "BMATRIX")]
        log.info("%s: %d directional diffusion frames left out (isotropic frames kept)",
                 Path(path).name, len(hs) - len(kept))
        hs = kept
    return hs


def _ts_name(uid: str) -> str:
    from pydicom.uid import UID

    try:
        return f"{UID(uid).name} ({uid})"
    except Exception:  # noqa: BLE001 - a malformed UID still deserves a message
        return uid or "unknown transfer syntax"


def check_pixel_length(ds, path: Path) -> None:
    """Raise InputError if an uncompressed file is shorter than its pixel data should be."""
    ts = str(ds.file_meta.get("TransferSyntaxUID", "")) if getattr(ds, "file_meta", None) else ""
    elem = ds.get_item(0x7FE00010, keep_deferred=True)
    if elem is None:
        return
    if ts in UNCOMPRESSED_TS or not ts:
        rows, cols = int(ds.get("Rows") or 0), int(ds.get("Columns") or 0)
        spp = int(ds.get("SamplesPerPixel") or 1)
        bits = int(ds.get("BitsAllocated") or 16)
        frames = int(_num(ds.get("NumberOfFrames"), int) or 1)
        expected = rows * cols * spp * frames * bits // 8
        value_tell = getattr(elem, "value_tell", None)
        length = getattr(elem, "length", None)
        if value_tell is not None and length is not None:
            available = min(length, os.path.getsize(path) - value_tell)
        else:
            available = len(elem.value or b"")
        if available < expected:
            raise InputError(
                f"truncated or corrupt DICOM: pixel data holds {available} bytes, but "
                f"{rows}x{cols}x{frames} pixels of {bits} bits need {expected}")


def read_header(path: Path, *, check: bool = True) -> SliceHeader:
    """Read one file's header (pixel data deferred) and check its pixel data is complete.

    Raises NotImage for files that are not DICOM images and InputError for DICOM images that are
    truncated or corrupt (the message names the file). For an enhanced multi-frame file this is
    the file's top level; `read_headers` gives its frames.
    """
    return read_headers(path, check=check, frames=False)[0]


def read_headers(path: Path, *, check: bool = True, frames: bool = True) -> list[SliceHeader]:
    """`read_header`, but one SliceHeader per frame of an enhanced multi-frame file."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        ds = pydicom.dcmread(path, defer_size=1024)
    except InvalidDicomError as exc:
        raise NotImage("not a DICOM file") from exc
    except Exception as exc:  # noqa: BLE001 - any parse failure means a damaged file
        raise InputError(f"corrupt DICOM, cannot read its header ({type(exc).__name__}: "
                         f"{exc})", file=path) from exc
    try:
        hdrs = frame_headers(ds, path) if frames else [header_from_dataset(ds, path)]
    except InputError as exc:
        raise InputError(exc.reason, file=path) from exc
    except NotImage:
        raise
    except Exception as exc:  # noqa: BLE001 - a malformed value deep in a sequence
        raise InputError(f"corrupt DICOM header ({type(exc).__name__}: {exc})",
                         file=path) from exc
    if check:
        try:
            check_pixel_length(ds, path)
        except InputError as exc:
            raise InputError(exc.reason, file=path) from exc
        if hdrs[0].transfer_syntax and hdrs[0].transfer_syntax not in UNCOMPRESSED_TS:
            # Compressed: the only cheap proof the data is intact is decoding it.
            decode_pixels(path, ds=ds)
    return hdrs


def decode_pixels(path: Path, ds=None):
    """Return the stored pixel array of one file (frames, rows, cols) as read by pydicom."""
    import numpy as np
    import pydicom

    if ds is None:
        try:
            ds = pydicom.dcmread(path)
        except Exception as exc:  # noqa: BLE001
            raise InputError(f"corrupt DICOM, cannot be read ({type(exc).__name__}: {exc})",
                             file=path) from exc
    ts = str(ds.file_meta.get("TransferSyntaxUID", "")) if getattr(ds, "file_meta", None) else ""
    try:
        arr = ds.pixel_array
    except Exception as exc:  # noqa: BLE001 - decoder errors come in many types
        if ts and ts not in UNCOMPRESSED_TS:
            reason = (f"cannot decode pixel data in transfer syntax {_ts_name(ts)}: "
                      f"{type(exc).__name__}: {exc}")
        else:
            reason = f"truncated or corrupt pixel data ({type(exc).__name__}: {exc})"
        raise InputError(reason, file=path) from exc
    if int(ds.get("SamplesPerPixel") or 1) != 1:
        raise InputError("colour (RGB) image, not a scanner image volume", file=path)
    frames = int(_num(ds.get("NumberOfFrames"), int) or 1)
    return np.asarray(arr).reshape(frames, arr.shape[-2], arr.shape[-1])


def _series_uid(path: Path) -> str | None:
    """SeriesInstanceUID of a damaged file if its header can still be read."""
    import pydicom

    try:
        return str(pydicom.dcmread(path, stop_before_pixels=True).get("SeriesInstanceUID") or "")
    except Exception:  # noqa: BLE001 - the header itself is damaged
        return None


def scan_dir(root: Path) -> tuple[list[SliceHeader], list[dict], list[dict]]:
    """Read the headers of every file below `root` (recursive, sorted).

    Returns (headers, skipped, bad): `headers` has one entry per single-frame file and per frame
    of an enhanced file; `skipped` lists non-image files with the reason (logged as a note),
    `bad` lists damaged DICOM images as InputError records; paths are relative to root.
    """
    root = Path(root)
    headers: list[SliceHeader] = []
    skipped: list[dict] = []
    bad: list[dict] = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        try:
            headers.extend(read_headers(path))
        except NotImage as exc:
            log.info("skipped %s: %s", rel, exc)
            skipped.append({"file": rel, "reason": str(exc)})
        except InputError as exc:
            log.warning("unusable file %s: %s", rel, exc.reason)
            bad.append({"file": rel, "reason": exc.reason, "series_uid": _series_uid(path)})
    return headers, skipped, bad
