"""Registration: known rigid transforms recovered, QC record and gate, identity mode, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import SimpleITK as sitk
from hccer.cli import main
from hccer.errors import InputError
from hccer.preprocess import metrics
from hccer.preprocess.register import (
    QUICK_RIGID,
    qc_metrics,
    register_images,
    registration_region,
    rescaled_schedule,
    run_register,
    working_factor,
)

from .phantoms import abdomen, euler, move


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    d = tmp_path_factory.mktemp("reg")
    fixed, fmask = abdomen(seed=1)
    true = euler(rot_deg=(2.0, -1.5, 3.0), trans_mm=(2.0, -3.0, 6.0))
    moving, mmask = move(fixed, fmask, true)
    # The moving phase gets its own noise so the two are not identical up to interpolation.
    arr = sitk.GetArrayFromImage(moving) + np.random.default_rng(7).normal(
        0, 8, moving.GetSize()[::-1]).astype(np.float32)
    noisy = sitk.GetImageFromArray(arr)
    noisy.CopyInformation(moving)
    paths = {}
    for name, img in (("f", fixed), ("fm", fmask), ("m", noisy), ("mm", mmask)):
        paths[name] = str(d / f"{name}.nii.gz")
        sitk.WriteImage(img, paths[name])
    return d, paths, true, fixed, fmask


def _errors_mm(est, true, fixed, fmask):
    """Distance between estimated and true fixed->moving maps over tumour voxels."""
    inv = true.GetInverse()  # the phantom moved by sampling through `true`
    idx = np.argwhere(sitk.GetArrayFromImage(fmask) > 0)[::10, ::-1]
    pts = [fixed.TransformIndexToPhysicalPoint([int(v) for v in p]) for p in idx]
    return np.array([np.linalg.norm(np.subtract(est.TransformPoint(p), inv.TransformPoint(p)))
                     for p in pts])


# Rigid (our schedule, 8x to 2x shrink) must be sub-millimetre; ANTs' QuickRigid preset
# stops at 4x shrink, so it only gets within a few mm.
@pytest.mark.parametrize(("kind", "tol_mm"), [("Rigid", 1.0), ("QuickRigid", 4.0)])
def test_known_rigid_transform_recovered(pair, kind, tol_mm):
    d, p, true, fixed, fmask = pair
    out = d / kind
    rec = run_register(p["f"], p["m"], out / "o.nii.gz", out / "t.mat", out / "q.json",
                       moving_mask_path=p["mm"], out_mask=out / "om.nii.gz",
                       fixed_mask_path=p["fm"], qc_png=out / "q.png", transform_type=kind,
                       threads=2, seed=3, patient="p0a1", phase="ART")
    err = _errors_mm(sitk.ReadTransform(str(out / "t.mat")), true, fixed, fmask)
    assert err.max() < tol_mm
    assert rec["passed"] is True and rec["reasons"] == []
    m = rec["metrics"]
    assert m["ncc_after"] > m["ncc_before"] + 0.1
    assert m["dice_after"] > 0.8 > m["dice_before"]
    # Reported motion matches the inverse of the applied one (rotation angle is invariant).
    assert rec["transform"]["rotation_deg"] == pytest.approx(
        metrics.rotation_magnitude_deg(np.reshape(true.GetMatrix(), (3, 3))), abs=tol_mm / 4)
    assert json.loads((out / "q.json").read_text())["passed"] is True
    moved = sitk.ReadImage(str(out / "o.nii.gz"))
    assert moved.GetSize() == fixed.GetSize()
    assert set(np.unique(sitk.GetArrayFromImage(sitk.ReadImage(str(out / "om.nii.gz"))))) \
        == {0, 1}
    assert (out / "q.png").stat().st_size > 1000


def test_qc_gate_flags_without_error_exit(pair, tmp_path):
    _, p, *_ = pair
    rc = main(["register", "--fixed", p["f"], "--moving", p["m"], "--out-image",
               str(tmp_path / "o.nii.gz"), "--out-transform", str(tmp_path / "t.mat"), "--qc",
               str(tmp_path / "q.json"), "--type", "QuickRigid", "--max-rotation", "0.5",
               "--min-ncc", "0.9999", "--threads", "2", "--patient", "p0a1", "--phase", "PV"])
    assert rc == 0
    q = json.loads((tmp_path / "q.json").read_text())
    assert q["passed"] is False
    assert any("rotation" in r for r in q["reasons"])
    assert any("NCC" in r for r in q["reasons"])
    assert "dice_after" not in q["metrics"]


def test_integer_moving_image_is_written_in_its_type(pair, tmp_path):
    # an int16 (HU) phase comes out int16: the float result on the fixed grid, rounded
    _, p, _, fixed, _ = pair
    hu = sitk.Cast(sitk.ReadImage(p["m"]), sitk.sitkInt16)
    sitk.WriteImage(hu, str(tmp_path / "m16.nii.gz"))
    run_register(p["f"], str(tmp_path / "m16.nii.gz"), tmp_path / "o.nii.gz", tmp_path / "t.mat",
                 tmp_path / "q.json", identity=True, patient="p0a1")
    out = sitk.ReadImage(str(tmp_path / "o.nii.gz"))
    assert out.GetPixelID() == sitk.sitkInt16
    want = sitk.Resample(sitk.Cast(hu, sitk.sitkFloat32), fixed, sitk.Transform(),
                         sitk.sitkLinear, float(sitk.GetArrayViewFromImage(hu).min()),
                         sitk.sitkFloat32)
    np.testing.assert_array_equal(sitk.GetArrayViewFromImage(out),
                                  np.rint(sitk.GetArrayViewFromImage(want)))


def test_identity_mode_copies_reference(pair, tmp_path):
    _, p, _, fixed, _ = pair
    rec = run_register(p["f"], p["f"], tmp_path / "o.nii.gz", tmp_path / "t.mat",
                       tmp_path / "q.json", moving_mask_path=p["fm"],
                       out_mask=tmp_path / "om.nii.gz", identity=True, patient="p0a1")
    assert rec["passed"] and rec["identity"]
    np.testing.assert_allclose(sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "o.nii.gz"))),
                               sitk.GetArrayFromImage(fixed), atol=1e-4)
    t = sitk.ReadTransform(str(tmp_path / "t.mat"))
    assert t.TransformPoint((1.0, 2.0, 3.0)) == pytest.approx((1.0, 2.0, 3.0))
    assert rec["metrics"]["ncc_before"] == pytest.approx(1.0)


def test_mask_on_wrong_grid_is_input_error(pair, tmp_path):
    _, p, *_ = pair
    bad = sitk.ReadImage(p["mm"])
    bad.SetSpacing((1.0, 1.0, 2.0))
    sitk.WriteImage(bad, str(tmp_path / "bad.nii.gz"))
    with pytest.raises(InputError) as exc:
        run_register(p["f"], p["m"], tmp_path / "o.nii.gz", tmp_path / "t.mat",
                     tmp_path / "q.json", moving_mask_path=str(tmp_path / "bad.nii.gz"),
                     out_mask=tmp_path / "om.nii.gz", patient="p0a1")
    assert "p0a1" in str(exc.value) and "bad.nii.gz" in str(exc.value)
    assert "grid" in str(exc.value)


def test_registration_region_excludes_borders_and_centres_on_tumour(pair):
    _, _, _, fixed, fmask = pair
    start, size = registration_region(fixed, None, border_mm=15)
    assert start == [15, 15, 15]
    assert size == [s - 30 for s in fixed.GetSize()]
    start, size = registration_region(fixed, fmask, border_mm=15, roi_margin_mm=5)
    idx = np.argwhere(sitk.GetArrayFromImage(fmask) > 0)[:, ::-1]
    assert start == np.maximum(idx.min(0) - 5, 15).tolist()


@pytest.mark.parametrize("shift_mm", [None, 60.0])
def test_qc_metrics_on_region_equal_whole_grid_masked(pair, shift_mm):
    """QC resamples onto the region only; it must equal resampling the whole fixed grid and
    masking it to the region (the straightforward definition), value for value, also when
    part of the region maps outside the moving image (a 60 mm shift)."""
    _, p, true, fixed, fmask = pair
    moving = sitk.ReadImage(p["m"], sitk.sitkFloat32)
    mmask = sitk.ReadImage(p["mm"])
    start, size = registration_region(fixed, fmask, border_mm=15, roi_margin_mm=10)
    assert np.prod(size) < 0.5 * np.prod(fixed.GetSize())  # a real sub-region
    inv = sitk.Euler3DTransform(true.GetInverse())
    after = sitk.AffineTransform(inv.GetMatrix(), inv.GetTranslation(), inv.GetCenter())
    if shift_mm:
        after.SetTranslation(np.add(after.GetTranslation(), (shift_mm, 0, 0)).tolist())
    got = qc_metrics(fixed, moving, after, {"start_index": start, "size": size}, fmask, mmask)
    fa = sitk.GetArrayFromImage(fixed).astype(np.float32)
    roi = np.zeros(fa.shape, bool)
    (x0, y0, z0), (sx, sy, sz) = start, size
    roi[z0:z0 + sz, y0:y0 + sy, x0:x0 + sx] = True
    lowest = float(sitk.GetArrayViewFromImage(moving).min())
    for tag, tx in (("before", sitk.AffineTransform(3)), ("after", after)):
        mv = sitk.GetArrayFromImage(sitk.Resample(moving, fixed, tx, sitk.sitkLinear, lowest,
                                                  sitk.sitkFloat32))
        ones = sitk.Image(moving.GetSize(), sitk.sitkUInt8) + 1
        ones.CopyInformation(moving)
        inside = sitk.GetArrayFromImage(sitk.Resample(ones, fixed, tx, sitk.sitkNearestNeighbor,
                                                      0, sitk.sitkUInt8)) > 0
        sel = roi & inside
        assert got[f"ncc_{tag}"] == round(metrics.ncc(fa, mv, sel), 6)
        assert got[f"mi_{tag}"] == round(metrics.mutual_information(fa, mv, sel), 6)
        assert got[f"overlap_fraction_{tag}"] == round(float(sel.sum() / roi.sum()), 6)
    if shift_mm:
        assert got["overlap_fraction_after"] < 1.0  # the case this parameter is for
    else:
        assert got["ncc_after"] > got["ncc_before"]


def test_metrics_against_independent_references():
    from scipy.spatial.transform import Rotation
    from sklearn.metrics import mutual_info_score

    rng = np.random.default_rng(0)
    a = rng.normal(size=5000)
    b = 0.6 * a + rng.normal(size=5000)
    assert metrics.ncc(a, b) == pytest.approx(np.corrcoef(a, b)[0, 1], abs=1e-12)
    ea = np.digitize(a, np.histogram_bin_edges(a, 32)[1:-1])
    eb = np.digitize(b, np.histogram_bin_edges(b, 32)[1:-1])
    assert metrics.mutual_information(a, b) == pytest.approx(mutual_info_score(ea, eb), rel=1e-9)
    m1 = np.zeros((4, 4), bool)
    m1[:2] = True
    m2 = np.zeros((4, 4), bool)
    m2[1:3] = True
    assert metrics.dice(m1, m2) == pytest.approx(2 * 4 / 16)
    angles = (5.0, -7.0, 12.0)
    mat = Rotation.from_euler("xyz", angles, degrees=True).as_matrix()
    assert metrics.rotation_angles_deg(mat) == pytest.approx(angles)
    assert metrics.rotation_magnitude_deg(mat) == pytest.approx(
        np.degrees(Rotation.from_matrix(mat).magnitude()))


def test_working_grid_factor_and_schedule():
    # 1 mm -> averaged by 2 to the 2 mm finest level; 8-4-2 voxel shrinks become 4-2-1 and the
    # smoothing keeps its size in millimetres
    assert working_factor((1.0, 1.0, 1.0), 2.0) == 2
    assert working_factor((0.7, 0.7, 0.7), 2.0) == 2
    assert working_factor((2.0, 2.0, 2.0), 2.0) == 1
    assert working_factor((1.0, 1.0, 1.0), None) == 1
    assert working_factor((0.5, 0.5, 1.0), 2.0) == 1    # axes would need 4 and 2: unshrunk
    assert rescaled_schedule((8, 4, 2), (3, 2, 1), 2) == ((4, 2, 1), (1.5, 1.0, 0.5))
    assert rescaled_schedule((8, 4, 2), (3, 2, 1), 4) == ((2, 1, 1), (0.75, 0.5, 0.25))


def test_working_grid_gives_the_full_grid_result(pair):
    """Registering on the 2 mm working grid recovers the transform as the 1 mm run does, and
    the transform still applies to the 1 mm images (it is physical)."""
    _, _, true, fixed, fmask = pair
    moving, _ = move(fixed, fmask, true)
    full = register_images(fixed, moving, "Rigid", 3, fmask, working_spacing_mm=None)
    work = register_images(fixed, moving, "Rigid", 3, fmask)
    assert full.region["working_shrink"] == 1 and work.region["working_shrink"] == 2
    e_full = _errors_mm(full.transform, true, fixed, fmask)
    e_work = _errors_mm(work.transform, true, fixed, fmask)
    assert e_work.max() < 1.0 and e_full.max() < 1.0
    assert _errors_mm(work.transform, full.transform.GetInverse(), fixed, fmask).max() < 0.5


# Run in a fresh process with one ITK thread: multi-threaded ANTs differs run to run (~0.1 mm
# here), and ITK fixes its thread count once per process.
_COMPARE = """
import sys, json
import numpy as np, SimpleITK as sitk
from hccer.preprocess.register import run_ants
import ants
d, kind, init = sys.argv[1], sys.argv[2], sys.argv[3]
shrink, smooth, iters, rate = json.loads(sys.argv[4])
fixed, moving = (sitk.ReadImage(f"{d}/{n}.mha") for n in ("f", "m"))
mine = sitk.ReadTransform(run_ants(fixed, moving, d, "Rigid" if kind == "QuickRigid" else kind,
                                   shrink, smooth, iters, rate, 5, init))
