"""The clinical model of each preset as the workflow fits it (classical.fit.fit_clinical_fold),
pooled out-of-fold AUC under stratified 10-fold CV, beside a plain logistic regression on the
same coded variables and the twin's clinical-only oracle, at the demo size and the paper's size,
mean over twin seeds. Clinical table and truth only (no images): about a minute.
Run: .venv/bin/python benchmarks/bench_clinical.py [n_seeds]"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from hccer.classical import clinical as clin
from hccer.classical.fit import fit_clinical_fold
from hccer.synth.ceiling import rank_auc, stratified_folds
from hccer.synth.clinical import simulate_clinical
from hccer.synth.twins import load_twin
from sklearn.linear_model import LogisticRegression

STUDIES = Path(__file__).resolve().parents[1] / "config" / "studies"
# ivim_vit is left out: its clinical model needs the tumour D from the fitted IVIM maps
PRESETS = ["phase_attention", "deep_fusion", "cemri_dlrcr"]


def cohort(preset: str, n: int, seed: int) -> pd.DataFrame:
    sim = simulate_clinical(preset, n=n, seed=seed)
    t = sim.truth.set_index("patient_code")
    out = sim.clinical.set_index("patient_code").loc[t.index[t["censored"] == 0]]
    out.index.name = "patient"
    return out.assign(er=t["true_er"], time_days=365, event=t["true_er"],
                      _oracle=t["logit_clinical"])


def one(preset: str, block: dict, n: int, seed: int) -> tuple[float, float, float]:
    out = cohort(preset, n, seed)
    y = out["er"].astype(int).to_numpy()
    fold_of = stratified_folds(y, 10, np.random.default_rng(seed))
    pids = out.index.to_numpy()
    split = {"folds": [{"fold": k, "train": list(pids[fold_of != k]),
                        "test": list(pids[fold_of == k])} for k in range(10)]}
    model, lr = pd.Series(np.nan, index=pids), pd.Series(np.nan, index=pids)
    X = clin.code_table(out, block["variables"], None)
    name = block.get("name", "clinical")
    for f in split["folds"]:
        rows, _ = fit_clinical_fold(out, split, f["fold"], block, seed)
        rows = rows[(rows["model"] == name) & (rows["cohort"] == "test")]
        model.loc[rows["patient"]] = rows["score"].to_numpy()
        fit = LogisticRegression(max_iter=1000).fit(X.loc[f["train"]], out.loc[f["train"], "er"])
        lr.loc[f["test"]] = fit.predict_proba(X.loc[f["test"]])[:, 1]
    return (rank_auc(y, model.to_numpy()), rank_auc(y, lr.to_numpy()),
            rank_auc(y, out["_oracle"].to_numpy()))


def main(seeds: int = 3) -> None:
    t0 = time.perf_counter()
    print(f"pooled out-of-fold AUC, stratified 10-fold CV, mean over {seeds} twin seeds")
    print(f"{'preset':16s} {'model':16s} {'n':>5s} {'model AUC':>9s} {'LR same X':>9s} "
          f"{'clin oracle':>11s}")
    for preset in PRESETS:
        block = yaml.safe_load((STUDIES / f"{preset}.yaml").read_text())["clinical"]
        for n in (40, int(load_twin(preset)["paper_n"])):
            r = np.mean([one(preset, block, n, s) for s in range(seeds)], axis=0)
            print(f"{preset:16s} {block['model']:16s} {n:5d} {r[0]:9.3f} {r[1]:9.3f} "
                  f"{r[2]:11.3f}")
    print(f"total {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
