"""Conversion of small pydicom-written series: ordering, rescale, tilt, uneven spacing, DWI, bad
inputs. Values are a linear function of the world position, so every output voxel can be
checked against the function at that voxel's physical point."""

from __future__ import annotations

import logging
import math

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from dicomfactory import linear_field, write_non_image, write_series
from hccer.errors import InputError
from hccer.ingest.convert import read_series, write_nifti
from hccer.ingest.geometry import series_geometry


def world_points(img: sitk.Image) -> np.ndarray:
    """World (LPS) coordinates of every voxel, array order (z, y, x, 3)."""
    size = img.GetSize()[:3]
    d = np.asarray(img.GetDirection()[:9] if img.GetDimension() == 3 else
                   [img.GetDirection()[i * 4 + j] for i in range(3) for j in range(3)]
                   ).reshape(3, 3)
    sp = np.asarray(img.GetSpacing()[:3])
    o = np.asarray(img.GetOrigin()[:3])
    k, j, i = np.meshgrid(*[np.arange(s) for s in size[::-1]], indexing="ij")
    idx = np.stack([i, j, k], -1).astype(float)
    return o + (idx * sp) @ d.T


def test_regular_series_matches_simpleitk_series_reader(tmp_path):
    files = write_series(tmp_path / "s", n=7)
    img, meta = read_series(files)
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(tmp_path / "s")))
    ref = reader.Execute()
    assert img.GetSize() == ref.GetSize() == (10, 8, 7)
    assert np.allclose(img.GetOrigin(), ref.GetOrigin())
    assert np.allclose(img.GetSpacing(), ref.GetSpacing())
    assert np.allclose(img.GetDirection(), ref.GetDirection())
    assert np.array_equal(sitk.GetArrayFromImage(img), sitk.GetArrayFromImage(ref))
    assert meta["dtype"] == "int16" and not meta["resampled"]
    # Origin is the slice lowest along the normal, whatever the file order.
    assert img.GetOrigin() == pytest.approx((-5.0, -7.0, 10.0))
    vals = sitk.GetArrayFromImage(img).astype(float)
    assert np.abs(vals - linear_field(world_points(img))).max() <= 0.5


def test_reversed_normal_orders_along_normal(tmp_path):
    # Column direction -y flips the normal to -z: slices must be ordered along -z.
    files = write_series(tmp_path / "s", n=5, iop=(1, 0, 0, 0, -1, 0), step=(0, 0, -2.0))
    img, _ = read_series(files)
    assert np.allclose(np.asarray(img.GetDirection()).reshape(3, 3)[:, 2], [0, 0, -1])
    assert img.GetOrigin()[2] == pytest.approx(10.0)
    assert img.GetSpacing()[2] == pytest.approx(2.0)
    vals = sitk.GetArrayFromImage(img).astype(float)
    assert np.abs(vals - linear_field(world_points(img))).max() <= 0.5


def test_rescale_slope_gives_float_real_values(tmp_path):
    files = write_series(tmp_path / "s", n=3, slope=0.25, intercept=-10.0)
    img, meta = read_series(files)
    assert meta["dtype"] == "float32"
    vals = sitk.GetArrayFromImage(img).astype(float)
    assert np.abs(vals - linear_field(world_points(img))).max() <= 0.125 + 1e-6


def test_gantry_tilt_is_resampled_with_warning(tmp_path, caplog):
    # 15 deg tilt: each 3 mm step along z also moves 3*tan(15 deg) mm along y.
    shift = 3.0 * math.tan(math.radians(15))
    files = write_series(tmp_path / "s", n=8, rows=16, cols=12, step=(0, shift, 3.0))
    geom = series_geometry([pydicom.dcmread(f) for f in files])
    assert geom["tilted"] and geom["tilt_deg"] == pytest.approx(15.0, abs=1e-6)
    with caplog.at_level(logging.WARNING):
        img, meta = read_series(files, patient="pT")
    assert any("gantry tilt" in r.message and "15.00 deg" in r.message and "pT" in r.message
               for r in caplog.records)
    assert meta["resampled"] and meta["dtype"] == "float32"
    # The grid widens along y to hold every slice: 7 steps drift 5.63 mm = 3.75 rows -> 4 more.
    assert img.GetSize() == (12, 20, 8)
    assert np.allclose(np.asarray(img.GetDirection()), np.eye(3).ravel())
    assert img.GetSpacing()[2] == pytest.approx(3.0)
    assert img.GetOrigin() == pytest.approx((-5.0, -7.0, 10.0))
    vals = sitk.GetArrayFromImage(img).astype(float)
    truth = linear_field(world_points(img))
    # Slice k covers y from -7 + k*shift over 15 row steps of 1.5 mm; between its pixel centres
    # every voxel equals the field there (rounding of stored ints), within half a pixel beyond
    # them it holds the outer pixel's value, further out air (-1024 HU).
    y = world_points(img)[..., 1] + 7.0 - np.arange(8)[:, None, None] * shift
    hull = (y >= -1e-6) & (y <= 15 * 1.5 + 1e-6)
    band = ~hull & (y >= -0.75) & (y <= 15 * 1.5 + 0.75)
    assert hull.sum() == 12 * (16 + 7 * 15)  # 16 rows on slice 0, 15 on the shifted ones
    assert np.abs(vals[hull] - truth[hull]).max() <= 0.51
    assert np.abs(vals[band] - truth[band]).max() <= 0.51 + 0.75
    assert np.all(vals[~hull & ~band] == -1024)
    # A known point: world (2.5, 14.0, 31.0) maps to voxel (6, 14, 7) and holds its value.
    idx = img.TransformPhysicalPointToIndex((-5.0 + 6 * 1.25, -7.0 + 14 * 1.5, 10.0 + 7 * 3.0))
    assert idx == (6, 14, 7)
    assert vals[7, 14, 6] == pytest.approx(linear_field(np.array(
        [-5.0 + 6 * 1.25, -7.0 + 14 * 1.5, 10.0 + 7 * 3.0])), abs=0.51)


