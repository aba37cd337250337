"""How much a single hold-out split decides: the study's clinical model and radiomics funnel,
refitted by the workflow's own functions (classical.fit) on R random splits of the same
patients at the study's test fraction, test AUC per model (mean, SD, range) and how often each
model beats the clinical model. Reads a finished run (study.yaml, cohort/outcome.tsv, the r1
radiomics table and the ICC table); writes nothing. About 15 s per split for cemri_dlrcr.

Run: .venv/bin/python benchmarks/bench_resplit.py results/cemri_dlrcr [n_splits]
(not in run.py: it needs a finished run of a study with `clinical` and `classical` blocks)"""

from __future__ import annotations

import logging
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from _run_folder import missing_from_run
from hccer.classical.clinical import code_table, outcome_frame
from hccer.classical.fit import fit_clinical_fold, fit_radiomics_fold
from hccer.radiomics.table import read_features
from hccer.stats.roc import auc


def splits(patients: list[str], fraction: float, n: int):
    for r in range(n):
        perm = np.random.default_rng(1000 + r).permutation(patients)
        k = int(round(fraction * len(perm)))
        yield r, {"folds": [{"fold": 0, "test": sorted(perm[:k]), "train": sorted(perm[k:])}]}


def main(study_dir: str, n_splits: int = 20) -> int:
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)  # per-fold fallbacks and convergence notes
    d = Path(study_dir)
    problem = missing_from_run(d, ["study.yaml", "cohort/outcome.tsv",
                                   "radiomics/features_reader-r1.tsv"])
    if problem:
        print(problem)
        return 2
    study = yaml.safe_load((d / "study.yaml").read_text())
    if not (study.get("clinical") and study.get("classical")):
        print(f"{d}: the study has no clinical and classical blocks")
        return 1
    outcome = outcome_frame(d / "cohort" / "outcome.tsv")
    features = read_features(d / "radiomics" / "features_reader-r1.tsv")
    icc_file = d / "radiomics" / "icc.tsv"
    icc = (pd.read_csv(icc_file, sep="\t").set_index("feature")["icc"]
           if icc_file.is_file() else None)
    patients = sorted(set(outcome.index) & set(features.index.get_level_values(0)))
    fraction = float(study["split"].get("test_fraction", 0.2))
    combined = study["classical"].get("combined")
    rows, t0 = [], time.perf_counter()
    for r, split in splits(patients, fraction, n_splits):
        led, rec = fit_clinical_fold(outcome, split, 0, study["clinical"], seed=r)
        design = None
        if combined:
            specs = [v for v in study["clinical"]["variables"] if v["name"] in rec["selected"]]
            design = code_table(outcome, specs)
        led_r, _ = fit_radiomics_fold(features, outcome, split, 0, study["classical"], r, icc,
                                      design)
        for (model, cohort), g in pd.concat([led, led_r]).groupby(["model", "cohort"]):
            rows.append({"split": r, "model": model, "cohort": cohort,
                         "auc": auc(g["score"].to_numpy(), g["label"].to_numpy().astype(bool))})
    secs = time.perf_counter() - t0
    df = pd.DataFrame(rows)
    test = df[df["cohort"] == "test"].pivot(index="split", columns="model", values="auc")
    ref = study["clinical"].get("name", "clinical")
    n_test = int(round(fraction * len(patients)))
    print(f"{study['key']}: {n_splits} random splits of {len(patients)} patients "
          f"({len(patients) - n_test} train / {n_test} test), {secs / n_splits:.1f} s per split")
    print(f"{'model':22s} {'test AUC mean':>13s} {'SD':>6s} {'min':>6s} {'max':>6s} "
          f"{'> ' + ref:>8s} {'train':>6s}")
    train = df[df["cohort"] == "train"].groupby("model")["auc"].mean()
    for m in test.mean().sort_values(ascending=False).index:
        s = test[m]
        beats = "" if m == ref else f"{(s > test[ref]).mean():8.2f}"
        tr = f"{train[m]:6.3f}" if m in train else ""
        print(f"{m:22s} {s.mean():13.3f} {s.std():6.3f} {s.min():6.3f} {s.max():6.3f} "
              f"{beats:>8s} {tr:>6s}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        print(__doc__)
        sys.exit(2)
    sys.exit(main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 20))
