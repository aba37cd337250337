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
                 field=linear_field) -> list[Path]:
    """Write one series; slice k sits at origin + k*step (or at positions[k] along z).

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
        starts = [origin + np.cross(r, c) * p for p in positions]
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
