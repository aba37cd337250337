"""Tilted and unevenly spaced stacks keep every acquired pixel: the resampled grid holds each
slice's pixel centres (placed from that slice's own header), and the volume there holds the
acquired value. Regular stacks convert exactly as before."""

from __future__ import annotations

import hashlib
import logging

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from dicomfactory import coverage, linear_field, tilt_headers, write_series
from hccer.ingest.convert import read_series
from hccer.ingest.geometry import same_grid, series_geometry

# sha256 of the voxel arrays these dicomfactory series gave before tilted grids were widened
# (unresampled paths, and uneven stacks that are resampled along the normal only).
BEFORE = {
    "regular": ({"n": 7}, "828b587aceee94ef89ae78057dfda711700100b3099d6cffd315874f69e90062"),
    "reversed": ({"n": 5, "iop": (1, 0, 0, 0, -1, 0), "step": (0, 0, -2.0)},
                 "fa5b6e56c1dddb2fc088c421a02e6e54f186da168a9c81122de0e594098445d2"),
    "slope": ({"n": 3, "slope": 0.25, "intercept": -10.0},
              "5c86cefaa93879e583d94104532f81667e98d1cb674f648774c3b7aa07e227c2"),
    "uneven": ({"positions": [0, 2, 4, 7, 9, 11]},
               "1cae030a8ba9cfc432629b1fe46bb21f43ef32485f9f27ee651f0a5aa2f8b1ef"),
    "uneven2": ({"positions": [0, 2.5, 5, 7.2, 9.9, 12.5, 15]},
                "95089849a4aaabd6ee1af6c89d0ba9e2807b988afd8847daacc9407c126908cf"),
    "dwi": ({"n": 4, "modality": "MR", "b_values": [800, 0, 100], "b_tag": "philips",
             "intercept": 0.0},
            "39faee83d0bffe2d9613ebd3fc10160e7989b5bbeaf472706aa8d58ea812873b"),
    "coronal": ({"n": 4, "iop": (1, 0, 0, 0, 0, -1), "step": (0, 2.0, 0)},
                "91cd09c6cb3c2bccf921169a161820720f280508aca325fac0e19f1e7b14aa8c"),
}


@pytest.mark.parametrize("name", sorted(BEFORE))
def test_untilted_stacks_convert_byte_identically_to_before(tmp_path, name):
    kwargs, digest = BEFORE[name]
    img, _ = read_series(write_series(tmp_path / name, **kwargs))
    assert hashlib.sha256(sitk.GetArrayFromImage(img).tobytes()).hexdigest() == digest


def geometry(files) -> dict:
    return series_geometry([pydicom.dcmread(f) for f in files])


def assert_keeps_every_pixel(img, files, *, field_tol: float | None = None) -> dict:
    """Every acquired pixel centre lies inside the grid (within 1e-3 voxel). At each one, the
    nearest voxel's value lies within the range of the pixel's 3x3 neighbourhood in its slice,
    and so does the trilinear value away from the slice border: output voxels are linear in
    the acquired pixels of the cell holding them, and those within one voxel of a pixel centre
    draw on its 3x3 neighbourhood only (this holds where output slices coincide with acquired
    ones: evenly spaced stacks). With `field_tol` the acquired values follow `linear_field`,
    which linear interpolation reproduces: interior values must match it within `field_tol`."""
    c = coverage(img, files)
    assert c["fraction"] == 1.0
    tol = 1e-3 * max(1.0, float(np.abs(c["values"]).max()))  # float32 rounding
    ok_near = (c["nearest"] >= c["lo"] - tol) & (c["nearest"] <= c["hi"] + tol)
    interior = ~c["rim"]
    lin = c["linear"][interior]
    ok_lin = (lin >= c["lo"][interior] - tol) & (lin <= c["hi"][interior] + tol)
    if field_tol is None:
        assert ok_near.all() and ok_lin.all()
    else:
        assert np.abs(lin - linear_field(c["points"][interior])).max() <= field_tol
    return c


@pytest.mark.parametrize("step", [(0.0, 1.1, 3.0), (0.0, -1.1, 3.0), (0.7, -0.9, 2.5)],
                         ids=["drift+y", "drift-y", "drift-x-y"])
