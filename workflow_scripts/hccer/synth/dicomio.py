"""Write one DICOM series (CT or MR Image Storage, explicit VR little endian) with pydicom."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

CT_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
MR_STORAGE = "1.2.840.10008.5.1.4.1.1.4"


def uid(*parts) -> str:
    """A deterministic UID (2.25 + a hash of the parts), so the same seed gives the same files."""
    h = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    return "2.25." + str(int.from_bytes(h[:15], "big"))


def _fmt_time(seconds: float) -> str:
    s = int(round(seconds)) % 86400
    return f"{s // 3600:02d}{s % 3600 // 60:02d}{s % 60:02d}"


def write_series(folder: Path, frames: list[dict], common: dict, file_pattern: str) -> list[Path]:
    """Write one file per frame.

    frames: per file {pixels (2D int16/uint16 array), position [x, y, z], instance, extra tags}
    common: tags shared by the series (keywords of pydicom), including SOPClassUID.
    """
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for fr in frames:
        ds = Dataset()
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = common["SOPClassUID"]
        sop = uid(common["SeriesInstanceUID"], fr["instance"])
        meta.MediaStorageSOPInstanceUID = sop
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        meta.ImplementationClassUID = "1.2.826.0.1.3680043.8.498.1"
        meta.ImplementationVersionName = "HCCER_SYNTH"
        ds.file_meta = meta
        for k, v in common.items():
            if not k.startswith("_"):
                setattr(ds, k, v)
        ds.SOPInstanceUID = sop
        ds.InstanceNumber = fr["instance"]
        ds.ImagePositionPatient = [float(v) for v in fr["position"]]
        ds.SliceLocation = float(fr["position"][2])
        for k, v in fr.get("extra", {}).items():
            setattr(ds, k, v)
        for tag, vr, value in fr.get("private", []):
            ds.add_new(tag, vr, value)
        px = fr["pixels"]
        ds.Rows, ds.Columns = px.shape
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated = 16
        ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 1 if px.dtype == np.int16 else 0
        ds.PixelData = np.ascontiguousarray(px).tobytes()
        path = folder / file_pattern.format(fr["instance"])
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def acquisition_time(seconds: float) -> str:
    return _fmt_time(seconds)