def test_uneven_spacing_is_resampled_with_warning(tmp_path, caplog):
    files = write_series(tmp_path / "s", positions=[0, 2, 4, 7, 9, 11])
    with caplog.at_level(logging.WARNING):
        img, meta = read_series(files)
    assert any("uneven slice spacing" in r.message and "2.000-3.000" in r.message
               for r in caplog.records)
    assert meta["resampled"]
    # 11 mm span at median step 2 mm: 11/2 = 5.5 rounds half up to 6 steps, i.e. 7 slices
    # at 11/6 mm spanning exactly the first to the last slice.
    assert img.GetSize()[2] == 7 and img.GetSpacing()[2] == pytest.approx(11 / 6)
    vals = sitk.GetArrayFromImage(img).astype(float)
    assert np.abs(vals - linear_field(world_points(img))).max() <= 0.51


def test_a_missing_slice_makes_the_series_unusable_unless_allowed(tmp_path, caplog):
    # steps 3, 3, 6, 3 mm: one slice is missing between the third and fourth file
    files = write_series(tmp_path / "s", positions=[0, 3, 6, 12, 15], shuffle=False)
    with pytest.raises(InputError, match=r"1 slice\(s\) missing from the stack: the step "
                       r"between IM\d+\.dcm and IM\d+\.dcm is 6.00 mm, 2 times the series' "
                       r"3.00 mm; set ingest.allow_missing_slices"):
        read_series(files)
    with caplog.at_level(logging.WARNING):
        img, meta = read_series(files, allow_missing=True)
    assert any("interpolated (ingest.allow_missing_slices)" in r.message for r in caplog.records)
    assert img.GetSize()[2] == 6 and img.GetSpacing()[2] == pytest.approx(3.0)
    # two gaps of one and two slices are counted together
    steps = np.array([3.0, 6.0, 3.0, 9.1])
    with pytest.raises(InputError, match=r"3 slice\(s\) missing .* \(2 gaps\)"):
        from hccer.ingest.geometry import missing_slices

        missing_slices(steps, [f"f{i}" for i in range(5)], False)


def test_dwi_series_gives_4d_volume_and_bval(tmp_path):
    files = write_series(tmp_path / "d", n=4, modality="MR", description="ep2d_diff ivim",
                         b_values=[800, 0, 100], b_tag="philips", intercept=0.0)
    img, meta = read_series(files)
    assert img.GetDimension() == 4 and img.GetSize() == (10, 8, 4, 3)
    assert meta["b_values"] == [0.0, 100.0, 800.0]
    arr = sitk.GetArrayFromImage(img).astype(float)  # (b, z, y, x)
    base = arr[0]
    assert np.allclose(arr[1] - base, 10.0, atol=1.0) and np.allclose(arr[2] - base, 80.0,
                                                                       atol=1.0)
    written = write_nifti(img, meta, tmp_path / "out" / "dwi.nii.gz")
    assert (tmp_path / "out" / "dwi.bval").read_text().split() == ["0", "100", "800"]
    back = sitk.ReadImage(str(written[0]))
    assert back.GetSize() == (10, 8, 4, 3)
    assert np.allclose(back.GetOrigin()[:3], meta["geometry"]["origin"])


def test_duplicate_slice_positions_are_refused(tmp_path):
    files = write_series(tmp_path / "s", positions=[0, 3, 3, 6], shuffle=False)
    with pytest.raises(InputError, match="duplicate slice position") as err:
        read_series(files, patient="pD")
    assert "IM0001.dcm" in err.value.message() and "IM0002.dcm" in err.value.message()
    assert "patient pD" in err.value.message()


def test_truncated_file_is_refused(tmp_path):
    files = write_series(tmp_path / "s", n=3, shuffle=False)
    data = files[1].read_bytes()
    files[1].write_bytes(data[:-40])
    with pytest.raises(InputError, match="truncated or corrupt") as err:
        read_series(files, patient="pC")
    assert "IM0001.dcm" in err.value.message()


def test_non_image_object_is_skipped(tmp_path):
    write_series(tmp_path / "s", n=3)
    write_non_image(tmp_path / "s" / "DIRFILE")
    (tmp_path / "s" / "notes.txt").write_text("scanner notes")
    img, meta = read_series(sorted((tmp_path / "s").iterdir()))
    assert img.GetSize() == (10, 8, 3) and meta["skipped_files"] == 2


def test_mixed_orientations_are_refused(tmp_path):
    a = write_series(tmp_path / "s", n=3, series_uid="1.2.3.4")
    b = write_series(tmp_path / "s", n=3, series_uid="1.2.3.4", iop=(1, 0, 0, 0, 0, -1),
                     prefix="COR")
    with pytest.raises(InputError, match="slice orientation .* differs"):
        read_series(a + b)


def test_non_axial_series_converts_with_true_direction(tmp_path):
    # Coronal: rows along x, columns along -z, normal = r x c = +y.
    files = write_series(tmp_path / "c", n=4, iop=(1, 0, 0, 0, 0, -1), step=(0, 2.0, 0))
    img, meta = read_series(files)
    assert meta["geometry"]["orientation"] == "coronal"
    vals = sitk.GetArrayFromImage(img).astype(float)
    assert np.abs(vals - linear_field(world_points(img))).max() <= 0.5
