"""Fault injection: a small cohort (a synthetic twin given as `data.source: cohort`) with one
fault per patient goes through triage, the screen and the outcome step. Each faulty patient is
quarantined with a message naming the file and what is wrong, the intact patient goes on, and
no step fails."""

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
STUDY = "ct_3dcnn"


def _mask(path: Path, change) -> None:
    img = sitk.ReadImage(str(path))
    arr = change(sitk.GetArrayFromImage(img))
    out = sitk.GetImageFromArray(arr.astype(np.uint8))
    out.CopyInformation(img)
    sitk.WriteImage(out, str(path))


def _inject(twin: Path) -> dict[str, tuple[str, str]]:
    """One fault per patient; returns code -> (step, expected text of its reason)."""
    dicom, masks = twin / "dicom", twin / "masks"
    # a slice missing from the middle of every series of CN0002
    for series in (dicom / "CN0002").iterdir():
        files = sorted(series.iterdir())
        if len(files) > 2:
            files[len(files) // 2].unlink()
    _mask(masks / "CN0003" / "CN0003_ART_r1.nii.gz", lambda a: np.zeros_like(a))
    _mask(masks / "CN0004" / "CN0004_ART_r1.nii.gz", lambda a: a * 2)
    victim = sorted(next(s for s in (dicom / "CN0005").iterdir()
                         if len(list(s.iterdir())) > 2).iterdir())[3]
    victim.write_bytes(victim.read_bytes()[:700])             # a truncated DICOM file
    assert victim.name == "IM000004.dcm"
    (masks / "CN0006" / "CN0006_ART_r1.nii.gz").unlink()
    sheet = twin / "masks.tsv"
    rows = sheet.read_text().splitlines()
    dup = next(r for r in rows if r.startswith("CN0007\tART\tr1"))
    sheet.write_text("\n".join([*rows, dup, "ZZ0001\tART\tr1\tmasks/none.nii.gz"]) + "\n")
    clinical = twin / "clinical.csv"
    head, *lines = clinical.read_text().splitlines()
    age = head.split(",").index("age_years")
    for i, line in enumerate(lines):
        cells = line.split(",")
        if cells[0] == "CN0008":
            cells[age] = "sixty"
        if cells[0] == "CN0009":
            cells[0] = "CN0009 "
        lines[i] = ",".join(cells)
    clinical.write_text("\n".join([head, *lines]) + "\n")
    return {
        "CN0002": ("ingest", "slice(s) missing from the stack"),
        "CN0003": ("ingest", "empty mask (no tumour voxel)"),
        "CN0004": ("ingest", "labels other than 0/1: 2"),
        "CN0005": ("ingest", "truncated DICOM image: a CT Image Storage file that ends "
                             "before its pixel data (700 bytes)"),
        "CN0006": ("ingest", "mask file does not exist"),
        "CN0007": ("ingest", "phase ART, reader r1 is listed 2 times; keep one row"),
        "CN0008": ("clinical", "age_years (years) = 'sixty' is not a number"),
        "CN0009": ("clinical", "patient code has spaces before or after it"),
    }


def test_one_fault_per_patient_each_named_and_the_rest_go_on(run_snakemake, tmp_path):
    from hccer.cli import main
    from hccer.ids import pseudonymise

    twin = tmp_path / "twin"
    assert main(["synth", "--preset", STUDY, "--n", "10", "--matrix", "64", "--seed", "5",
                 "--out", str(twin)]) == 0
    expected = _inject(twin)
    data = {"source": "cohort", "cohort": {
        "dicom_root": str(twin / "dicom"), "clinical": str(twin / "clinical.csv"),
        "columns": str(twin / "clinical_columns.json"), "masks": str(twin / "masks.tsv")}}
    root = tmp_path / "results" / STUDY
    salt_file = tmp_path / "secret" / "salt"
    salt_file.parent.mkdir()
    salt_file.write_text("fault-injection-salt-4f1c\n")
    res = run_snakemake(str(root / "cohort" / "screen.tsv"), str(root / "cohort" / "outcome.tsv"),
                        "--cores", "2", "--directory", str(tmp_path), "--config",
                        f"study={STUDY}", f"results={tmp_path}/results",
                        f"private={tmp_path}/private", "data=" + json.dumps(data),
                        f"pseudonym_salt_file={salt_file}", cwd=ROOT, timeout=900)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert "Traceback" not in res.stdout + res.stderr
    salt = salt_file.read_text().strip()
    screen = pd.read_csv(root / "cohort" / "screen.tsv", sep="\t", keep_default_na=False)
    outcome = pd.read_csv(root / "cohort" / "outcome.tsv", sep="\t", keep_default_na=False)
    screen, outcome = screen.set_index("patient"), outcome.set_index("patient")
    for code, (step, text) in expected.items():
        pid = pseudonymise(code, salt)
        table = screen if step == "ingest" else outcome
        ok = table.loc[pid, "ok" if step == "ingest" else "included"]
        reason = table.loc[pid, "reason"]
        assert str(ok) == "False" and text in reason, (code, reason)
    # the truncated file is named in the reason, not skipped as a non-image file
    reason = screen.loc[pseudonymise("CN0005", salt), "reason"]
    assert re.search(r"SE\d+/IM0+4\.dcm", reason), reason
    assert "skipped" not in screen.loc[pseudonymise("CN0005", salt), "warnings"]
    for code in ("CN0001", "CN0010"):                         # intact: included everywhere
        pid = pseudonymise(code, salt)
        assert str(screen.loc[pid, "ok"]) == "True" and str(outcome.loc[pid, "included"]) == "True"
    # the planted salt is nowhere in the run's tree: results, the private map, every log,
    # Snakemake's metadata and logs under .snakemake/
    leaked = [p for p in tmp_path.rglob("*") if p.is_file() and p != salt_file
              and salt.encode() in p.read_bytes()]
    assert not leaked, leaked
    assert (tmp_path / ".snakemake" / "metadata").is_dir()
    # nothing that reaches results names a site code
    for path in root.rglob("*"):
        if path.is_file() and path.suffix in (".tsv", ".json", ".md", ".log"):
            assert not re.search(r"CN00\d\d|ZZ0001", path.read_text(errors="ignore")), path
