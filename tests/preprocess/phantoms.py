"""Small synthetic abdomens for the preprocess tests: a body, a liver, a spine and a bright
ellipsoid tumour, in HU, with a known tumour mask."""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk


def abdomen(shape_zyx=(64, 96, 96), spacing=(1.0, 1.0, 1.0), origin=None, seed=0,
            tumour_centre_mm=(-20.0, -5.0, 4.0), tumour_radii_mm=(12.0, 10.0, 8.0), noise=10.0):
    """Return (image, mask) SimpleITK images; tumour centre/radii in physical (x, y, z) mm."""
    rng = np.random.default_rng(seed)
    nz, ny, nx = shape_zyx
    sx, sy, sz = spacing
    if origin is None:
        origin = (-(nx - 1) * sx / 2, -(ny - 1) * sy / 2, -(nz - 1) * sz / 2)
    z, y, x = np.meshgrid(origin[2] + sz * np.arange(nz), origin[1] + sy * np.arange(ny),
                          origin[0] + sx * np.arange(nx), indexing="ij")
    ex, ey = 0.45 * nx * sx, 0.40 * ny * sy
    vol = np.full(shape_zyx, -1000.0, np.float32)
    vol[(x / ex) ** 2 + (y / ey) ** 2 <= 1] = 20.0
    liver = ((x + 0.25 * nx * sx) / (0.22 * nx * sx)) ** 2 + (y / (0.25 * ny * sy)) ** 2 \
        + (z / (0.35 * nz * sz)) ** 2 <= 1
    vol[liver] = 60.0
    vol[((x) / 6) ** 2 + ((y - 0.28 * ny * sy) / 6) ** 2 <= 1] = 700.0
    kidney = ((x - 0.22 * nx * sx) / 8) ** 2 + ((y - 0.12 * ny * sy) / 10) ** 2 \
        + (z / (0.3 * nz * sz)) ** 2 <= 1
    vol[kidney] = 150.0
    cx, cy, cz = tumour_centre_mm
    rx, ry, rz = tumour_radii_mm
    tum = ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 + ((z - cz) / rz) ** 2 <= 1
    vol[tum] = 130.0
    vol += rng.normal(0, noise, shape_zyx).astype(np.float32)
    img = sitk.GetImageFromArray(vol)
    msk = sitk.GetImageFromArray(tum.astype(np.uint8))
    for im in (img, msk):
        im.SetSpacing(spacing)
        im.SetOrigin(origin)
    return img, msk


def euler(rot_deg=(2.0, -1.5, 3.0), trans_mm=(2.0, -3.0, 6.0), centre=(0.0, 0.0, 0.0)):
    t = sitk.Euler3DTransform()
    t.SetCenter(centre)
    t.SetRotation(*np.deg2rad(rot_deg))
    t.SetTranslation(trans_mm)
    return t


def move(img, mask, transform):
    """Resample image and mask through `transform` (output point p samples input at T(p))."""
    mov = sitk.Resample(img, img, transform, sitk.sitkLinear, -1000.0)
    mm = sitk.Resample(mask, mask, transform, sitk.sitkNearestNeighbor, 0)
    return mov, mm
