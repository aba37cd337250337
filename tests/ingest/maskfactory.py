"""Mask objects for maskformats tests: a CT series (dicomfactory) completed for highdicom and
rt-utils, ellipsoid masks on its converted grid, DICOM-SEG (highdicom) and RTSTRUCT (rt-utils)
made from such masks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
from dicomfactory import write_series

FRAME_OF_REFERENCE = "1.2.826.0.1.3680043.8.498.77"

# Type 2 attributes highdicom and rt-utils copy from the source images; dicomfactory's minimal
# headers lack them.
_COMPLETION = {"PatientSex": "O", "StudyTime": "101500", "StudyID": "S1", "SeriesDate": "20010812",
               "StudyDescription": "", "SeriesTime": "101500", "PositionReferenceIndicator": "",
               "FrameOfReferenceUID": FRAME_OF_REFERENCE}


def write_ct(folder: Path, *, n: int = 12, size: int = 64, spacing: float = 0.8,
             angle_deg: float = 0.0, origin=(-20.5, -30.25, 40.0), step: float = 2.5,
             **kwargs) -> list[Path]:
    """A square-pixel CT series of n slices, in-plane rotated by angle_deg about the normal.

    Square pixels and images: rt-utils scales columns by the row spacing and sizes its masks
    (Columns, Rows), so only such series round-trip through it.
    """
    a = np.radians(angle_deg)
    iop = (np.cos(a), np.sin(a), 0.0, -np.sin(a), np.cos(a), 0.0)
    files = write_series(folder, n=n, rows=size, cols=size, spacing=(spacing, spacing),
                         iop=iop, origin=origin, positions=[k * step for k in range(n)],
                         **kwargs)
    return complete_headers(files)


def complete_headers(files: list[Path]) -> list[Path]:
    """Add the header fields highdicom and rt-utils need to a dicomfactory series, in place."""
    for f in files:
        ds = pydicom.dcmread(f)
        for key, value in _COMPLETION.items():
            if key not in ds:
                setattr(ds, key, value)
        ds.save_as(f, enforce_file_format=True)
    return files


def ellipsoid(shape, centre, radii) -> np.ndarray:
    """uint8 (z, y, x) ellipsoid in voxel units."""
    z, y, x = np.indices(shape, dtype=float)
    r = (((x - centre[0]) / radii[0]) ** 2 + ((y - centre[1]) / radii[1]) ** 2
         + ((z - centre[2]) / radii[2]) ** 2)
    return (r <= 1.0).astype(np.uint8)


def sorted_sources(files: list[Path]) -> list[pydicom.Dataset]:
    """The series' datasets in converted slice order (ascending along the slice normal)."""
    dss = [pydicom.dcmread(f) for f in files]
    iop = np.asarray(dss[0].ImageOrientationPatient, float)
    normal = np.cross(iop[:3], iop[3:])
    return sorted(dss, key=lambda ds: float(np.dot(ds.ImagePositionPatient, normal)))


def write_seg(path: Path, files: list[Path], segments: dict[str, np.ndarray], *,
              kind: str = "BINARY") -> Path:
    """A highdicom DICOM-SEG with one segment per (label → (z, y, x) array on the grid).

    kind: "BINARY", "FRACTIONAL" (arrays of values in [0, 1]) or "LABELMAP" (the Label Map
    Segmentation SOP class; segments must not overlap).
    """
    import highdicom as hd
    from pydicom.sr.codedict import codes

    sources = sorted_sources(files)
    descriptions = [hd.seg.SegmentDescription(
        segment_number=i, segment_label=label,
        segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
        segmented_property_type=codes.SCT.Neoplasm, algorithm_type="MANUAL")
        for i, label in enumerate(segments, start=1)]
    if kind == "LABELMAP":
        pixels = sum(i * (a > 0) for i, a in enumerate(segments.values(), start=1))
        pixels = np.asarray(pixels, np.uint8)
    else:
        pixels = np.stack(list(segments.values()), axis=-1)
        pixels = pixels.astype(np.float32 if kind == "FRACTIONAL" else np.uint8)
    seg = hd.seg.Segmentation(
        source_images=sources, pixel_array=pixels,
        segmentation_type=kind,
        segment_descriptions=descriptions, series_instance_uid=hd.UID(), series_number=90,
        sop_instance_uid=hd.UID(), instance_number=1, manufacturer="test",
        manufacturer_model_name="maskfactory", software_versions="1", device_serial_number="1")
    seg.save_as(path, enforce_file_format=True)
    return path


