"""Resampling: grid convention, interpolation accuracy, label safety, 4D, real hcc048 CT."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from hccer.errors import InputError
from hccer.preprocess.resample import output_grid, resample_image


def _img(arr, spacing, origin=(0.0, 0.0, 0.0), direction=None):
    img = sitk.GetImageFromArray(arr)
    img.SetSpacing(spacing)
    img.SetOrigin(origin)
    if direction is not None:
        img.SetDirection(direction)
    return img


def test_output_grid_hand_values():
    # Edge-to-edge extent / new spacing, whole voxels only.
    assert output_grid((512, 512, 89), (0.703125, 0.703125, 2.5), (1, 1, 1)) == (360, 360, 222)
    assert output_grid((10, 7, 3), (0.7, 1.5, 3.0), (1, 1, 1)) == (7, 10, 9)
    assert output_grid((4, 4, 4), (1, 1, 1), (2, 2, 3)) == (2, 2, 1)


def test_linear_resample_matches_analytic_ramp():
    # A linear ramp is reproduced exactly by linear interpolation at any point inside.
    nz, ny, nx = 12, 20, 24
    sp = (0.8, 0.8, 2.5)
    org = (-10.0, 5.0, 30.0)
    z, y, x = np.meshgrid(*(np.arange(n, dtype=float) for n in (nz, ny, nx)), indexing="ij")
    px, py, pz = org[0] + sp[0] * x, org[1] + sp[1] * y, org[2] + sp[2] * z
    ramp = (2.0 * px - 0.5 * py + 3.0 * pz).astype(np.float32)
    out = resample_image(_img(ramp, sp, org), (1, 1, 1), "linear")
    assert out.GetSize() == output_grid((nx, ny, nz), sp, (1, 1, 1))
    assert out.GetOrigin() == pytest.approx(org)
    assert out.GetDirection() == pytest.approx((1, 0, 0, 0, 1, 0, 0, 0, 1))
    a = sitk.GetArrayFromImage(out)
    zz, yy, xx = np.meshgrid(*(np.arange(n, dtype=float) for n in a.shape), indexing="ij")
    want = 2.0 * (org[0] + xx) - 0.5 * (org[1] + yy) + 3.0 * (org[2] + zz)
    # Inside the centre-to-centre hull of the input (outside it the edge value is held).
    inside = ((org[2] + zz) <= org[2] + sp[2] * (nz - 1)) & ((org[1] + yy) <= org[1] + sp[1] * (ny - 1)) \
        & ((org[0] + xx) <= org[0] + sp[0] * (nx - 1))
    np.testing.assert_allclose(a[inside], want[inside], atol=1e-3)
    # Physical edge-to-edge extent kept to within one new voxel on every axis.
    for n_new, n, s in zip(out.GetSize(), (nx, ny, nz), sp, strict=True):
        assert 0 <= n * s - n_new * 1.0 < 1.0


def test_integer_input_keeps_its_type_rounded_from_the_float_result():
    rng = np.random.default_rng(3)
    hu = rng.integers(-1024, 3071, (6, 9, 11)).astype(np.int16)
    hu[0, 0, 0], hu[0, 0, 1] = 32767, -32768  # B-spline overshoot beyond int16 must clip
    img = _img(hu, (0.7, 0.7, 2.5))
    for interp in ("linear", "bspline"):
        out = resample_image(img, (1, 1, 1), interp)
        assert out.GetPixelID() == sitk.sitkInt16
        as_float = resample_image(sitk.Cast(img, sitk.sitkFloat32), (1, 1, 1), interp)
        assert as_float.GetPixelID() == sitk.sitkFloat32
        want = np.clip(np.rint(sitk.GetArrayViewFromImage(as_float)), -32768, 32767)
        np.testing.assert_array_equal(sitk.GetArrayViewFromImage(out), want)
        assert out.GetOrigin() == as_float.GetOrigin()
        assert out.GetSpacing() == as_float.GetSpacing()


def test_direction_is_kept_for_oblique_grid():
    d = sitk.Euler3DTransform((0, 0, 0), 0.0, 0.0, np.deg2rad(20)).GetMatrix()
    img = _img(np.zeros((5, 6, 7), np.float32), (1.5, 1.5, 2.0), (1, 2, 3), d)
    out = resample_image(img)
    assert out.GetDirection() == pytest.approx(d)
    assert out.GetOrigin() == pytest.approx((1, 2, 3))


def test_label_resample_is_label_safe_and_volume_preserving():
    sp = (0.7, 0.7, 2.5)
    nz, ny, nx = 24, 90, 90
    z, y, x = np.meshgrid(sp[2] * np.arange(nz), sp[1] * np.arange(ny), sp[0] * np.arange(nx),
                          indexing="ij")
    r = (18.0, 14.0, 20.0)  # semi-axes x, y, z in mm
    ell = ((x - 31) / r[0]) ** 2 + ((y - 30) / r[1]) ** 2 + ((z - 29) / r[2]) ** 2 <= 1
    out = resample_image(_img(ell.astype(np.uint8), sp), (1, 1, 1), "label")
    a = sitk.GetArrayFromImage(out)
    assert a.dtype == np.uint8
    assert set(np.unique(a).tolist()) == {0, 1}
    true_volume = 4.0 / 3.0 * np.pi * np.prod(r)
    assert a.sum() * 1.0 == pytest.approx(true_volume, rel=0.03)
    assert a.sum() == pytest.approx(ell.sum() * np.prod(sp), rel=0.03)


def test_label_rejects_non_integer_mask():
    img = _img(np.full((3, 3, 3), 0.5, np.float32), (1, 1, 1))
    with pytest.raises(InputError, match="non-integer"):
        resample_image(img, interp="label", patient="p01", file="m.nii.gz")


def test_4d_stack_resampled_volume_by_volume():
    rng = np.random.default_rng(0)
    vols = [rng.normal(100 * (i + 1), 5, (6, 10, 12)).astype(np.float32) for i in range(3)]
    imgs = [_img(v, (1.5, 1.5, 3.0), (1, 2, 3)) for v in vols]
    stack = sitk.JoinSeries(imgs)
    out = resample_image(stack, (1, 1, 1), "linear")
    assert out.GetDimension() == 4
    assert out.GetSize()[3] == 3
    for t in range(3):
        single = resample_image(imgs[t], (1, 1, 1), "linear",
                                default=float(sitk.GetArrayViewFromImage(stack).min()))
        np.testing.assert_array_equal(sitk.GetArrayFromImage(out[:, :, :, t]),
                                      sitk.GetArrayFromImage(single))


def test_real_hcc048_ct_to_1mm(shared_data):
    folder = shared_data / "ct" / "hcc048_portal_venous" / "dicom"
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    ct = reader.Execute()
    assert ct.GetSize() == (512, 512, 89)
    out = resample_image(ct, (1, 1, 1), "linear")
    # Edge-to-edge convention: 360 mm in-plane, 222.5 mm in z -> 222 slices (220-223 allowed).
    assert out.GetSize() == (360, 360, 222)
    assert out.GetOrigin() == pytest.approx((-180.0, -180.0, -396.0), abs=1e-3)
    assert out.GetSpacing() == pytest.approx((1.0, 1.0, 1.0))
    a = sitk.GetArrayViewFromImage(out)
    src = sitk.GetArrayViewFromImage(ct)
    assert src.min() <= a.min() and a.max() <= src.max()
    # Slice z = 10 mm above the origin lies exactly on source slice 4: in-plane resampling only.
    ref_row = sitk.GetArrayFromImage(resample_image(ct[:, :, 4:5], (1, 1, 2.5)))[0]
    np.testing.assert_allclose(a[10], ref_row, atol=1e-3)
