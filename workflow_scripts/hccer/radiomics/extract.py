"""One pyradiomics extraction: an image, its tumour mask and a parameter file -> one feature row.

The image/mask geometry is checked here first, so a mismatch names both files instead of
surfacing as a pyradiomics traceback (pyradiomics would otherwise resample or fail deep inside).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from hccer.errors import InputError

log = logging.getLogger(__name__)

# Relative tolerance on spacing/origin/direction (ITK writes float32 headers in some tools).
GEOMETRY_TOL = 1e-4


def load_params(path: str | Path) -> dict:
    """Read a pyradiomics parameter file (YAML) and check it has the three known sections."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise InputError("radiomics parameter file not found", file=path)
    with open(path, encoding="utf-8") as f:
        params = yaml.safe_load(f) or {}
    unknown = set(params) - {"imageType", "featureClass", "setting", "voxelSetting"}
    if unknown:
        raise InputError(f"unknown section(s) {sorted(unknown)} in the radiomics parameter file; "
                         "allowed: imageType, featureClass, setting, voxelSetting", file=path)
    return params


def check_geometry(image, mask, image_file=None, mask_file=None, patient=None) -> None:
    """Image and mask must share size, spacing, origin and direction (never silently fixed)."""
    problems = []
    if image.GetSize() != mask.GetSize():
        problems.append(f"size {image.GetSize()} vs {mask.GetSize()}")
    for what, a, b in (("spacing", image.GetSpacing(), mask.GetSpacing()),
                       ("origin", image.GetOrigin(), mask.GetOrigin()),
                       ("direction", image.GetDirection(), mask.GetDirection())):
        a, b = np.asarray(a, float), np.asarray(b, float)
        scale = max(1.0, float(np.max(np.abs(a))))
        if a.shape != b.shape or np.max(np.abs(a - b)) > GEOMETRY_TOL * scale:
            problems.append(f"{what} {tuple(np.round(a, 4))} vs {tuple(np.round(b, 4))}")
    if problems:
        raise InputError(
            f"image and mask are on different grids ({'; '.join(problems)}): image {image_file} "
            f"vs mask {mask_file}; resample the mask onto the image grid upstream",
            patient=patient, file=mask_file)


def _mask_array_check(mask, label: int, mask_file, patient) -> int:
    import SimpleITK as sitk

    n = int(np.count_nonzero(sitk.GetArrayViewFromImage(mask) == label))
    if n == 0:
        raise InputError(f"mask has no voxel with label {label}", patient=patient, file=mask_file)
    return n


def make_extractor(params: dict):
    from radiomics import featureextractor

    # pyradiomics logs every filter (and a GLCM symmetry note) below ERROR; keep rule logs short.
    logging.getLogger("radiomics").setLevel(logging.ERROR)
    return featureextractor.RadiomicsFeatureExtractor(params)


def extract_images(image, mask, params: dict, *, image_file=None, mask_file=None,
                   patient=None, extractor=None) -> dict[str, float]:
    """Features of one (SimpleITK image, mask) pair; diagnostics dropped, values as floats."""
    check_geometry(image, mask, image_file, mask_file, patient)
    label = int(params.get("setting", {}).get("label", 1))
    _mask_array_check(mask, label, mask_file, patient)
    extractor = extractor or make_extractor(params)
    try:
        result = extractor.execute(image, mask)
    except (ValueError, RuntimeError) as exc:
        raise InputError(f"pyradiomics could not extract features: {exc}", patient=patient,
                         file=mask_file) from None
    return {k: float(np.asarray(v)) for k, v in result.items()
            if not k.startswith("diagnostics_")}


def extract_files(image_file, mask_file, params: dict, patient=None) -> dict[str, float]:
    import SimpleITK as sitk

    for f in (image_file, mask_file):
        if not Path(f).is_file():
            raise InputError("file not found", patient=patient, file=f)
    image = sitk.ReadImage(str(image_file))
    mask = sitk.ReadImage(str(mask_file))
    return extract_images(image, mask, params, image_file=image_file, mask_file=mask_file,
                          patient=patient)


def largest_slices(mask_array: np.ndarray, neighbours: int, axis: int = 0) -> list[int]:
    """The slice with the largest tumour area and up to `neighbours` on each side, kept inside
    the tumour's extent (same rule as the deep-learning crops)."""
    other = tuple(i for i in range(mask_array.ndim) if i != axis)
    area = np.count_nonzero(mask_array, axis=other)
    if area.max() == 0:
        raise ValueError("empty mask")
    centre = int(np.argmax(area))
    return [k for k in range(centre - neighbours, centre + neighbours + 1)
            if 0 <= k < area.size and area[k] > 0]


def extract_slices(image, mask, params: dict, slices: list[int], *, image_file=None,
                   mask_file=None, patient=None) -> list[dict[str, float]]:
    """2D features of each axial slice (index along z) as its own one-slice volume."""
    check_geometry(image, mask, image_file, mask_file, patient)
    extractor = make_extractor(params)
    rows = []
    for k in slices:
        img2, msk2 = image[:, :, k:k + 1], mask[:, :, k:k + 1]
        feats = extract_images(img2, msk2, params, image_file=image_file,
                               mask_file=f"{mask_file} (slice {k})", patient=patient,
                               extractor=extractor)
        rows.append(feats)
    return rows
