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


# Small VOIs and a narrow 3D CNN for 2 epochs: the whole workflow, training included, in minutes.
CT_TINY = {"split": {"inner_folds": 2}, "crop": {"size": [10, 48, 48]},
           "deep": {"device": "cpu", "resources": {"threads": 1, "mem_mb": 2000},
                    "defaults": {"epochs": 2, "early_stopping": {"patience": 1}},
                    "experiments": {"cnn3d_ss": {"net": {"width": 2, "dense": [16, 8, 8]}}}}}


@pytest.fixture(scope="module")
def ct_run(tmp_path_factory):
    from snakerun import snakemake

    tmp = tmp_path_factory.mktemp("e2e_ct")
    args = tiny(tmp, "ct_3dcnn", 10, CT_TINY)
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
        assert crop["SS"].shape[-3:] == (10, 48, 48)
        assert crop["NSS"].shape[-3:] == (10, 48, 48)


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


def test_both_3d_cnns_write_ledger_rows_and_gradcam(ct_run):
    import pandas as pd
    from hccer.stats.ledger import read_ledger

    tmp, _ = ct_run
    root = tmp / "results" / "ct_3dcnn"
    ledger = read_ledger(root / "ledger" / "ledger.csv")
    folds = json.loads((root / "cohort" / "folds.json").read_text())
    train, test = folds["folds"][0]["train"], folds["folds"][0]["test"]
    for model in ("cnn3d_ss", "cnn3d_nss"):
        rows = ledger[ledger.model == model]
        assert sorted(rows[rows.cohort == "test"].patient_id) == sorted(test)
        assert sorted(rows[rows.cohort == "train"].patient_id) == sorted(train)
        assert rows.score.between(0, 1).all()
        job = root / "models" / model / "fold-0_seed-0"
        assert (job / "history.tsv").is_file() and (job / "curves.png").is_file()
        assert not list(job.glob("resume-*.pt"))
    cams = list((root / "models" / "cnn3d_ss" / "fold-0_seed-0" / "gradcam")
                .glob("sub-*_gradcam.png"))
    assert len(cams) == len(train) + len(test)
    assert isinstance(ledger, pd.DataFrame)