def as_ants(img):
    arr = sitk.GetArrayFromImage(img).transpose(2, 1, 0)
    return ants.from_numpy(arr, origin=img.GetOrigin(), spacing=img.GetSpacing(),
                           direction=np.reshape(img.GetDirection(), (3, 3)))
own = {} if kind == "QuickRigid" else dict(  # QuickRigid: antspyx's own preset and defaults
    aff_shrink_factors=tuple(shrink), aff_smoothing_sigmas=tuple(smooth),
    aff_iterations=tuple(iters), aff_random_sampling_rate=rate)
ref = ants.registration(as_ants(fixed), as_ants(moving), type_of_transform=kind, **own,
                        random_seed=5, outprefix=d + "/ref_",
                        initial_transform=["Identity"] if init == "identity" else None)
theirs = sitk.ReadTransform(ref["fwdtransforms"][0])
print(json.dumps([list(t.GetParameters()) + list(t.GetFixedParameters())
                  for t in (mine, theirs)]))
"""


@pytest.mark.parametrize(("kind", "schedule", "init"), [
    ("Rigid", [[4, 2, 1], [1.5, 1.0, 0.5], [100, 50, 25], 0.1], "identity"),
    ("Affine", [[4, 2], [2, 1], [30, 10], 0.2], "com"),
    ("QuickRigid", list(QUICK_RIGID), "identity"),
])
def test_direct_ants_call_equals_antspyx(pair, tmp_path, kind, schedule, init):
    """The antsRegistration call made without importing antspyx's Python layer gives the
    transform that ants.registration gives for the same images and settings."""
    import os
    import subprocess
    import sys

    _, _, true, fixed, fmask = pair
    moving, _ = move(fixed, fmask, true)
    for name, img in (("f", fixed), ("m", moving)):
        sitk.WriteImage(sitk.BinShrink(sitk.Cast(img, sitk.sitkFloat32), [2, 2, 2]),
                        str(tmp_path / f"{name}.mha"))
    env = {**os.environ, "ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", _COMPARE, str(tmp_path), kind, init,
                          json.dumps(schedule)], env=env, capture_output=True, text=True,
                         check=True)
    mine, theirs = json.loads(out.stdout.strip().splitlines()[-1])
    np.testing.assert_allclose(mine, theirs, atol=1e-6)
    assert not np.allclose(mine[:9], np.eye(3).ravel(), atol=1e-3)  # it did move


def test_joint_histogram_equals_numpy():
    """The bincount joint histogram counts exactly what np.histogram2d counts, values on bin
    edges, the maximum and a constant image included."""
    rng = np.random.default_rng(2)
    ct = rng.integers(-1000, 1000, 50_000).astype(float)      # many values on edges
    cases = [(ct, rng.normal(0, 50, ct.size)), (ct, np.repeat([0.0, 1.0], ct.size // 2)),
             (np.full(100, 3.0), rng.normal(size=100)), (np.linspace(0, 1, 33), np.arange(33.0))]
    for a, b in cases:
        np.testing.assert_array_equal(metrics._joint_histogram(a, b, 32),
                                      np.histogram2d(a, b, bins=32)[0])
