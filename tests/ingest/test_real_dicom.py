"""Conversion of the real DICOM edge cases in the shared data bundle (see its README)."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from hccer.cli import main
from hccer.errors import InputError
from hccer.ingest.convert import read_series

DCM2NIIX = Path(sys.executable).parent / "dcm2niix"


def _tree_state(folder: Path) -> dict:
    return {p: (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_transfer_syntaxes_decode_to_equal_arrays(shared_data):
    folder = shared_data / "dicom" / "dcm_qa_ts" / "In"
    arrays = [sitk.GetArrayFromImage(read_series([folder / f"{i}.dcm"])[0]) for i in range(1, 10)]
    for i, arr in enumerate(arrays[1:], start=2):
        assert np.array_equal(arrays[0], arr), f"{i}.dcm decodes differently from 1.dcm"
    # Demosaic (6x6 tiles of 64x64, first 35) and compare to dcm2niix's Ref/1.nii.
    mosaic = arrays[0][0]
    tiles = np.stack([mosaic[(t // 6) * 64:(t // 6 + 1) * 64, (t % 6) * 64:(t % 6 + 1) * 64]
                      for t in range(35)])
    ref = np.asanyarray(nib.load(shared_data / "dicom" / "dcm_qa_ts" / "Ref" / "1.nii").dataobj)
    assert np.array_equal(np.flip(tiles.transpose(2, 1, 0), axis=1), ref)


def test_undecodable_transfer_syntax_names_file_and_syntax(shared_data, tmp_path):
    ds = pydicom.dcmread(shared_data / "dicom" / "dcm_qa_ts" / "In" / "5.dcm")
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.100"  # MPEG2: no decoder installed
    ds.save_as(tmp_path / "mpeg.dcm")
    with pytest.raises(InputError, match=r"cannot decode pixel data in transfer syntax "
                                         r".*1\.2\.840\.10008\.1\.2\.4\.100") as err:
        read_series([tmp_path / "mpeg.dcm"], patient="pM")
    assert "mpeg.dcm" in err.value.message()


@pytest.mark.parametrize("name, ref", [("12bitUnsigned.dcm", "2.nii"),
                                       ("12bitUnsigned_0x0F0F.dcm", "3.nii"),
                                       ("12bitSigned_0x0F0F.dcm", "4.nii")])
def test_12bit_values_match_reference(shared_data, name, ref):
    base = shared_data / "dicom" / "dcm_qa_12bit"
    arr = sitk.GetArrayFromImage(read_series([base / "In" / name])[0])
    ref_arr = np.asanyarray(nib.load(base / "Ref" / ref).dataobj)
    # The mosaic's unused tiles are zero; the reference volume holds the 35 used tiles.
    tiles = np.stack([arr[0, (t // 6) * 64:(t // 6 + 1) * 64, (t % 6) * 64:(t % 6 + 1) * 64]
                      for t in range(35)])
    assert tiles.min() == ref_arr.min() and tiles.max() == ref_arr.max()
    assert set(np.unique(tiles).tolist()) == set(np.unique(ref_arr).tolist())


def test_philips_ct_matches_reference_and_dcm2niix(shared_data, tmp_path):
    src = shared_data / "dicom" / "dcm_qa_ct_philips_S2010"
    before = _tree_state(src)
    out = tmp_path / "ours.nii.gz"
    rc = main(["convert", str(src / "In"), str(out), "--sidecar", str(tmp_path / "s.json")])
    assert rc == 0
    img = sitk.ReadImage(str(out))
    assert img.GetSize() == (512, 512, 28)
    assert img.GetSpacing() == pytest.approx((0.451171875, 0.451171875, 5.0), abs=1e-6)
    assert img.GetOrigin() == pytest.approx((-115.5, -1.85, 696.21), abs=1e-3)
    assert img.GetDirection() == pytest.approx(np.eye(3).ravel().tolist())
    arr = sitk.GetArrayFromImage(img)
    assert arr.min() == -1024 and arr.max() == 782
    side = json.loads((tmp_path / "s.json").read_text())
    ref_json = json.loads((src / "Ref" / "1A_TRAUMA_PLAIN_HEAD_DM_Head_201.json").read_text())
    assert side["series_number"] == ref_json["SeriesNumber"] == 201
    assert side["manufacturer"] == ref_json["Manufacturer"] == "Philips"
    assert side["model"] == ref_json["ManufacturersModelName"] == "Ingenuity CT"
    assert side["image_type"] == ref_json["ImageType"]
    assert side["skipped_files"] == 1  # DIRFILE

    ref_dir = tmp_path / "dcm2niix"
    ref_dir.mkdir()
    subprocess.run([str(DCM2NIIX), "-b", "y", "-z", "n", "-i", "y", "-f", "%p_%s", "-o",
                    str(ref_dir), str(src / "In")], check=True, capture_output=True)
    (ref_nii,) = ref_dir.glob("*.nii")
    theirs = nib.as_closest_canonical(nib.load(ref_nii))
    ours = nib.as_closest_canonical(nib.load(out))
    assert ours.shape == theirs.shape == (512, 512, 28)
    assert np.allclose(ours.header.get_zooms(), theirs.header.get_zooms(), atol=1e-4)
    assert np.allclose(ours.affine, theirs.affine, atol=1e-3)
    assert np.array_equal(np.asanyarray(ours.dataobj), np.asanyarray(theirs.dataobj))
    assert _tree_state(src) == before, "an input file was modified"


def test_hcc048_geometry(shared_data, tmp_path):
    src = shared_data / "ct" / "hcc048_portal_venous" / "dicom"
    before = _tree_state(src)
    img, meta = read_series(sorted(src.iterdir()))
    assert img.GetSize() == (512, 512, 89)
    assert img.GetSpacing() == pytest.approx((0.703125, 0.703125, 2.5), abs=1e-3)
    assert img.GetOrigin() == pytest.approx((-180.0, -180.0, -396.0), abs=1e-3)
    assert meta["dtype"] == "int16" and not meta["warnings"]
    arr = sitk.GetArrayViewFromImage(img)
    assert arr.min() == -2048 and arr.max() == 3071
    assert _tree_state(src) == before


def test_inputs_copied_elsewhere_stay_untouched_by_triage(shared_data, tmp_path):
    src = tmp_path / "pt"
    shutil.copytree(shared_data / "dicom" / "dcm_qa_ct_philips_S2010" / "In", src / "S2010")
    before = _tree_state(src)
    rc = main(["triage", "--patient-dir", str(src), "--patient", "p1", "--study",
               str(Path(__file__).resolve().parents[2] / "config/studies/ct_3dcnn.yaml"),
               "--out-manifest", str(tmp_path / "m.tsv"), "--out-status",
               str(tmp_path / "s.json")])
    assert rc == 0
    assert _tree_state(src) == before
    status = json.loads((tmp_path / "s.json").read_text())
    assert any("DIRFILE" in w for w in status["warnings"])
