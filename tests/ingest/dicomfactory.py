"""Tiny pydicom-written series for ingest tests: known geometry, values a known function of the
world position, and canary values in identifying tags (they must never reach an output)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, MRImageStorage, generate_uid

CANARIES = {"PatientName": "CANARYNAME^ZQX", "PatientID": "CANARYID987",
            "AccessionNumber": "CANARYACC55", "InstitutionName": "CANARY HOSPITAL",
            "ReferringPhysicianName": "CANARYDOC^Q", "PatientBirthDate": "19230405"}


def linear_field(points: np.ndarray) -> np.ndarray:
    """Value at world points (..., 3): linear, so linear resampling reproduces it exactly."""
    return 200.0 + 0.5 * points[..., 0] + 1.0 * points[..., 1] + 2.0 * points[..., 2]


def write_series(folder: Path, *, n: int = 6, rows: int = 8, cols: int = 10,
                 spacing=(1.5, 1.25), iop=(1, 0, 0, 0, 1, 0), origin=(-5.0, -7.0, 10.0),
                 step=(0.0, 0.0, 3.0), positions: list[float] | None = None,
                 modality: str = "CT", description: str = "Abdomen 5.0 B30f",
                 contrast: str | None = None, acq_time: str = "101500",
                 bolus_time: str | None = None, series_uid: str | None = None,
                 image_type=("ORIGINAL", "PRIMARY", "AXIAL"), b_values=None,
                 b_tag: str = "standard", slope: float = 1.0, intercept: float = -1024.0,
                 echo_time: float | None = None, acq_numbers=None, prefix: str = "IM",
                 series_number: int = 3, shuffle: bool = True,
                 field=linear_field, drift=(0.0, 0.0, 0.0)) -> list[Path]:
    """Write one series; slice k sits at origin + k*step (or at positions[k] along the
    normal, plus positions[k] * drift sideways: a tilted, unevenly spaced stack).

    Stored values are round((field(world) - intercept) / slope). With b_values the whole stack
    is repeated per b-value with value field + b/10. Returns the written paths.
    """
    folder.mkdir(parents=True, exist_ok=True)
    series_uid = series_uid or generate_uid()
    study_uid = "1.2.826.0.1.3680043.8.498.1"
    r = np.asarray(iop[:3], float)
    c = np.asarray(iop[3:], float)
    origin = np.asarray(origin, float)
    if positions is not None:
        n = len(positions)
        starts = [origin + np.cross(r, c) * p + np.asarray(drift, float) * p for p in positions]
    else:
        starts = [origin + k * np.asarray(step, float) for k in range(n)]
    bs = list(b_values) if b_values is not None else [None]
    jj, ii = np.mgrid[0:rows, 0:cols]
    paths = []
    rng = np.random.default_rng(7)
    order = rng.permutation(n * len(bs)) if shuffle else np.arange(n * len(bs))
    idx = 0
    for b in bs:
        for k, start in enumerate(starts):
            world = (start[None, None, :] + ii[..., None] * spacing[1] * r
                     + jj[..., None] * spacing[0] * c)
            value = field(world) + (b / 10.0 if b is not None else 0.0)
            stored = np.round((value - intercept) / slope).astype(np.int16)
            ds = Dataset()
            sop = CTImageStorage if modality == "CT" else MRImageStorage
            meta = FileMetaDataset()
            meta.MediaStorageSOPClassUID = sop
            meta.MediaStorageSOPInstanceUID = generate_uid()
            meta.TransferSyntaxUID = ExplicitVRLittleEndian
            ds.file_meta = meta
            ds.SOPClassUID = sop
            ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
            for key, val in CANARIES.items():
                setattr(ds, key, val)
            ds.StudyInstanceUID = study_uid
            ds.SeriesInstanceUID = series_uid
            ds.StudyDate = "20010812"
            ds.Modality = modality
            ds.Manufacturer = "SIEMENS"
            ds.ManufacturerModelName = "SOMATOM Test"
            ds.SeriesNumber = series_number
            ds.InstanceNumber = idx + 1
            ds.SeriesDescription = description
            ds.ImageType = list(image_type)
            ds.AcquisitionTime = acq_time
            ds.AcquisitionNumber = (acq_numbers[k] if acq_numbers is not None else 1)
            if contrast:
                ds.ContrastBolusAgent = contrast
            if bolus_time:
                ds.ContrastBolusStartTime = bolus_time
            if echo_time is not None:
                ds.EchoTime = echo_time
            if b is not None:
                if b_tag == "philips":
                    block = ds.private_block(0x2001, "Philips Imaging DD 001", create=True)
                    block.add_new(0x03, "FL", float(b))
                else:
                    ds.DiffusionBValue = float(b)
            ds.ImageOrientationPatient = [float(v) for v in iop]
            ds.ImagePositionPatient = [float(v) for v in start]
            ds.PixelSpacing = [float(spacing[0]), float(spacing[1])]
            ds.SliceThickness = 3.0
            ds.Rows, ds.Columns = rows, cols
            ds.SamplesPerPixel = 1
            ds.PhotometricInterpretation = "MONOCHROME2"
            ds.BitsAllocated = ds.BitsStored = 16
            ds.HighBit = 15
            ds.PixelRepresentation = 1
            ds.RescaleSlope = slope
            ds.RescaleIntercept = intercept
            ds.PixelData = stored.tobytes()
            path = folder / f"{prefix}{int(order[idx]):04d}.dcm"
            ds.save_as(path, enforce_file_format=True)
            paths.append(path)
            idx += 1
    return paths


PHILIPS_B = (0x2001, 0x1003)
MACROS = {  # functional-group macro -> (sequence, attributes taken from the slice file)
    "orientation": ("PlaneOrientationSequence", ("ImageOrientationPatient",)),
    "measures": ("PixelMeasuresSequence", ("PixelSpacing", "SliceThickness")),
    "transform": ("PixelValueTransformationSequence", ("RescaleSlope", "RescaleIntercept")),
}


def _item(**values) -> Dataset:
    item = Dataset()
    for key, value in values.items():
        setattr(item, key, value)
    return item


def _b_value(ds) -> float | None:
    if "DiffusionBValue" in ds:
        return float(ds.DiffusionBValue)
    if PHILIPS_B in ds:
        return float(ds[PHILIPS_B].value)
    return None


def _frame_groups(ds, shared: tuple[str, ...], mr: bool, b: float | None,
                  directionality: str | None, index: tuple[int, int]) -> Dataset:
    """The per-frame functional groups of one slice file's dataset; `index` is (position in
    its stack, 1-based along the normal; temporal position / volume, 1-based)."""
    group = Dataset()
    group.FrameContentSequence = [_item(
        FrameAcquisitionNumber=int(ds.AcquisitionNumber), StackID="1",
        InStackPositionNumber=index[0], TemporalPositionIndex=index[1],
        DimensionIndexValues=[1, index[0], index[1]],
        FrameAcquisitionDateTime=str(ds.StudyDate) + str(ds.AcquisitionTime))]
    group.PlanePositionSequence = [_item(ImagePositionPatient=list(ds.ImagePositionPatient))]
    for name, (seq, keys) in MACROS.items():
        if name not in shared:
            setattr(group, seq, [_item(**{k: ds.get(k) for k in keys})])
    frame_type = [*list(ds.ImageType)[:3], "NONE"][:4]
    if mr:
        group.MRImageFrameTypeSequence = [_item(FrameType=frame_type)]
        if "EchoTime" in ds:
            group.MREchoSequence = [_item(EffectiveEchoTime=float(ds.EchoTime))]
        if b is not None:
            group.MRDiffusionSequence = [_item(
                DiffusionBValue=b, DiffusionDirectionality=directionality or (
                    "NONE" if b == 0 else "ISOTROPIC"))]
    else:
        group.CTImageFrameTypeSequence = [_item(FrameType=frame_type)]
    return group


def write_enhanced(sources, path: Path, *, shared=("orientation", "measures", "transform"),
                   shuffle: bool = True, directional: bool = False, legacy: bool = False,
                   rle: bool = False, spacing_between: float | None = None,
                   manufacturer: str | None = None) -> Path:
    """One enhanced CT/MR file (Legacy Converted Enhanced with `legacy`) holding the slices of
    the single-frame files `sources` (as `write_series` writes them), so both forms of the same
    data can be compared. Top-level attributes (canaries included) come from the first file.

    Each frame's functional groups carry its position, frame type, FrameContentSequence
    (dimension indices stack / in-stack position / temporal position, the latter numbering
    the volumes: acquisition numbers, then b-values) and, for MR with b-values, an
    MRDiffusionSequence (b = 0 NONE, else ISOTROPIC). The macros named in `shared` (orientation, measures,
    transform) go to the SharedFunctionalGroupsSequence, the others per frame. Frames are
    stored in a shuffled order unless not `shuffle`; `directional` adds three DIRECTIONAL
    frames (different values) per b > 0 slice, which a reader must leave out; `rle` stores the
    pixels RLE-compressed; `spacing_between` adds SpacingBetweenSlices to the shared pixel
    measures, as scanners write it (dcm2niix takes the slice step from it, or else from the
    first two frames in file order, so a shuffled file needs it); `manufacturer` replaces the
    sources' (dcm2niix orders the volumes of a 4-D enhanced file by its dimension indices
    only for Philips, the vendor that writes such files)."""
    dss = [pydicom.dcmread(f) for f in sources]
    first = dss[0]
    mr = first.Modality == "MR"
    frames = []  # (dataset, stored pixels, b-value, directionality)
    for d in dss:
        b = _b_value(d)
        frames.append((d, d.pixel_array, b, None))
        if directional and b:
            frames += [(d, d.pixel_array + 7 * (g + 1), b, "DIRECTIONAL") for g in range(3)]
    iop = np.asarray(first.ImageOrientationPatient, float)
    normal = np.cross(iop[:3], iop[3:])
    volumes = sorted({(int(d.AcquisitionNumber), b or 0.0, kind or "") for d, _, b, kind in frames})
    index = []
    for d, _, b, kind in frames:
        vol = (int(d.AcquisitionNumber), b or 0.0, kind or "")
        here = sorted(float(np.dot(o.ImagePositionPatient, normal)) for o, _, ob, ok in frames
                      if (int(o.AcquisitionNumber), ob or 0.0, ok or "") == vol)
        index.append((here.index(float(np.dot(d.ImagePositionPatient, normal))) + 1,
                      volumes.index(vol) + 1))
    if shuffle:
        order = np.random.default_rng(11).permutation(len(frames))
        frames, index = [frames[i] for i in order], [index[i] for i in order]
    sop = ("1.2.840.10008.5.1.4.1.1.4.4" if legacy else "1.2.840.10008.5.1.4.1.1.4.1") if mr \
        else ("1.2.840.10008.5.1.4.1.1.2.2" if legacy else "1.2.840.10008.5.1.4.1.1.2.1")
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = sop
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    for key in (*CANARIES, "StudyInstanceUID", "SeriesInstanceUID", "StudyDate", "Modality",
                "Manufacturer", "ManufacturerModelName", "SeriesNumber", "SeriesDescription",
                "ImageType", "ContrastBolusAgent", "ContrastBolusStartTime", "Rows", "Columns",
                "SamplesPerPixel", "PhotometricInterpretation", "BitsAllocated", "BitsStored",
                "HighBit", "PixelRepresentation"):
        if key in first:
            setattr(ds, key, first.get(key))
    if manufacturer:
        ds.Manufacturer = manufacturer
    ds.InstanceNumber = 1
    ds.AcquisitionDateTime = str(first.StudyDate) + str(first.AcquisitionTime)
    ds.NumberOfFrames = len(frames)
    group = Dataset()
    for name in shared:
        seq, keys = MACROS[name]
        setattr(group, seq, [_item(**{k: first.get(k) for k in keys})])
    if spacing_between is not None:
        if "PixelMeasuresSequence" not in group:
            group.PixelMeasuresSequence = [Dataset()]
        group.PixelMeasuresSequence[0].SpacingBetweenSlices = spacing_between
    ds.SharedFunctionalGroupsSequence = [group]
    ds.DimensionIndexSequence = [_item(DimensionIndexPointer=tag, FunctionalGroupPointer=0x00209111)
                                 for tag in (0x00209056, 0x00209057, 0x00209128)]
    ds.PerFrameFunctionalGroupsSequence = [
        _frame_groups(d, shared, mr, b, kind, idx)
        for (d, _, b, kind), idx in zip(frames, index, strict=True)]
    ds.PixelData = np.stack([px for _, px, _, _ in frames]).astype(np.int16).tobytes()
    if rle:
        from pydicom.uid import RLELossless

        ds.compress(RLELossless, encoding_plugin="pydicom")
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def tilt_headers(sources, folder: Path, *, column=(0.0, 0.9483237, -0.3173047),
                 tilt_deg: float = -18.5) -> list[Path]:
    """Copies of real axial slice files re-labelled as a gantry-tilted stack the way Philips
    writes one (dcm_qa_ct S21610/S2010: the image plane's column direction is tilted and the
    slice origins step along z only): the pixels are the real ones, the geometry a tilted one.
    Identifying values are replaced by the canaries."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for f in sources:
        ds = pydicom.dcmread(f)
        if "PixelData" not in ds:
            continue
        ds.ImageOrientationPatient = [1.0, 0.0, 0.0, *[float(v) for v in column]]
        ds.GantryDetectorTilt = tilt_deg
        for key, val in CANARIES.items():
            setattr(ds, key, val)
        path = folder / Path(f).name
        ds.save_as(path)
        out.append(path)
    return out


