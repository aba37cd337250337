"""A site's files are tracked inputs: after a first run on a small cohort (a synthetic twin
given as `data.source: cohort`), touching one patient's DICOM file, mask or override row reruns
that patient's triage only, and editing the clinical sheet reruns the outcome only."""

import json
import os
import re
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
STUDY = "ct_3dcnn"


def _jobs(res) -> dict[str, int]:
    counts = re.findall(r"^(\w+)\s+(\d+)$", res.stdout + res.stderr, flags=re.M)
    return {rule: int(n) for rule, n in counts if rule != "total"}


def _touch(path: Path) -> None:
    """As an edit would: the file is newer than anything the run wrote."""
    later = time.time_ns() + 2_000_000_000
    os.utime(path, ns=(later, later))


def test_fixing_one_input_reruns_what_reads_it(run_snakemake, tmp_path):
    from hccer.cli import main

    twin = tmp_path / "twin"
    assert main(["synth", "--preset", STUDY, "--n", "3", "--matrix", "64", "--seed", "5",
                 "--out", str(twin)]) == 0
    override = tmp_path / "override.tsv"
    override.write_text("patient\tphase\tseries_key\n")
    data = {"source": "cohort", "cohort": {
        "dicom_root": str(twin / "dicom"), "clinical": str(twin / "clinical.csv"),
        "columns": str(twin / "clinical_columns.json"), "masks": str(twin / "masks.tsv"),
        "manifest_override": str(override)}}
    root = tmp_path / "results" / STUDY
    targets = [str(root / "cohort" / "screen.tsv"), str(root / "cohort" / "outcome.tsv")]
    salt_file = tmp_path / "secret" / "salt"
    salt_file.parent.mkdir()
    salt_file.write_text("tracked-inputs-salt-9e2d\n")
    args = [*targets, "--cores", "2", "--directory", str(tmp_path), "--config",
            f"study={STUDY}", f"results={tmp_path}/results", f"private={tmp_path}/private",
            "data=" + json.dumps(data), f"pseudonym_salt_file={salt_file}"]
    res = run_snakemake(*args, cwd=ROOT, timeout=900)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]

    def dry() -> dict[str, int]:
        res = run_snakemake(*args, "-n", "--quiet", "rules", cwd=ROOT, timeout=300)
        assert res.returncode == 0, res.stderr[-3000:]
        return _jobs(res)

    def rerun() -> None:
        res = run_snakemake(*args, cwd=ROOT, timeout=600)
        assert res.returncode == 0, res.stderr[-3000:]

    assert dry() == {}
    codes = sorted(p.name for p in (twin / "dicom").iterdir())
    # one mask file of the first patient
    mask = next((twin / "masks" / codes[0]).glob("*.nii.gz"))
    _touch(mask)
    assert dry() == {"triage_patient": 1, "screen_cohort": 1}
    rerun()
    # one DICOM file of the second patient
    dcm = next(p for p in (twin / "dicom" / codes[1]).rglob("*") if p.is_file())
    _touch(dcm)
    assert dry() == {"triage_patient": 1, "screen_cohort": 1}
    rerun()
    # an override row for the third patient (by pseudonym, as the manifests name patients)
    pids = sorted(p.name[4:] for p in (root / "ingest").iterdir())
    override.write_text(f"patient\tphase\tseries_key\n{pids[2]}\tART\tno-such-series\n")
    assert dry() == {"triage_patient": 1, "screen_cohort": 1}
    rerun()
    # a corrected clinical value (Snakemake compares the sheet's content, not only its time):
    # the outcome only
    sheet = twin / "clinical.csv"
    header, first, *rest = sheet.read_text().splitlines()
    age = header.split(",").index("age_years")
    cells = first.split(",")
    cells[age] = str(int(cells[age]) + 1)
    sheet.write_text("\n".join([header, ",".join(cells), *rest]) + "\n")
    assert dry() == {"derive_outcome": 1}