def test_tilted_stack_grid_holds_every_acquired_pixel(tmp_path, step):
    files = write_series(tmp_path / "s", n=6, rows=9, cols=11, step=step)
    img, meta = read_series(files)
    assert meta["resampled"]
    assert_keeps_every_pixel(img, files, field_tol=0.51)
    # the first slice's pixel lattice is the grid's: its pixels are voxel centres, exactly
    i0, j0 = geometry(files)["plane_start"]
    assert (i0 < 0) == (step[0] < 0) and (j0 < 0) == (step[1] < 0)
    first = sitk.GetArrayFromImage(img)[0, -j0:-j0 + 9, -i0:-i0 + 11]
    untilted = sitk.GetArrayFromImage(read_series(write_series(
        tmp_path / "flat", n=1, rows=9, cols=11))[0])[0]
    assert np.array_equal(first, untilted.astype(first.dtype))


def test_uneven_and_tilted_uneven_stacks_hold_every_acquired_pixel(tmp_path):
    files = write_series(tmp_path / "u", positions=[0, 2, 4, 7, 9, 11])
    img, _ = read_series(files)
    assert_keeps_every_pixel(img, files, field_tol=0.51)
    # tilted and uneven (like dcm_qa_ct's GE series): slice origins drift 0.4 mm per mm of z
    files = write_series(tmp_path / "tu", positions=[0, 2, 4, 7, 9, 11], rows=9, cols=11,
                         drift=(0.0, 0.4, 0.0))
    img, meta = read_series(files)
    assert any("gantry tilt" in w for w in meta["warnings"])
    assert any("uneven slice spacing" in w for w in meta["warnings"])
    assert_keeps_every_pixel(img, files, field_tol=0.51)


def test_real_ct_pixels_on_a_tilted_stack_keep_every_pixel(shared_data, tmp_path, caplog):
    """The Philips head CT's real pixels (its first 14 slices, 512x512, HU -1024..782)
    labelled with the tilted geometry Philips writes for its -18.5 deg series (dcm_qa_ct
    S21610/S2010): column direction tilted, origins stepping 5 mm along z, so each slice
    drifts 1.59 mm (3.5 rows) along the column axis. On dcm_qa_ct's real tilted series (not
    in the bundle) 8.4-9.8 % of the pixels fell outside the grid before it was widened."""
    src = shared_data / "dicom" / "dcm_qa_ct_philips_S2010" / "In"
    real = sorted((p for p in src.iterdir() if p.name != "DIRFILE"),
                  key=lambda p: int(p.name[1:]))[:14]
    files = tilt_headers(real, tmp_path / "tilted")
    with caplog.at_level(logging.WARNING):
        img, meta = read_series(files, patient="pT")
    # 13 steps of 5 * 0.3173047 mm = 20.62 mm = 45.7 rows of 0.4512 mm: 46 rows more
    assert any("tilt 18.50 deg" in r.message and "widened from 512x512 to 512x558" in
               r.message for r in caplog.records)
    assert img.GetSize() == (512, 558, 14) and meta["dtype"] == "float32"
    c = assert_keeps_every_pixel(img, files)
    # Slice 0 lies on the grid's lattice: its pixels are reproduced exactly.
    arr = sitk.GetArrayFromImage(img)
    geom = geometry(files)
    j0 = geom["plane_start"][1]
    flat, _ = read_series(real[:1])
    assert np.array_equal(arr[0, -j0:-j0 + 512], sitk.GetArrayFromImage(flat)[0])
    # Voxels beyond half a pixel from slice k's rows are background air; HU range kept.
    rows = (np.arange(558)[None, :] + j0
            - np.asarray(geom["offsets_mm"])[:, 1:2] / img.GetSpacing()[1])  # (k, j) in slice
    outside = (rows < -0.5) | (rows > 511.5)
    assert outside.sum() == 14 * 46 and np.all(arr[outside] == -1024)
    assert arr.min() == -1024 and arr.max() <= 782
    assert np.median(np.abs(c["linear"] - c["values"])) < 1.0


def test_triage_geometry_of_a_tilted_series_is_the_converted_grid(tmp_path):
    from hccer.ingest.dicomio import scan_dir

    files = write_series(tmp_path / "s", n=6, step=(0.5, -1.3, 3.0))
    headers, _, _ = scan_dir(tmp_path / "s")
    geom = series_geometry(headers)
    img, meta = read_series(files)
    grid = {"size": list(img.GetSize()), "spacing": list(img.GetSpacing()),
            "origin": list(img.GetOrigin()), "direction": list(img.GetDirection())}
    assert not same_grid(geom, grid) and meta["geometry"]["size"] == list(img.GetSize())
