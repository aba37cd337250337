"""Tiny twin cohorts on disk: layout, readers agree on geometry, masks on the tumour, canaries,
motion convention, determinism."""

from __future__ import annotations

import filecmp
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hccer.synth import generate_cohort, simulate_clinical
from hccer.synth.anatomy import rotation

CASES = {"phase_attention": 2, "cemri_dlrcr": 1, "ivim_vit": 1, "ct_3dcnn": 1}


@pytest.fixture(scope="module")
def cohorts(tmp_path_factory):
    out = {}
    for preset, n in CASES.items():
        d = tmp_path_factory.mktemp(preset)
        # DWI is written at half the matrix: give it enough voxels across a small tumour.
        generate_cohort(preset, d, n=n, seed=3, matrix=128 if preset == "ivim_vit" else 64,
                        censored_fraction=0.0)
        out[preset] = d
    return out


def _series(root: Path):
    import pydicom

    for folder in sorted((root / "dicom").glob("*/SE*")):
        files = sorted(folder.iterdir())
        heads = [pydicom.dcmread(f, stop_before_pixels=True) for f in files]
        yield folder, files, heads


def _sitk_volume(files, heads):
    import SimpleITK as sitk

    if "DiffusionBValue" in heads[0]:
        files = [f for f, h in zip(files, heads, strict=True) if float(h.DiffusionBValue) == 1000]
    reader = sitk.ImageSeriesReader()
    names = reader.GetGDCMSeriesFileNames(str(Path(files[0]).parent)) \
        if "DiffusionBValue" not in heads[0] else sorted(
            map(str, files), key=lambda f: float(
                __import__("pydicom").dcmread(f, stop_before_pixels=True).ImagePositionPatient[2]))
    reader.SetFileNames(names)
    return reader.Execute()


def _phase_series(root, code, twin_phases):
    """Map phase -> series folder using contrast agent and acquisition time, as triage would."""
    rows = []
    for folder, files, heads in _series(root):
        if folder.parent.name != code or "LOCALIZER" in heads[0].ImageType:
            continue
        if heads[0].Modality == "MR" and heads[0].get("ContrastBolusAgent", "") == "" \
                and "DiffusionBValue" not in heads[0]:
            continue  # T2 distractor
        rows.append((heads[0].AcquisitionTime, folder, files, heads))
    rows.sort(key=lambda r: r[0])
    assert len(rows) == len(twin_phases)
    return {ph: r[1:] for ph, r in zip(twin_phases, rows, strict=True)}


@pytest.mark.parametrize("preset", list(CASES))
def test_layout_and_headers(cohorts, preset):
    root = cohorts[preset]
    sim = simulate_clinical(preset, n=CASES[preset], seed=3, censored_fraction=0.0)
    twin = sim.twin
    codes = sorted(p.name for p in (root / "dicom").iterdir())
    assert codes == list(sim.clinical["patient_code"])
    clin = pd.read_csv(root / "clinical.csv", dtype=str, keep_default_na=False)
    assert list(clin["patient_code"]) == codes
    for code in codes:
        phases = _phase_series(root, code, twin["phases"])
        times = [phases[p][2][0].AcquisitionTime for p in twin["phases"]]
        assert times == sorted(times)
        for ph, (_folder, _files, heads) in phases.items():
            h = heads[0]
            assert h.SOPClassUID in ("1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.5.1.4.1.1.4")
            assert h.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"
            assert [float(v) for v in h.ImageOrientationPatient] == [1, 0, 0, 0, 1, 0]
            assert h.PatientID.startswith("CANARY") and code not in h.PatientID
            assert (h.get("ContrastBolusAgent", "") == "") == (ph in ("NC", "DWI"))
            assert len({x.SeriesInstanceUID for x in heads}) == 1
            if ph == "DWI":
                b = sorted({float(x.DiffusionBValue) for x in heads})
                assert b == [0, 10, 20, 40, 80, 200, 400, 600, 1000]
                assert {float(x[0x20011003].value) for x in heads} == set(b)
        kinds = [heads[0].ImageType[2] for f, _, heads in _series(root) if f.parent.name == code]
        assert "LOCALIZER" in kinds