def shuffle_seg_frames(path: Path, seed: int = 3) -> list[int]:
    """Store a binary SEG's frames in a random order (pixels and per-frame groups together)."""
    from pydicom.pixels import pack_bits

    ds = pydicom.dcmread(path)
    frames = ds.pixel_array.reshape(int(ds.NumberOfFrames), ds.Rows, ds.Columns)
    order = np.random.default_rng(seed).permutation(len(frames)).tolist()
    groups = list(ds.PerFrameFunctionalGroupsSequence)
    ds.PerFrameFunctionalGroupsSequence = [groups[i] for i in order]
    ds.PixelData = pack_bits(frames[order])
    ds.save_as(path, enforce_file_format=True)
    return order


def write_rtstruct(path: Path, series_dir: Path, rois: dict[str, np.ndarray]) -> Path:
    """An rt-utils RTSTRUCT with one ROI per (name → (z, y, x) array on the grid)."""
    from rt_utils import RTStructBuilder

    rt = RTStructBuilder.create_new(dicom_series_path=str(series_dir))
    for name, array in rois.items():
        # rt-utils masks are (rows, cols, slices), slices ascending along the normal
        rt.add_roi(mask=np.transpose(array, (1, 2, 0)).astype(bool), name=name)
    rt.save(str(path))
    return path


def rtutils_readback(path: Path, series_dir: Path, name: str) -> np.ndarray:
    """rt-utils' own rasterisation of an ROI, as a (z, y, x) uint8 array."""
    from rt_utils import RTStructBuilder

    rt = RTStructBuilder.create_from(dicom_series_path=str(series_dir), rt_struct_path=str(path))
    return np.transpose(rt.get_roi_mask_by_name(name), (2, 0, 1)).astype(np.uint8)


def write_rtstruct_by_hand(path: Path, series_uid: str | None,
                           rois: dict[str, list[tuple[str, np.ndarray]]]) -> Path:
    """A minimal pydicom RTSTRUCT: ROI name → [(ContourGeometricType, (N, 3) LPS mm points)].

    With series_uid None the referenced frame of reference is left out (it is optional).
    """
    from dicomfactory import CANARIES
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.481.3"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    for key, value in CANARIES.items():
        setattr(ds, key, value)
    ds.Modality = "RTSTRUCT"
    ds.StructureSetLabel = "hand"
    if series_uid is not None:
        series = Dataset()
        series.SeriesInstanceUID = series_uid
        study = Dataset()
        study.ReferencedSOPClassUID = "1.2.840.10008.3.1.2.3.1"
        study.ReferencedSOPInstanceUID = "1.2.826.0.1.3680043.8.498.1"
        study.RTReferencedSeriesSequence = [series]
        frame = Dataset()
        frame.FrameOfReferenceUID = FRAME_OF_REFERENCE
        frame.RTReferencedStudySequence = [study]
        ds.ReferencedFrameOfReferenceSequence = [frame]
    roi_items, contour_items = [], []
    for number, (name, contours) in enumerate(rois.items(), start=1):
        roi = Dataset()
        roi.ROINumber = number
        roi.ROIName = name
        roi.ReferencedFrameOfReferenceUID = FRAME_OF_REFERENCE
        roi_items.append(roi)
        item = Dataset()
        item.ReferencedROINumber = number
        seq = []
        for kind, points in contours:
            c = Dataset()
            c.ContourGeometricType = kind
            c.NumberOfContourPoints = len(points)
            c.ContourData = [f"{v:.6f}" for v in np.asarray(points, float).ravel()]
            seq.append(c)
        item.ContourSequence = seq
        contour_items.append(item)
    ds.StructureSetROISequence = roi_items
    ds.ROIContourSequence = contour_items
    ds.save_as(path, enforce_file_format=True)
    return path


def grid_points(reference, ijk) -> np.ndarray:
    """LPS points of continuous grid indices (..., 3) of a SimpleITK image."""
    d = np.asarray(reference.GetDirection(), float).reshape(3, 3)
    sp = np.asarray(reference.GetSpacing(), float)
    return np.asarray(reference.GetOrigin(), float) + (np.asarray(ijk, float) * sp) @ d.T
