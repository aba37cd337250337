"""The map crop of the map ViT: same box and grid as the b-value crop, per-map scaling, errors."""

import json

import numpy as np
import pytest
import SimpleITK as sitk
import yaml
from hccer.errors import InputError
from hccer.ivimvit.maps import MAP_NAMES, crop_maps, run_crop_maps
from hccer.preprocess.crop import run_crop
from hccer.preprocess.resample import resample_image

B = [0, 10, 20, 40, 80, 200, 400, 600, 1000]


def _img(a, spacing=(1.5, 1.5, 3.0)):
    img = sitk.GetImageFromArray(np.asarray(a, np.float32))
    img.SetSpacing(spacing)
    img.SetOrigin((-30.0, -30.0, -18.0))
    return img


@pytest.fixture(scope="module")
def case(tmp_path_factory, project_root):
    """A native-grid DWI (1.5 x 1.5 x 3 mm), its maps and mask; the b-value crop on 1 mm."""
    d = tmp_path_factory.mktemp("mapcrop")
    z, y, x = np.mgrid[:12, :40, :40]
    s0 = 800 + 600 * np.sin(x / 5.0) * np.cos(y / 7.0) + 30 * z            # smooth, > 0
    mask = ((z - 6) / 3.5) ** 2 + ((y - 20) / 8.0) ** 2 + ((x - 18) / 6.0) ** 2 <= 1
    vols = [_img(s0 * np.exp(-b * 1.1e-3)) for b in B]
    sitk.WriteImage(sitk.JoinSeries(vols), str(d / "dwi.nii.gz"))
    m = sitk.Cast(_img(mask), sitk.sitkUInt8)
    sitk.WriteImage(m, str(d / "mask_native.nii.gz"))
    maps = {"ADC": s0 * 1e-6, "D": s0 * 5e-7, "Dstar": np.full(s0.shape, 0.05),
            "f": np.where(x < 18, 0.2, 1.7)}                                  # f > 1: clipped
    paths = {}
    for name, a in maps.items():
        paths[name] = str(d / f"{name}.nii.gz")
        sitk.WriteImage(_img(a), paths[name])
    dwi1 = resample_image(sitk.ReadImage(str(d / "dwi.nii.gz")), (1, 1, 1), "linear")
    sitk.WriteImage(dwi1, str(d / "dwi1.nii.gz"))
    (d / "dwi1.bval").write_text(" ".join(map(str, B)) + "\n")
    sitk.WriteImage(resample_image(m, (1, 1, 1), "label"), str(d / "mask1.nii.gz"))
    study = yaml.safe_load((project_root / "config" / "studies" / "ivim_vit.yaml").read_text())
    study["crop"]["size"] = [16, 16, 16]
    run_crop(study, "p1", {"DWI": str(d / "dwi1.nii.gz")}, {"DWI": str(d / "mask1.nii.gz")},
             d / "b.npz", d / "b.json")
    return d, study, paths


def test_map_crop_samples_the_b_crop_points_and_scales_each_map(case):
    d, study, paths = case
    arrays, meta = crop_maps(paths, str(d / "mask1.nii.gz"), str(d / "b.json"), study,
                             (1, 1, 1), "p1")
    x = np.load(d / "b.npz")["x"]
    b0 = json.loads((d / "b.json").read_text())["intensity"]["b0_value"]
    maps = arrays["maps"]
    assert maps.shape == (4, 16, 16, 16) and list(meta["maps"]) == list(MAP_NAMES)
    assert meta["box_zyx_lo"] == json.loads((d / "b.json").read_text())["box_zyx_lo"]
    # ADC = S0 * 1e-6 natively, so its crop is the b = 0 crop rescaled: the same points
    keep = x[0] < 1.5
    np.testing.assert_allclose((maps[0] * 4e-3 / 1e-6)[keep], (x[0] * b0)[keep], rtol=2e-4)
    np.testing.assert_allclose(maps[1], maps[0] / 2, rtol=1e-4, atol=1e-7)   # D = ADC / 2
    np.testing.assert_allclose(maps[2], 0.05 / 0.5, rtol=1e-5)               # D* in [0, 0.5]
    assert maps[3].max() == pytest.approx(1.0) and maps[3].min() == pytest.approx(0.2)
    assert arrays["mask"].dtype == np.uint8 and 0 < arrays["mask"].mean() < 1


def test_zscore_scaling_and_written_outputs(case):
    d, study, paths = case
    st = dict(study, vit={"extractors": {"bdl": "vit_b", "mdl": "vit_m"},
                          "maps": {"scaling": "zscore"}})
    meta = run_crop_maps(paths, str(d / "mask1.nii.gz"), str(d / "b.json"), st, (1, 1, 1),
                         "p1", d / "m.npz", d / "m.json", d / "m.png")
    z = np.load(d / "m.npz")
    assert meta["scaling"] == "zscore" and (d / "m.png").is_file()
    for i in (0, 1, 3):
        assert z["maps"][i].mean() == pytest.approx(0, abs=1e-5)
        assert z["maps"][i].std() == pytest.approx(1, rel=1e-4)
    assert not z["maps"][2].any()                    # a constant map has no texture


def test_mismatched_inputs_are_input_errors(case, tmp_path):
    d, study, paths = case
    with pytest.raises(InputError, match="mask grid"):
        crop_maps(paths, str(d / "mask_native.nii.gz"), str(d / "b.json"), study, (1, 1, 1),
                  "p1")
    other = tmp_path / "D.nii.gz"
    sitk.WriteImage(_img(np.ones((12, 40, 40)), spacing=(1.5, 1.5, 2.0)), str(other))
    with pytest.raises(InputError, match="map D .* is not a 3D image on the grid"):
        crop_maps(dict(paths, D=str(other)), str(d / "mask1.nii.gz"), str(d / "b.json"), study,
                  (1, 1, 1), "p1")
    with pytest.raises(InputError, match="does not match the grid"):
        crop_maps(paths, str(d / "mask1.nii.gz"), str(d / "b.json"), study, (2, 2, 2), "p1")
    bad = tmp_path / "meta.json"
    bad.write_text(json.dumps({"mode": "voi3d"}))
    with pytest.raises(InputError, match="needs the bbox3d crop"):
        crop_maps(paths, str(d / "mask1.nii.gz"), str(bad), study, (1, 1, 1), "p1")