def write_non_image(path: Path) -> Path:
    """A directory-record object (like DICOMDIR / DIRFILE): DICOM but not an image."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.1.3.10"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.FileSetID = "SET"
    ds.PatientName = CANARIES["PatientName"]
    ds.save_as(path, enforce_file_format=True)
    return path


def read_value(path: Path, keyword: str):
    return pydicom.dcmread(path, stop_before_pixels=True).get(keyword)


def acquired_pixels(files) -> dict:
    """Every acquired pixel of single-frame slice files or enhanced files, each slice (frame)
    placed from its own ImagePositionPatient / ImageOrientationPatient / PixelSpacing, read
    straight from the files with pydicom so the check does not lean on the code under test.

    Returns arrays over all pixels: `points` (N, 3) LPS, `values` (rescaled), `lo` / `hi` (the
    range of the pixel's 3x3 neighbourhood in its slice) and `rim` (on the slice's border)."""
    from scipy import ndimage

    out: dict[str, list] = {"points": [], "values": [], "lo": [], "hi": [], "rim": []}
    for f in files:
        ds = pydicom.dcmread(f)
        if "PixelData" not in ds:
            continue
        arr = ds.pixel_array.reshape(-1, ds.Rows, ds.Columns).astype(float)
        per = ds.get("PerFrameFunctionalGroupsSequence")
        shared = ds.get("SharedFunctionalGroupsSequence")
        for k, plane in enumerate(arr):
            items = [it for it in ((per[k] if per else None), (shared[0] if shared else None))
                     if it is not None]

            def get(seq, kw, items=items, ds=ds):
                for item in items:
                    if seq in item and kw in item[seq][0]:
                        return item[seq][0][kw].value
                return ds.get(kw)

            ipp = np.array(get("PlanePositionSequence", "ImagePositionPatient"), float)
            iop = np.array(get("PlaneOrientationSequence", "ImageOrientationPatient"), float)
            ps = np.array(get("PixelMeasuresSequence", "PixelSpacing"), float)
            slope = get("PixelValueTransformationSequence", "RescaleSlope")
            inter = get("PixelValueTransformationSequence", "RescaleIntercept")
            value = (plane * float(slope if slope is not None else 1.0)
                     + float(inter if inter is not None else 0.0))
            jj, ii = np.mgrid[0:ds.Rows, 0:ds.Columns]
            world = ipp + ii[..., None] * ps[1] * iop[:3] + jj[..., None] * ps[0] * iop[3:]
            rim = np.zeros(plane.shape, bool)
            rim[[0, -1], :] = True
            rim[:, [0, -1]] = True
            out["points"].append(world.reshape(-1, 3))
            out["values"].append(value.ravel())
            out["lo"].append(ndimage.minimum_filter(value, 3, mode="nearest").ravel())
            out["hi"].append(ndimage.maximum_filter(value, 3, mode="nearest").ravel())
            out["rim"].append(rim.ravel())
    return {k: np.concatenate(v) for k, v in out.items()}


def continuous_index(img, points: np.ndarray) -> np.ndarray:
    """Continuous voxel index (x, y, z) of LPS points in a 3-D SimpleITK image."""
    d = np.asarray(img.GetDirection()).reshape(3, 3)
    return ((points - np.asarray(img.GetOrigin())) @ d) / np.asarray(img.GetSpacing())


def coverage(img, files, tol: float = 1e-3) -> dict:
    """Where the acquired pixels (`acquired_pixels`) land in a 3-D image: `inside` (within the
    hull of voxel centres, `tol` voxels), `fraction` inside, and the image's value there by
    trilinear interpolation (`linear`) and at the nearest voxel (`nearest`), NaN outside."""
    import SimpleITK as sitk
    from scipy import ndimage

    acq = acquired_pixels(files)
    idx = continuous_index(img, acq["points"])
    size = np.asarray(img.GetSize()[:3])
    inside = np.all((idx >= -tol) & (idx <= size - 1 + tol), axis=1)
    arr = sitk.GetArrayFromImage(img).astype(np.float64)
    zyx = np.clip(idx[inside][:, ::-1], 0, np.asarray(arr.shape) - 1).T
    linear = np.full(len(inside), np.nan)
    nearest = np.full(len(inside), np.nan)
    linear[inside] = ndimage.map_coordinates(arr, zyx, order=1, mode="nearest")
    near = np.rint(zyx).astype(int)
    nearest[inside] = arr[near[0], near[1], near[2]]
    return {**acq, "index": idx, "inside": inside, "fraction": float(inside.mean()),
            "linear": linear, "nearest": nearest}