@pytest.mark.parametrize("preset", list(CASES))
def test_readers_agree_and_masks_fit_series_and_tumour(cohorts, preset, tmp_path):
    import SimpleITK as sitk

    root = cohorts[preset]
    masks = pd.read_csv(root / "masks.tsv", sep="\t")
    truth = pd.read_csv(root / "truth.csv")
    twin = simulate_clinical(preset, n=1, seed=3, censored_fraction=0.0).twin
    readers = ["r1", "r2"] if twin["second_reader"] else ["r1"]
    code = truth["patient_code"][0]
    row = truth.iloc[0]
    phases = _phase_series(root, code, twin["phases"])
    dcm2niix = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "dcm2niix"
    for ph in twin["phases"]:
        folder, files, heads = phases[ph]
        img = _sitk_volume(files, heads)
        # dcm2niix reads the series with the same in-plane size and slice count.
        outdir = tmp_path / ph
        outdir.mkdir()
        subprocess.run([str(dcm2niix), "-z", "n", "-o", str(outdir), "-f", "s", str(folder)],
                       check=True, capture_output=True)
        import nibabel as nib

        nii = nib.load(str(next(outdir.glob("*.nii"))))
        assert nii.shape[:3] == img.GetSize()
        assert np.allclose(nii.header.get_zooms()[:3], img.GetSpacing(), atol=1e-4)
        if ph == "DWI":
            assert nii.shape[3] == 9
        if ph not in twin["mask_phases"]:
            continue
        sel = masks[(masks.patient_code == code) & (masks.phase == ph)]
        assert sorted(sel.reader) == readers
        for path in sel.path:
            m = sitk.ReadImage(str(root / path))
            assert m.GetSize() == img.GetSize() and m.GetSpacing() == img.GetSpacing()
            assert m.GetOrigin() == img.GetOrigin() and m.GetDirection() == img.GetDirection()
            a = sitk.GetArrayFromImage(img).astype(float)
            mk = sitk.GetArrayFromImage(m) > 0
            assert mk.sum() > 20
            ring = sitk.GetArrayFromImage(sitk.BinaryDilate(m, [3, 3, 1])) > 0
            ring &= ~mk
            contrast = a[mk].mean() - a[ring].mean()
            if ph in ("ART", "AP", "DWI"):
                assert contrast > 10, (ph, contrast)  # hyper-enhancing / restricted tumour
            # Mask centroid sits at the true tumour centre moved by the phase's transform.
            idx = np.argwhere(mk)[:, ::-1].mean(0)
            centroid = np.array(img.TransformContinuousIndexToPhysicalPoint(idx.tolist()))
            c = np.array([row.liver_cx, row.liver_cy, row.liver_cz])
            tc = np.array([row.tumor_cx, row.tumor_cy, row.tumor_cz])
            R = rotation(row[f"rx_{ph}"], row[f"ry_{ph}"], row[f"rz_{ph}"])
            t = np.array([row[f"tx_{ph}"], row[f"ty_{ph}"], row[f"tz_{ph}"]])
            expected = R @ (tc - c) + c + t
            tol = 0.15 * row.tumor_diameter_mm + img.GetSpacing()[2]
            assert np.linalg.norm(centroid - expected) < tol


@pytest.mark.parametrize("preset", list(CASES))
def test_canaries_listed_and_present(cohorts, preset):
    import pydicom

    root = cohorts[preset]
    canaries = (root / "canaries.txt").read_text().split("\n")[:-1]
    assert canaries and all(c.startswith("CANARY") or (c.isdigit() and len(c) == 8)
                            for c in canaries)
    seen = set()
    for _folder, files, heads in _series(root):
        for tag in ("PatientName", "PatientID", "PatientBirthDate", "AccessionNumber",
                    "InstitutionName", "ReferringPhysicianName", "OperatorsName", "StudyID"):
            seen.add(str(heads[0].get(tag)))
        raw = files[0].read_bytes()
        assert b"CANARY-MRN-" in raw
    assert seen <= set(canaries)
    assert len(seen) >= 8
    # No canary leaks into the tables meant for the workflow's own bookkeeping.
    for name in ("clinical.csv", "masks.tsv", "cohort.json"):
        text = (root / name).read_text()
        assert not any(c in text for c in canaries), name
    assert pydicom.dcmread(files[0]).PatientBirthDate in canaries


def test_same_seed_byte_identical_any_workers(tmp_path, cohorts):
    ref = cohorts["phase_attention"]
    again = tmp_path / "again"
    generate_cohort("phase_attention", again, n=2, seed=3, matrix=64, censored_fraction=0.0,
                    workers=2)
    files = sorted(p.relative_to(ref) for p in ref.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    for rel in files:
        if rel.name == "cohort.json":
            a, b = json.loads((ref / rel).read_text()), json.loads((again / rel).read_text())
            a.pop("timing"), b.pop("timing")
            assert a == b
        else:
            assert filecmp.cmp(ref / rel, again / rel, shallow=False), rel
    other = tmp_path / "other"
    generate_cohort("phase_attention", other, n=1, seed=4, matrix=64, censored_fraction=0.0)
    f = sorted((other / "dicom" / "PA0001").rglob("*"))[-1]
    g = ref / f.relative_to(other)
    assert not g.exists() or not filecmp.cmp(f, g, shallow=False)
    shutil.rmtree(other)


def test_cohort_json_and_scanners(cohorts):
    rec = json.loads((cohorts["phase_attention"] / "cohort.json").read_text())
    assert rec["preset"] == "phase_attention" and rec["n"] == 2 and rec["seed"] == 3
    assert set(rec["oracle_auc"]) == {"overall", "image_only", "clinical_only",
                                      "image_learnable_cv5", "overall_learnable_cv5"}
    assert rec["oracle_auc"]["image_learnable_cv5"] is None  # 2 patients: nothing to validate
    assert "Euler3DTransform" in rec["transform_convention"]
    sim = simulate_clinical("cemri_dlrcr", seed=1)
    counts = sim.truth["scanner"].value_counts()
    assert len(counts) >= 2 and counts.min() > 40  # 1.5 T and 3.0 T, as the paper's 74 / 91


def test_cli_prints_oracle_auc(tmp_path, capsys):
    from hccer.cli import main

    rc = main(["synth", "--preset", "ivim_vit", "--n", "2", "--seed", "1", "--matrix", "48",
               "--out", str(tmp_path / "c")])
    assert rc == 0
    out = capsys.readouterr().out
    assert "oracle AUC overall" in out and "image-only" in out and "clinical-only" in out
    assert "learnable ceiling at this size" in out
    assert (tmp_path / "c" / "truth.csv").is_file()
