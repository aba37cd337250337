"""The workflow's way to reach a patient's files: DICOM root + pseudonym, never the site code."""

from __future__ import annotations

import json

import pytest
import SimpleITK as sitk
from hccer.cli import main
from hccer.errors import InputError
from hccer.ids import SALT_ENV, pseudonymise
from hccer.ingest.convert import read_series
from hccer.ingest.sources import mask_file, patient_code
from test_triage import STUDIES, _mask_like, ct_patient

SALT = "sources-test-salt-000111"


@pytest.fixture()
def site(tmp_path, monkeypatch):
    monkeypatch.setenv(SALT_ENV, SALT)
    code = "MRN0042"
    root = tmp_path / "dicom"
    ct_patient(root / code)
    ct_patient(root / "MRN0043", with_dl=False)
    (tmp_path / "masks").mkdir()
    _mask_like(sorted((root / code / "SE9").iterdir()), tmp_path / "masks" / f"{code}_art.nii.gz")
    sheet = tmp_path / "masks.tsv"
    sheet.write_text(f"patient_code\tphase\treader\tpath\n{code}\tART\tr1\tmasks/{code}_art.nii.gz\n")
    return root, sheet, code, pseudonymise(code, SALT)


def test_a_pseudonym_finds_its_folder_and_masks(site):
    root, sheet, code, pid = site
    assert patient_code(root, pid) == code
    assert mask_file(sheet, root, pid, "ART", "r1").name == f"{code}_art.nii.gz"
    with pytest.raises(InputError, match="no mask for phase PV, reader r1"):
        mask_file(sheet, root, pid, "PV", "r1")
    with pytest.raises(InputError, match="no folder under the DICOM root has this pseudonym"):
        patient_code(root, "p0123456789")
    # another salt: another pseudonym, so the folder is not found
    assert pseudonymise(code, "another-salt-for-this-test") != pid


def test_triage_convert_and_resample_by_pseudonym_with_no_site_value_on_the_command_line(
        site, tmp_path):
    root, sheet, code, pid = site
    out = tmp_path / "results"
    out.mkdir()
    commands = [
        ["triage", "--dicom-root", str(root), "--patient", pid, "--study",
         str(STUDIES / "ct_3dcnn.yaml"), "--masks", str(sheet), "--out-manifest",
         str(out / "m.tsv"), "--out-status", str(out / "s.json")],
        ["convert", "--dicom-root", str(root), str(out / "art.nii.gz"), "--from-status",
         str(out / "s.json"), "--phase", "ART", "--patient", pid],
        ["resample", "--mask-of", str(sheet), str(root), "ART", "r1", "--out",
         str(out / "mask1mm.nii.gz"), "--interp", "label", "--patient", pid],
    ]
    for argv in commands:
        assert code not in " ".join(argv) and SALT not in " ".join(argv)
        assert main(["--log", str(out / "log.txt"), *argv]) == 0, argv
    status = json.loads((out / "s.json").read_text())
    assert status["ok"] and status["masks"][0]["ok"], status
    by_hand, _ = read_series(
        sorted((root / code / "SE9").iterdir()))
    art = sitk.ReadImage(str(out / "art.nii.gz"))
    assert sitk.GetArrayFromImage(art).tolist() == sitk.GetArrayFromImage(by_hand).tolist()
    assert sitk.GetArrayFromImage(sitk.ReadImage(str(out / "mask1mm.nii.gz"))).any()
    for path in out.iterdir():
        if path.suffix != ".gz":
            assert code.encode() not in path.read_bytes(), path.name


def test_a_missing_salt_is_one_clear_message(site, monkeypatch, capfd):
    root, sheet, code, pid = site
    monkeypatch.delenv(SALT_ENV)
    assert main(["resample", "--mask-of", str(sheet), str(root), "ART", "r1", "--out", "x.nii.gz",
                 "--patient", pid]) == 2
    assert SALT_ENV in capfd.readouterr().err


