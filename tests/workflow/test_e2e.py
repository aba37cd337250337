"""A tiny real run: synthetic twin -> triage -> NIfTI -> 1 mm -> ANTs -> crops -> folds -> status
-> report, then privacy and resume checks on what it wrote."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow


def tiny(tmp: Path, study: str, n: int, overrides: dict) -> list[str]:
    return ["--cores", "2", "--directory", str(tmp), "--config", f"study={study}", f"results={tmp}/results",
            f"private={tmp}/private",
            "data=" + json.dumps({"source": "synthetic", "synthetic": {
                "n": n, "seed": 11, "matrix": 96, "root": f"{tmp}/synthetic"}}),
            "study_overrides=" + json.dumps(overrides)]


@pytest.fixture(scope="module")
def ct_run(tmp_path_factory):
    from snakerun import snakemake

    tmp = tmp_path_factory.mktemp("e2e_ct")
    args = tiny(tmp, "ct_3dcnn", 10, {"split": {"inner_folds": 2}})
    res = snakemake(*args, timeout=1500)
    assert res.returncode == 0, (res.stdout[-4000:] + res.stderr[-6000:])
    return tmp, args


def test_outputs_exist_and_are_consistent(ct_run):
    tmp, _ = ct_run
    root = tmp / "results" / "ct_3dcnn"
    with open(root / "qc" / "patient_status.tsv") as f:
        status = list(csv.DictReader(f, delimiter="\t"))
    assert len(status) == 10
    included = [r["patient"] for r in status if r["status"] == "included"]
    assert len(included) >= 6, status
    folds = json.loads((root / "cohort" / "folds.json").read_text())
    tested = set(folds["folds"][0]["train"]) | set(folds["folds"][0]["test"])
    assert tested <= set(included)
    for pid in included:
        crop = np.load(root / "crops" / f"sub-{pid}" / f"sub-{pid}_desc-voi3d.npz")
        assert crop["SS"].shape[-3:] == (10, 150, 150)
        assert crop["NSS"].shape[-3:] == (10, 150, 150)


def test_no_identifying_value_reaches_outputs_or_logs(ct_run):
    tmp, _ = ct_run
    canaries = [c.strip() for c in (tmp / "synthetic" / "ct_3dcnn_n10_seed11" /
                                     "canaries.txt").read_text().splitlines() if c.strip()]
    assert len(canaries) > 10
    roots = [tmp / "results"]  # logs live under results/<study>/logs
    hits = []
    for root in roots:
        for path in root.rglob("*"):
            if not path.is_file():
                continue
            data = path.read_bytes()
            hits += [(str(path), c) for c in canaries if c.encode() in data]
    assert not hits, hits[:5]


def test_rerun_has_nothing_to_do(ct_run):
    from snakerun import snakemake

    tmp, args = ct_run
    res = snakemake(*args, "-n")
    assert res.returncode == 0
    assert "Nothing to be done" in res.stdout + res.stderr
