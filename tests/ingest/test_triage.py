"""Triage: grouping, phase classification from header evidence, selection, override, masks,
bad inputs recorded per patient, and no identifying value in any output."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import SimpleITK as sitk
import yaml
from dicomfactory import CANARIES, write_non_image, write_series
from hccer.cli import main
from hccer.ingest.classify import classify_series, description_role, select_phases
from hccer.ingest.masks import check_mask_array
from hccer.ingest.triage import manifest_text, triage_patient

STUDIES = Path(__file__).resolve().parents[2] / "config" / "studies"
SAME = "Abdomen 5.0 B30f"


def study(key: str) -> dict:
    return yaml.safe_load((STUDIES / f"{key}.yaml").read_text())


def ct_patient(root: Path, *, description=SAME, with_dl=True, extra=None) -> Path:
    """NC/ART/PV(/DL) with identical descriptions; folder names do not follow time order."""
    write_series(root / "SE7", acq_time="101000", description=description,
                 series_number=2)  # NC: no contrast agent, earliest
    write_series(root / "SE2", acq_time="101245", contrast="Iohexol", description=description,
                 series_number=5)  # PV
    write_series(root / "SE9", acq_time="101210", contrast="Iohexol", description=description,
                 series_number=4)  # ART
    if with_dl:
        write_series(root / "SE1", acq_time="101500", contrast="Iohexol",
                     description=description, series_number=6)  # DL
    write_series(root / "SE0", n=1, acq_time="100900", image_type=("ORIGINAL", "PRIMARY",
                                                                   "LOCALIZER"),
                 description="Topogram 0.6 T20f", series_number=1)
    for folder, kwargs in (extra or {}).items():
        write_series(root / folder, **kwargs)
    return root


def by_folder(rows):
    return {r["folder"]: r for r in rows}


def test_identical_descriptions_classified_by_contrast_and_time(tmp_path):
    rows, status = triage_patient(ct_patient(tmp_path / "P"), "p1", study("ct_3dcnn"))
    f = by_folder(rows)
    assert {k: f[k]["phase"] for k in f} == {"SE7": "NC", "SE9": "ART", "SE2": "PV",
                                             "SE1": "DL", "SE0": ""}
    assert all(f[k]["confidence"] >= 0.7 for k in ("SE7", "SE9", "SE2", "SE1"))
    assert "localizer" in f["SE0"]["problems"]
    assert status["ok"] and not status["problems"]
    assert status["phases"] == {p: f[s]["series_key"] for p, s in
                                (("NC", "SE7"), ("ART", "SE9"), ("PV", "SE2"), ("DL", "SE1"))}
    assert f["SE9"]["acq_time"] == "10:12:10"
    text = manifest_text(rows)
    assert text.splitlines()[0].split("\t")[:3] == ["patient", "series_key", "folder"]


def test_delayed_series_not_taken_for_portal_phase_of_three_phase_study(tmp_path):
    rows, status = triage_patient(ct_patient(tmp_path / "P"), "p1", study("deep_fusion"))
    f = by_folder(rows)
    assert set(status["phases"]) == {"NC", "ART", "PV"}
    assert status["phases"]["PV"] == f["SE2"]["series_key"]
    assert f["SE1"]["phase"] == "DL" and f["SE1"]["selected"] is False


def test_description_evidence_and_mr_distractors():
    recs = []
    for desc, t, te, contrast in (("t1_vibe_pre", 100, 2.0, False),
                                  ("t1_vibe arterial", 130, 2.0, True),
                                  ("t1_vibe portal venous", 160, 2.0, True),
                                  ("t1_vibe delayed 3min", 280, 2.0, True),
                                  ("t2_haste_tra", 50, 90.0, False)):
        recs.append({"modality": "MR", "description": desc, "image_type": ["ORIGINAL"],
                     "contrast": contrast, "acq_time_s": t, "bolus_start_s": None,
                     "b_values": [], "echo_time": te, "orientation": "axial", "n_slices": 20,
                     "key": desc, "geometry_error": None})
    classes = classify_series(recs, "MR")
    assert [c["phase"] for c in classes] == [None, "AP", "PVP", "DP", None]
    assert classes[4]["excluded"] == "T2-weighted series"
    assert all(c["confidence"] == 1.0 for c in classes[1:4])
    picked, problems, _ = select_phases(recs, classes, ["AP", "PVP", "DP"])
    assert picked == {"AP": 1, "PVP": 2, "DP": 3} and not problems


def test_bolus_delay_overrides_rank():
    # Two enhanced series only, both late: delay after bolus start says portal + delayed.
    recs = [{"modality": "CT", "description": SAME, "image_type": [], "contrast": c,
             "acq_time_s": t, "bolus_start_s": 1000.0 if c else None, "b_values": [],
             "echo_time": None, "orientation": "axial", "n_slices": 20, "key": str(t),
             "geometry_error": None} for t, c in ((900, False), (1070, True), (1300, True))]
    classes = classify_series(recs, "CT")
    assert [c["phase"] for c in classes] == ["NC", "PV", "DL"]


def test_description_roles():
    assert description_role("Late arterial 1.5 I30f") == "arterial"
    assert description_role("PV 5mm") == "portal"
    assert description_role("Delayed 3 min") == "delayed"
    assert description_role("Non-contrast abdomen") == "pre"
    assert description_role(SAME) is None


def test_missing_phase_is_a_problem_and_not_ok(tmp_path):
    root = tmp_path / "P"
    write_series(root / "A", acq_time="101000")
    write_series(root / "B", acq_time="101210", contrast="Iohexol")
    rows, status = triage_patient(root, "p2", study("deep_fusion"))
    assert not status["ok"]
    assert [p["reason"] for p in status["problems"]] == ["missing phase PV"]
    assert status["problems"][0]["patient"] == "p2"


def test_optional_phase_missing_is_only_a_warning(tmp_path):
    rows, status = triage_patient(ct_patient(tmp_path / "P", with_dl=False), "p3",
                                  study("ct_3dcnn"))
    assert status["ok"]
    assert any(w.startswith("phase DL not found") for w in status["warnings"])


def test_ambiguous_phase_reported_and_override_resolves_it(tmp_path):
    root = tmp_path / "P"
    # Early and late arterial scans (20 s and 40 s after bolus start), both named arterial.
    write_series(root / "A", acq_time="101000", description="native")
    for folder, t in (("B", "101220"), ("C", "101240"), ("D", "101330")):
        write_series(root / folder, acq_time=t, contrast="Iohexol", bolus_time="101200",
                     description="portal" if folder == "D" else "arterial")
    rows, status = triage_patient(root, "p4", study("deep_fusion"))
    assert not status["ok"] and "ART" not in status["phases"]
    assert any("phase ART is ambiguous" in p["reason"] for p in status["problems"])
    keys = by_folder(rows)
    override = tmp_path / "override.tsv"
    override.write_text(f"patient\tphase\tseries_key\np4\tART\t{keys['C']['series_key']}\n")
    rows, status = triage_patient(root, "p4", study("deep_fusion"), override=override)
    assert status["ok"] and status["phases"]["ART"] == keys["C"]["series_key"]
    assert "user override" in by_folder(rows)["C"]["evidence"]


def test_two_series_in_one_folder_and_split_acquisitions(tmp_path):
    root = tmp_path / "P"
    write_series(root / "mixed", acq_time="101000", prefix="A")
    write_series(root / "mixed", acq_time="101210", contrast="Iohexol", prefix="B")
    # One series UID holding two repeated acquisitions at the same positions.
    write_series(root / "dyn", acq_time="101240", contrast="Iohexol", series_uid="1.2.3.9",
                 prefix="X", acq_numbers=[1] * 6)
    write_series(root / "dyn", acq_time="101500", contrast="Iohexol", series_uid="1.2.3.9",
                 prefix="Y", acq_numbers=[2] * 6)
    rows, status = triage_patient(root, "p5", study("ct_3dcnn"))
    assert len(rows) == 4 and status["ok"], status["problems"]
    assert any("folder mixed holds 2 series" in w for w in status["warnings"])
    split = [r for r in rows if r["folder"] == "dyn"]
    assert {r["phase"] for r in split} == {"PV", "DL"}
    assert all(r["split"] == "acq number" for r in split)
    # convert the second part through the CLI with the status file list
    key = next(r["series_key"] for r in split if r["phase"] == "DL")
    assert len(status["series"][key]["files"]) == 6
    sfile = tmp_path / "s.json"
    sfile.write_text(json.dumps(status))
    out = tmp_path / "dl.nii.gz"
    assert main(["convert", str(root / "dyn"), str(out), "--files", str(sfile),
                 "--series-key", key]) == 0
    assert sitk.ReadImage(str(out)).GetSize() == (10, 8, 6)
    out2 = tmp_path / "dl2.nii.gz"
    assert main(["convert", str(root / "dyn"), str(out2), "--from-status", str(sfile),
                 "--phase", "DL"]) == 0
    assert np.array_equal(sitk.GetArrayFromImage(sitk.ReadImage(str(out))),
                          sitk.GetArrayFromImage(sitk.ReadImage(str(out2))))


def test_convert_refuses_folder_with_two_series(tmp_path, capsys):
    root = tmp_path / "mixed"
    write_series(root, prefix="A")
    write_series(root, prefix="B")
    assert main(["convert", str(root), str(tmp_path / "x.nii.gz"), "--patient", "p6"]) == 2
    err = capsys.readouterr().err
    assert "patient p6" in err and "holds 2 series" in err


def test_corrupt_file_and_duplicates_recorded_not_raised(tmp_path):
    root = ct_patient(tmp_path / "P", with_dl=False)
    victim = sorted((root / "SE9").iterdir())[2]
    victim.write_bytes(victim.read_bytes()[:-50])
    write_non_image(root / "SE9" / "DIRFILE")
    write_series(root / "DUP", positions=[0, 3, 3, 6], acq_time="101500", contrast="Iohexol",
                 description="delayed")
    rows, status = triage_patient(root, "p7", study("deep_fusion"))
    reasons = " | ".join(f"{p['file']}: {p['reason']}" for p in status["problems"])
    assert f"SE9/{victim.name}: truncated or corrupt DICOM" in reasons
    assert "missing phase ART (series" in reasons and "cannot form a volume" in reasons
    assert "duplicate slice position" in reasons
    assert not status["ok"]
    assert any("DIRFILE" in w for w in status["warnings"])


def test_non_axial_series_excluded_with_reason(tmp_path):
    root = ct_patient(tmp_path / "P", with_dl=False)
    for p in (root / "SE2").iterdir():
        p.unlink()
    write_series(root / "SE2", acq_time="101245", contrast="Iohexol", description="PV coronal",
                 iop=(1, 0, 0, 0, 0, -1), step=(0, 2.0, 0))
    rows, status = triage_patient(root, "p8", study("deep_fusion"))
    reasons = [p["reason"] for p in status["problems"]]
    assert any(r.startswith("missing phase PV") and "non-axial orientation (coronal)" in r
               for r in reasons)


def test_dwi_study_picks_multi_b_series(tmp_path):
    root = tmp_path / "P"
    b = [0, 10, 20, 40, 80, 200, 400, 600, 1000]
    write_series(root / "ivim", modality="MR", description="ivim_9b", b_values=b,
                 b_tag="philips", intercept=0.0, n=3)
    write_series(root / "t2", modality="MR", description="T2 SPAIR", echo_time=90.0,
                 intercept=0.0)
    rows, status = triage_patient(root, "p9", study("ivim_vit"))
    f = by_folder(rows)
    assert status["ok"] and f["ivim"]["phase"] == "DWI" and f["ivim"]["confidence"] == 1.0
    assert f["ivim"]["b_values"] == [float(v) for v in b]
    assert f["ivim"]["n_slices"] == 3


# --- masks ---------------------------------------------------------------------------------

def test_mask_array_checks():
    m = np.zeros((4, 5, 6), np.uint8)
    assert check_mask_array(m)[0] == ["empty mask (no tumour voxel)"]
    m[1, 1, 1] = m[2, 2, 2] = 1  # corner-touching: one 26-connected component
    problems, warnings, stats = check_mask_array(m)
    assert not problems and not warnings and stats == {"voxels": 2, "components": 1}
    m[3, 4, 5] = 1
    assert "2 separate tumour components" in check_mask_array(m)[1][0]
    m[0, 0, 0] = 2
    assert "labels other than 0/1: 2" in check_mask_array(m)[0][0]


def _mask_like(series_files, path: Path, *, shift=0.0, values=None):
    from hccer.ingest.convert import read_series

    img, _ = read_series(series_files)
    arr = np.zeros(sitk.GetArrayViewFromImage(img).shape, np.uint8)
    if values is None:
        arr[2:4, 3:5, 4:6] = 1
    else:
        arr[...] = values
    mask = sitk.GetImageFromArray(arr)
    mask.CopyInformation(img)
    mask.SetOrigin([o + shift for o in img.GetOrigin()])
    sitk.WriteImage(mask, str(path))


def test_mask_checks_in_triage(tmp_path):
    code = "SITE0042"
    root = tmp_path / "dicom" / code
    write_series(root / "N", acq_time="101000")
    art = write_series(root / "A", acq_time="101210", contrast="Iohexol")
    masks = tmp_path / "masks"
    masks.mkdir()
    _mask_like(art, masks / f"{code}_ART_r1.nii.gz")
    _mask_like(art, masks / f"{code}_ART_r2.nii.gz", shift=0.5)
    sheet = tmp_path / "masks.tsv"
    sheet.write_text("patient_code\tphase\treader\tpath\n"
                     f"{code}\tART\t1\tmasks/{code}_ART_r1.nii.gz\n"
                     f"{code}\tART\t2\tmasks/{code}_ART_r2.nii.gz\n")
    s = study("ct_3dcnn")
    s["phases"] = ["NC", "ART"]
    rows, status = triage_patient(root, "pa", s, masks=sheet, patient_code=code)
    assert not status["ok"]
    (prob,) = status["problems"]
    assert prob["file"] == "masks.tsv line 3 (phase ART, reader 2)"
    assert "geometry differs from the converted grid of series" in prob["reason"]
    assert status["phases"]["ART"] in prob["reason"] and "origin" in prob["reason"]
    assert [m["ok"] for m in status["masks"]] == [True, False]
    # empty + non-binary masks, and a phase without a mask
    _mask_like(art, masks / f"{code}_ART_r2.nii.gz", values=0)
    sheet.write_text(sheet.read_text() + f"{code}\tART\t3\tmasks/missing.nii.gz\n")
    s["mask_phases"] = ["NC", "ART"]
    _, status = triage_patient(root, "pa", s, masks=sheet, patient_code=code)
    reasons = sorted(p["reason"] for p in status["problems"])
    assert reasons == ["empty mask (no tumour voxel)", "mask file does not exist",
                       "no mask listed for phase NC"]


def test_no_identifying_value_in_outputs(tmp_path):
    code = "SITE0042"
    root = ct_patient(tmp_path / "dicom" / code)
    art = sorted((root / "SE9").iterdir())
    _mask_like(art, tmp_path / f"{code}_art.nii.gz")
    sheet = tmp_path / "masks.tsv"
    sheet.write_text(f"patient_code\tphase\treader\tpath\n{code}\tART\t1\t{code}_art.nii.gz\n")
    out = tmp_path / "results"
    log = out / "triage.log"
    out.mkdir()
    args = ["--log", str(log), "triage", "--patient-dir", str(root), "--patient", "pz",
            "--study", str(STUDIES / "ct_3dcnn.yaml"), "--masks", str(sheet),
            "--patient-code", code, "--out-manifest", str(out / "m.tsv"),
            "--out-status", str(out / "s.json")]
    assert main(args) == 0
    status = json.loads((out / "s.json").read_text())
    assert status["ok"], status["problems"]
    key = status["phases"]["ART"]
    assert main(["--log", str(log), "convert", str(root / "SE9"), str(out / "art.nii.gz"),
                 "--files", str(out / "s.json"), "--series-key", key, "--sidecar",
                 str(out / "art.json"), "--patient", "pz"]) == 0
    canaries = [*CANARIES.values(), code, "1.2.826.0.1.3680043", "20010812"]
    for path in out.iterdir():
        data = path.read_bytes()
        if path.suffix == ".gz":
            continue
        for canary in canaries:
            assert canary.encode() not in data, f"{canary} found in {path.name}"


def test_a_comma_separated_or_doubled_mask_sheet_is_named(tmp_path):
    code = "SITE0042"
    root = tmp_path / "dicom" / code
    write_series(root / "N", acq_time="101000")
    art = write_series(root / "A", acq_time="101210", contrast="Iohexol")
    _mask_like(art, tmp_path / "m1.nii.gz")
    s = study("ct_3dcnn")
    s["phases"], s["mask_phases"] = ["NC", "ART"], ["ART"]
    sheet = tmp_path / "masks.tsv"
    sheet.write_text(f"patient_code,phase,reader,path\n{code},ART,1,m1.nii.gz\n")
    _, status = triage_patient(root, "pa", s, masks=sheet, patient_code=code)
    (prob,) = status["problems"]
    assert prob["file"] == "masks.tsv" and "comma-separated; save it tab-separated" in prob["reason"]
    sheet.write_text(f"patient_code\tphase\treader\tpath\n{code}\tART\t1\tm1.nii.gz\n"
                     f"OTHER\tART\t1\tm1.nii.gz\n{code}\tART\t1\tm1.nii.gz\n")
    _, status = triage_patient(root, "pa", s, masks=sheet, patient_code=code)
    (prob,) = status["problems"]
    assert prob["file"] == "masks.tsv lines 2, 4"
    assert prob["reason"] == "phase ART, reader 1 is listed 2 times; keep one row"
