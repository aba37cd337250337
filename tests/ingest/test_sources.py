"""The workflow's way to reach a patient's files: DICOM root + pseudonym, never the site code."""

from __future__ import annotations

import json

import pytest
import SimpleITK as sitk
from hccer.cli import main
from hccer.errors import InputError
from hccer.ids import SALT_ENV, pseudonymise
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
    by_hand, _ = __import__("hccer.ingest.convert", fromlist=["read_series"]).read_series(
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
