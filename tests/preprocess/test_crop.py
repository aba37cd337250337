"""ROI crops: resize against torch, window values, each mode's shapes/contents, bad inputs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import SimpleITK as sitk
import yaml
from hccer.cli import main
from hccer.errors import InputError
from hccer.preprocess.crop import box_resize, ct_window, run_crop

from .phantoms import abdomen


def _study(project_root, key, **crop):
    s = yaml.safe_load((project_root / "config" / "studies" / f"{key}.yaml").read_text())
    s["crop"].update(crop)
    return s


@pytest.fixture(scope="module")
def ct(tmp_path_factory):
    """Three phases on one 1 mm grid; the ART mask sits one slice higher than NC/PV."""
    d = tmp_path_factory.mktemp("crop")
    img, msk = abdomen(seed=2)
    paths = {"img": {}, "mask": {}}
    m = sitk.GetArrayFromImage(msk)
    for ph, shift in (("NC", 0), ("ART", 1), ("PV", 0)):
        mi = sitk.GetImageFromArray(np.roll(m, shift, axis=0))
        mi.CopyInformation(msk)
        paths["img"][ph] = str(d / f"{ph}.nii.gz")
        paths["mask"][ph] = str(d / f"{ph}_mask.nii.gz")
        sitk.WriteImage(img, paths["img"][ph])
        sitk.WriteImage(mi, paths["mask"][ph])
    return d, paths, sitk.GetArrayFromImage(img), m


def test_box_resize_matches_torch_bilinear():
    import torch

    rng = np.random.default_rng(0)
    a = rng.normal(size=(40, 50)).astype(np.float32)
    lo, hi = (5, 8), (24, 37)
    ours = box_resize(a, lo, hi, (64, 48))
    patch = torch.from_numpy(a[5:25, 8:38].copy())[None, None]
    ref = torch.nn.functional.interpolate(patch, size=(64, 48), mode="bilinear",
                                          align_corners=False)[0, 0].numpy()
    np.testing.assert_allclose(ours, ref, atol=1e-5)
    # Same-size box is an exact copy; a box past the edge is padded with cval.
    np.testing.assert_array_equal(box_resize(a, (0, 0), (39, 49), (40, 50)), a)
    pad = box_resize(a, (-2, 0), (1, 3), (4, 4), cval=-7.0)
    assert (pad[:2] == -7.0).all() and np.allclose(pad[2:], a[:2, :4])


def test_ct_window_hand_values():
    np.testing.assert_allclose(ct_window(np.array([-500, -160, 40, 240, 1000]), 40, 400),
                               [0, 0, 0.5, 1, 1])


def test_slices2d_phase_attention(ct, project_root, tmp_path):
    d, p, arr, m = ct
    study = _study(project_root, "phase_attention", size=[64, 64])
    meta = run_crop(study, "p0b2", p["img"], p["mask"], tmp_path / "x.npz", tmp_path / "x.json",
                    tmp_path / "x.png")
    x = np.load(tmp_path / "x.npz")["x"]
    areas = m.sum(axis=(1, 2))
    zc = int(np.argmax(areas))
    assert meta["central_slice"] == {"NC": zc, "ART": zc + 1, "PV": zc}
    assert x.shape == (5, 3, 64, 64) and x.dtype == np.float32
    assert meta["offsets"] == [-2, -1, 0, 1, 2]
    # Centre-point pairing: with identical images, ART's crop at offset 0 is taken one slice up.
    ys, xs = np.nonzero(m[zc])
    box = arr[zc, ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    ref = box_resize(ct_window(box, 40, 400), (0, 0), np.array(box.shape) - 1, (64, 64))
    np.testing.assert_allclose(x[2, 0], ref, atol=1e-6)
    ys1, xs1 = np.nonzero(np.roll(m, 1, axis=0)[zc + 1])
    assert (ys1.min(), xs1.min()) == (ys.min(), xs.min())
    art_ref = box_resize(ct_window(arr[zc + 1, ys.min():ys.max() + 1, xs.min():xs.max() + 1],
                                   40, 400), (0, 0), np.array(box.shape) - 1, (64, 64))
    np.testing.assert_allclose(x[2, 1], art_ref, atol=1e-6)
    # Centre of the crop is tumour (130 HU) -> window value 0.725, within noise.
    assert x[2, :, 28:36, 28:36].mean() == pytest.approx(ct_window(130.0, 40, 400), abs=0.05)
    s = [r for r in meta["slices"] if r["phase"] == "NC" and r["offset"] == 0][0]
    assert s["tumour_area_mm2"] == pytest.approx(areas[zc])
    assert (tmp_path / "x.png").stat().st_size > 500
    assert json.loads((tmp_path / "x.json").read_text())["patient"] == "p0b2"
    # the whole central slice per phase, for Fig. 1-style panels (uint8 window)
    ctx = np.load(tmp_path / "x.npz")["context"]
    assert ctx.dtype == np.uint8 and ctx.shape == (3, *arr.shape[1:])
    np.testing.assert_array_equal(ctx[0], np.round(ct_window(arr[zc], 40, 400) * 255))
    np.testing.assert_array_equal(ctx[1], np.round(ct_window(arr[zc + 1], 40, 400) * 255))
    assert meta["arrays"]["context"] == list(ctx.shape)


def test_slices2d_neighbours_limited_to_tumour(tmp_path, project_root):
    img, _ = abdomen(shape_zyx=(20, 48, 48), seed=3)
    m = np.zeros((20, 48, 48), np.uint8)
    m[9:11, 20:26, 18:30] = 1  # two tumour slices; the larger one is 10
    m[10, 19, 18:30] = 1
    mi = sitk.GetImageFromArray(m)
    mi.CopyInformation(img)
    sitk.WriteImage(img, str(tmp_path / "i.nii.gz"))
    sitk.WriteImage(mi, str(tmp_path / "m.nii.gz"))
    study = _study(project_root, "cemri_dlrcr", size=[32, 32], slice_source="reference",
                   intensity={"kind": "percentile", "low": 0.5, "high": 99.5})
    imgs = {ph: str(tmp_path / "i.nii.gz") for ph in ("AP", "PVP", "DP")}
    meta = run_crop(study, "p1", imgs, {"AP": str(tmp_path / "m.nii.gz")}, tmp_path / "x.npz",
                    tmp_path / "x.json")
    x = np.load(tmp_path / "x.npz")["x"]
    assert meta["central_slice"] == {"AP": 10, "PVP": 10, "DP": 10}
    assert meta["offsets"] == [-1, 0]
    assert x.shape == (2, 3, 32, 32)
    assert 0.0 <= x.min() and x.max() <= 1.0
    # Square box with a 10 mm margin around the 7 x 12 tumour: 32 x 32 pixels.
    s0 = meta["slices"][0]
    assert np.subtract(s0["box_yx_hi"], s0["box_yx_lo"]).tolist() == [31, 31]
    lo, hi = np.percentile(sitk.GetArrayFromImage(img), [0.5, 99.5])
    assert meta["intensity"]["AP"]["low_value"] == pytest.approx(lo)
    assert meta["intensity"]["AP"]["high_value"] == pytest.approx(hi)


def test_voi3d_ss_and_nss(ct, project_root, tmp_path):
    d, p, arr, m = ct
    study = _study(project_root, "ct_3dcnn")
    imgs = {"ART": p["img"]["ART"]}
    meta = run_crop(study, "p2", imgs, {"ART": p["mask"]["ART"]}, tmp_path / "v.npz",
                    tmp_path / "v.json", tmp_path / "v.png")
    z = np.load(tmp_path / "v.npz")
    mart = np.roll(m, 1, axis=0).astype(bool)
    assert z["SS"].shape == z["NSS"].shape == (1, 10, 150, 150)
    idx = np.argwhere(mart)
    zc, yc, xc = (idx.min(0) + idx.max(0)) // 2
    win = ct_window(arr, 40, 400)
    # Box starts at centre - (5, 75, 75); the 96-voxel volume leaves padding (= 0) around it.
    assert z["NSS"][0, 5, 75, 75] == pytest.approx(win[zc, yc, xc])
    np.testing.assert_allclose(z["NSS"][0, 5, 75 - yc:75 - yc + 96, 75 - xc:75 - xc + 96],
                               win[zc], atol=1e-6)
    assert z["NSS"][0, 5, 0, 0] == 0.0  # outside the volume: window minimum
    ss = z["SS"][0]
    box_mask = np.zeros_like(ss, bool)
    box_mask[:, 75 - yc:75 - yc + 96, 75 - xc:75 - xc + 96] = mart[zc - 5:zc + 5]
    assert (ss[~box_mask] == 0).all()
    np.testing.assert_allclose(ss[box_mask], z["NSS"][0][box_mask])
    assert meta["boxes"][0]["centre_zyx"] == [int(zc), int(yc), int(xc)]


def test_bbox3d_ivim_stack(project_root, tmp_path):
    rng = np.random.default_rng(4)
    _, msk = abdomen(shape_zyx=(30, 40, 40), tumour_centre_mm=(0, 0, 0),
                     tumour_radii_mm=(8, 6, 5))
    bvals = [0, 10, 20, 40, 80, 200, 400, 600, 1000]
    order = rng.permutation(9)  # stored out of order; the crop sorts by b
    s0 = rng.uniform(800, 1200, (30, 40, 40)).astype(np.float32)
    vols = []
    for i in order:
        v = sitk.GetImageFromArray(s0 * np.exp(-bvals[i] * 1.2e-3).astype(np.float32))
        v.CopyInformation(msk)
        vols.append(v)
    sitk.WriteImage(sitk.JoinSeries(vols), str(tmp_path / "dwi.nii.gz"))
    (tmp_path / "dwi.bval").write_text(" ".join(str(bvals[i]) for i in order) + "\n")
    sitk.WriteImage(msk, str(tmp_path / "m.nii.gz"))
    study = _study(project_root, "ivim_vit", size=[16, 16, 16])
    meta = run_crop(study, "p3", {"DWI": str(tmp_path / "dwi.nii.gz")},
                    {"DWI": str(tmp_path / "m.nii.gz")}, tmp_path / "b.npz", tmp_path / "b.json",
                    tmp_path / "b.png")
    x = np.load(tmp_path / "b.npz")["x"]
    assert x.shape == (9, 16, 16, 16)
    assert meta["b_values"] == [float(b) for b in bvals]
    idx = np.argwhere(sitk.GetArrayFromImage(msk))
    lo, hi = idx.min(0), idx.max(0)
    crop0 = s0[lo[0]:hi[0] + 1, lo[1]:hi[1] + 1, lo[2]:hi[2] + 1]
    assert meta["intensity"]["b0_value"] == pytest.approx(np.percentile(crop0, 99.5), rel=1e-5)
    # Signal decay is kept across channels: every b-volume is b0 * exp(-b D).
    for i, b in enumerate(bvals):
        np.testing.assert_allclose(x[i], np.clip(x[0] * np.exp(-b * 1.2e-3), 0, 1.5), rtol=1e-4,
                                   atol=1e-6)
    assert x.max() <= 1.5


def _bad(tmp_path, arr, name="bad.nii.gz", like=None, spacing=None):
    img = sitk.GetImageFromArray(arr)
    if like is not None:
        img.CopyInformation(like)
    if spacing is not None:
        img.SetSpacing(spacing)
    sitk.WriteImage(img, str(tmp_path / name))
    return str(tmp_path / name)


@pytest.mark.parametrize("problem", ["empty", "labels", "grid"])
def test_bad_masks_are_input_errors(ct, project_root, tmp_path, problem):
    d, p, arr, m = ct
    like = sitk.ReadImage(p["mask"]["PV"])
    if problem == "empty":
        bad = _bad(tmp_path, np.zeros_like(m), like=like)
    elif problem == "labels":
        bad = _bad(tmp_path, (m * 2).astype(np.uint8), like=like)
    else:
        bad = _bad(tmp_path, m, spacing=(1.0, 1.0, 2.0))
    study = _study(project_root, "phase_attention", size=[32, 32])
    masks = dict(p["mask"], PV=bad)
    with pytest.raises(InputError) as exc:
        run_crop(study, "p0b2", p["img"], masks, tmp_path / "x.npz", tmp_path / "x.json")
    msg = str(exc.value)
    assert "p0b2" in msg and "bad.nii.gz" in msg
    assert {"empty": "empty", "labels": "not 0/1", "grid": "grid"}[problem] in msg


def test_crop_cli_reports_input_error(ct, project_root, tmp_path, capsys):
    d, p, arr, m = ct
    rc = main(["crop", "--study", str(project_root / "config/studies/ct_3dcnn.yaml"),
               "--patient", "p9", "--image", f"ART={p['img']['ART']}",
               "--mask", f"ART={tmp_path / 'missing.nii.gz'}", "--out", str(tmp_path / "o.npz"),
               "--meta", str(tmp_path / "o.json")])
    assert rc == 2
    assert "p9" in capsys.readouterr().err
    assert not (tmp_path / "o.npz").exists()