@pytest.mark.parametrize("kind", ["nifti", "multilabel", "seg", "rtstruct"])
def test_every_mask_format_gives_the_single_label_nifti_mask(site, tmp_path, kind):
    """A mask sheet row naming a multi-label NIfTI (with `segment`), a DICOM-SEG or an
    RTSTRUCT passes triage and resamples to exactly what the single-label NIfTI gives."""
    import numpy as np
    import pydicom
    from maskfactory import (
        complete_headers,
        ellipsoid,
        grid_points,
        write_rtstruct_by_hand,
        write_seg,
    )

    root, _, code, pid = site
    art = complete_headers(sorted((root / code / "SE9").iterdir()))
    ref, _ = read_series(art)
    shape = ref.GetSize()[::-1]
    tumour = ellipsoid(shape, (shape[2] / 2, shape[1] / 2, shape[0] / 2),
                       (shape[2] / 4, shape[1] / 5, max(shape[0] / 3, 1.5)))
    cyst = ellipsoid(shape, (2.0, 2.0, 1.0), (1.5, 1.5, 1.0)) * (1 - tumour)
    masks = tmp_path / "masks"

    def nifti(array, name):
        img = sitk.GetImageFromArray(array.astype(np.uint8))
        img.CopyInformation(ref)
        sitk.WriteImage(img, str(masks / name))
        return name, ""

    if kind == "rtstruct":
        # a box outlined through pixel centres on each of its slices: exactly its pixels
        # (rt-utils itself round-trips square pixels only, and this series' are 1.25 x 1.5 mm)
        (z0, z1), (y0, y1), (x0, x1) = (1, shape[0] - 2), (2, shape[1] - 3), (3, shape[2] - 2)
        tumour = np.zeros(shape, np.uint8)
        tumour[z0:z1 + 1, y0:y1 + 1, x0:x1 + 1] = 1
        contours = [("CLOSED_PLANAR", grid_points(ref, [(x0, y0, z), (x1, y0, z), (x1, y1, z),
                                                         (x0, y1, z)])) for z in range(z0, z1 + 1)]
        path, segment = "rt.dcm", "tumour"
        write_rtstruct_by_hand(masks / path, pydicom.dcmread(art[0]).SeriesInstanceUID,
                               {"cyst": contours[:1], "tumour": contours})
    elif kind == "seg":
        path, segment = "seg.dcm", "tumour"
        write_seg(masks / path, art, {"cyst": cyst, "tumour": tumour})
    elif kind == "multilabel":
        path, segment = nifti(tumour * 2 + cyst, "labels.nii.gz")[0], "2"
    else:
        path, segment = nifti(tumour, "one.nii.gz")
    expected, _ = nifti(tumour, "expected.nii.gz")
    out = tmp_path / "out"
    out.mkdir()
    results = {}
    for name, seg in ((path, segment), (expected, "")):
        sheet = tmp_path / f"masks_{name}.tsv"
        sheet.write_text("patient_code\tphase\treader\tpath\tsegment\n"
                         f"{code}\tART\tr1\tmasks/{name}\t{seg}\n")
        status, grid = out / f"s_{name}.json", out / f"g_{name}.json"
        assert main(["triage", "--dicom-root", str(root), "--patient", pid, "--study",
                     str(STUDIES / "ct_3dcnn.yaml"), "--masks", str(sheet), "--out-manifest",
                     str(out / "m.tsv"), "--out-status", str(status)]) == 0
        st = json.loads(status.read_text())
        assert st["ok"] and st["masks"][0]["ok"], (kind, st["problems"])
        assert main(["convert", "--dicom-root", str(root), str(out / "art.nii.gz"),
                     "--from-status", str(status), "--phase", "ART", "--patient", pid,
                     "--sidecar", str(grid)]) == 0
        assert main(["resample", "--mask-of", str(sheet), str(root), "ART", "r1", "--status",
                     str(status), "--grid", str(grid), "--out", str(out / f"{name}.nii.gz"),
                     "--interp", "label", "--patient", pid]) == 0
        results[name] = sitk.GetArrayFromImage(sitk.ReadImage(str(out / f"{name}.nii.gz")))
    assert results[expected].any()
    assert np.array_equal(results[path], results[expected]), kind


def test_a_seg_drawn_on_another_series_is_named_by_series_key(site, tmp_path):
    from maskfactory import complete_headers, ellipsoid, write_seg

    root, _, code, pid = site
    pv = complete_headers(sorted((root / code / "SE2").iterdir()))
    ref, _ = read_series(pv)
    (tmp_path / "masks").mkdir(exist_ok=True)
    write_seg(tmp_path / "masks" / "pv.dcm", pv,
              {"tumour": ellipsoid(ref.GetSize()[::-1], (6, 6, 2), (3, 3, 1.5))})
    sheet = tmp_path / "masks_pv.tsv"
    sheet.write_text(f"patient_code\tphase\treader\tpath\n{code}\tART\tr1\tmasks/pv.dcm\n")
    status = tmp_path / "s.json"
    assert main(["triage", "--dicom-root", str(root), "--patient", pid, "--study",
                 str(STUDIES / "ct_3dcnn.yaml"), "--masks", str(sheet), "--out-manifest",
                 str(tmp_path / "m.tsv"), "--out-status", str(status)]) == 0
    st = json.loads(status.read_text())
    reasons = " ".join(p["reason"] for p in st["problems"])
    assert not st["ok"] and f"series {st['phases']['PV']}, but series {st['phases']['ART']}" \
        in reasons, reasons
    assert "1.2." not in status.read_text().split('"series"')[0]   # no UID in the problems
