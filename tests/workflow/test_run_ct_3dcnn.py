"""A tiny real run: synthetic twin -> triage -> NIfTI -> 1 mm -> ANTs -> crops -> folds -> status
-> models -> published-vs-reproduced, TRIPOD+AI, provenance -> `snakemake --report`, then
privacy and resume checks on what it wrote."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from snakerun import DEMO

pytestmark = pytest.mark.slow


# A planted salt (the twin would use its public one without a file): it must appear nowhere in
# the run's tree.
PLANTED_SALT = "planted-salt-7c41e0b9a2"


def tiny(tmp: Path, study: str, n: int, overrides: dict) -> list[str]:
    salt = tmp / "secret" / "salt"
    salt.parent.mkdir(exist_ok=True)
    salt.write_text(PLANTED_SALT + "\n")
    return ["--cores", "2", *DEMO, "--directory", str(tmp), "--config", f"study={study}",
            f"results={tmp}/results", f"private={tmp}/private", f"pseudonym_salt_file={salt}",
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
    # image volumes are temp() by default (preprocess.keep_intermediates: false): gone once the
    # crops are cut, while masks, transforms and QC stay
    deriv = root / "derivatives"
    assert not [p.name for p in deriv.rglob("*_desc-*.nii.gz")
                if p.name.endswith(("desc-native.nii.gz", "desc-resampled.nii.gz",
                                    "desc-registered.nii.gz"))]
    assert list(deriv.rglob("*_desc-resampled_mask.nii.gz"))
    assert list(deriv.rglob("*_desc-registration_qc.json"))


@pytest.fixture(scope="module")
def ct_report(ct_run):
    from snakerun import snakemake

    tmp, args = ct_run
    report = tmp / "results" / "report.html"
    res = snakemake(*args, "--report", str(report), timeout=600)
    assert res.returncode == 0, (res.stdout[-4000:] + res.stderr[-6000:])
    return report


def test_no_identifying_value_reaches_outputs_or_logs(ct_run, ct_report):
    tmp, _ = ct_run
    assert ct_report.is_file()  # the report is scanned with the results
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
    # the salt: not in results/, the private map, the report, nor Snakemake's logs and
    # metadata (which record every command line and param)
    assert (tmp / ".snakemake" / "metadata").is_dir() and (tmp / ".snakemake" / "log").is_dir()
    leaked = [str(p) for p in tmp.rglob("*") if p.is_file() and p.name != "salt"
              and PLANTED_SALT.encode() in p.read_bytes()]
    assert not leaked, leaked[:5]


def test_rerun_has_nothing_to_do(ct_run):
    from snakerun import snakemake

    tmp, args = ct_run
    res = snakemake(*args, "-n")
    assert res.returncode == 0
    assert "Nothing to be done" in res.stdout + res.stderr


def test_both_3d_cnns_write_ledger_rows_and_gradcam(ct_run):
    import pandas as pd
    from hccer.ledger import read_ledger

    tmp, _ = ct_run
    root = tmp / "results" / "ct_3dcnn"
    ledger = read_ledger(root / "ledger" / "ledger.csv")
    folds = json.loads((root / "cohort" / "folds.json").read_text())
    train, test = folds["folds"][0]["train"], folds["folds"][0]["test"]
    for model in ("cnn3d_ss", "cnn3d_nss"):
        rows = ledger[ledger.model == model]
        assert sorted(rows[rows.cohort == "test"].patient) == sorted(test)
        assert sorted(rows[rows.cohort == "train"].patient) == sorted(train)
        assert rows.score.between(0, 1).all()
        job = root / "models" / model / "fold-0_seed-0"
        assert (job / "history.tsv").is_file() and (job / "curves.png").is_file()
        assert not list(job.glob("resume-*.pt"))
    cams = list((root / "models" / "cnn3d_ss" / "fold-0_seed-0" / "gradcam")
                .glob("sub-*_gradcam.png"))
    assert len(cams) == len(train) + len(test)
    assert isinstance(ledger, pd.DataFrame)


def test_report_has_every_category_and_the_reproduction_files(ct_run, ct_report):
    tmp, _ = ct_run
    html = ct_report.read_text(encoding="utf-8")
    for category in ("ct_3dcnn", "Reproduction", "Tables", "QC", "Training"):
        assert f'"{category}"' in html, category
    for name in ("comparison.md", "comparison.tsv", "tripod_ai.md", "provenance.json",
                 "summary.md", "desc-registration_qc.png", "curves.png"):
        assert name in html, name
    # front page and captions read the run and the config
    assert "hccer run of study" in html and "10 found" in html
    assert "Youden" in html and "exact binomial" not in html
    assert PLANTED_SALT not in html
    assert "Demo settings were in force</strong>" in html


def test_reproduction_outputs(ct_run):
    import pandas as pd

    tmp, _ = ct_run
    root = tmp / "results" / "ct_3dcnn"
    table = pd.read_csv(root / "comparison.tsv", sep="\t")
    # every published number of the preset is a row: reproduced, or with its reason
    from hccer.config import load_yaml

    published = load_yaml(root / "published.yaml")
    assert len(table) == len(published["items"])
    assert set(table.model) >= {"cnn3d_ss", "cnn3d_nss", "cnn3d_ss_r2"}
    assert (table.loc[table.status != "ok", "reason"].str.len() > 10).all()
    assert (table.status == "ok").any()
    md = (root / "comparison.md").read_text()
    assert md.splitlines()[2].startswith("**Settings.** Demo settings were in force")
    assert "Synthetic twin cohort" in md and "n = 10 simulated patients, seed 11" in md
    assert "Oracle AUC" in md
    tripod = (root / "tripod_ai.md").read_text()
    assert tripod.count("\n| ") >= 52
    for link in set(__import__("re").findall(r"\]\(([^)]+)\)", tripod)):
        assert (root / link).exists(), link
    prov = json.loads((root / "provenance.json").read_text())
    assert prov["demo_settings"] is True and prov["settings"].startswith("Demo settings")
    patients = prov["inputs"]["patients"]
    assert len(patients) == 10 and all(k.startswith("p") for k in patients)
    assert prov["synthetic_twin"]["oracle_auc"]
    assert PLANTED_SALT not in (root / "config.yaml").read_text()
    assert "published" not in load_yaml(root / "study.yaml")


def test_paper_tables_and_figures(ct_run):
    """Every item of the preset's reproduce block is written, and the headline numbers are the
    ones hccer.stats computes from the ledger."""
    import pandas as pd
    from hccer.config import load_yaml
    from hccer.ledger import read_ledger
    from hccer.stats.roc import auc_with_ci
    from hccer.stats.threshold import youden_threshold

    tmp, _ = ct_run
    root = tmp / "results" / "ct_3dcnn"
    spec = load_yaml(root / "paper" / "spec.yaml")
    assert "reproduce" not in load_yaml(root / "study.yaml")
    for item in spec["tables"]:
        for ext in ("csv", "md", "tex", "json"):
            assert (root / "tables" / f"{item['id']}.{ext}").stat().st_size > 50, item["id"]
    for item in spec["figures"]:
        for ext in ("png", "pdf", "json"):
            assert (root / "figures" / f"{item['id']}.{ext}").stat().st_size > 500, item["id"]
    ledger = read_ledger(root / "ledger" / "ledger.csv")
    res = pd.read_csv(root / "tables" / "results.csv", dtype=str).set_index(["Model", "Cohort"])
    ss = ledger[ledger.model == "cnn3d_ss"]
    train, test = ss[ss.cohort == "train"], ss[ss.cohort == "test"]
    cut = youden_threshold(train.score, train.label)["threshold"]
    assert res.loc[("SS-3D-CNN", "Test"), "Cut-off"] == f"{cut:.3f}"
    if 0 < test.label.sum() < len(test):
        a = auc_with_ci(test.score, test.label)
        assert res.loc[("SS-3D-CNN", "Test"), "AUC (95% CI)"].startswith(f"{a.auc:.3f} (")
    folds = json.loads((root / "cohort" / "folds.json").read_text())
    s3 = pd.read_csv(root / "tables" / "table_s3.csv", dtype=str)
    assert f"Training (n = {len(folds['folds'][0]['train'])})" in s3.columns
    assert s3["Level"].tolist()[:2] == ["<60", "≥60"]
    flow = json.loads((root / "figures" / "fig1_flow.json").read_text())["values"][0]
    assert flow["n_analysed"] == len(folds["assignment"]) and flow["n_found"] == 10
    s2 = pd.read_csv(root / "tables" / "table_s2.csv")
    assert s2["Layer"].tolist()[:2] == ["conv1", "pool1"] and s2["Layer"].iloc[-1] == "Total"
    cams = json.loads((root / "figures" / "fig8_gradcam.json").read_text())["values"]
    assert {v["model"] for v in cams} == {"cnn3d_ss", "cnn3d_nss"}


def test_statistics_option_reruns_only_paper_rules(ct_run):
    """A changed `stats` option reruns the paper rules (and the report's provenance of the
    config), never a model or any step before the ledger."""
    import re

    from snakerun import ROOT, snakemake

    tmp, args = ct_run
    res = snakemake(*args, "stats=" + json.dumps({"n_boot": 500, "auc_ci": "bootstrap"}),
                    "-n", "--quiet", "rules")
    assert res.returncode == 0, res.stderr[-3000:]
    jobs = set(re.findall(r"^(\w+)\s+\d+$", res.stdout + res.stderr, flags=re.M)) - {"total"}
    upstream = set()
    for smk in ("synth", "ingest", "preprocess", "cohort", "radiomics", "train", "ledger"):
        upstream |= set(re.findall(r"^\s*rule (\w+):", (ROOT / "rules" / f"{smk}.smk")
                                   .read_text(), flags=re.M))
    assert {"write_paper_spec", "tabulate_models", "plot_models"} <= jobs, jobs
    assert not jobs & upstream, jobs & upstream
