"""How much the one hold-out split decides for the IVIM ViT chain: the whole chain of a finished
ivim_vit run (every ViT per inner fold, CLS features of the best fold model, the clinical model,
bDL / mDL / fDL and the combined model, and the permutation controls) rerun through the
workflow's own commands (`hccer vit train|features|fit`, `hccer classical clinical`) on R
random splits of the same patients, made by the study's own split rule (`make_split`, seed
1000 + r; the training and label-permutation seeds are the run's seed + r). Prints each
model's test AUC (mean, SD, range), how often it beats the clinical model, and the run's own
split beside it. Jobs go to a scratch folder that is removed afterwards; the run is not
touched. About 1 min per split on 2 cores (demo ViTs, n = 40).

Run: .venv/bin/python benchmarks/bench_vit_resplit.py results/ivim_vit [n_splits] [--jobs 2]
(not in run.py: it needs a finished run of a study with a `vit` block)"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from _run_folder import missing_from_run
from hccer.cohort.split import make_split
from hccer.dl import experiments
from hccer.ivimvit import config as ivim_config
from hccer.stats.roc import auc

HCCER = str(Path(sys.executable).parent / "hccer")


def call(*args: str) -> None:
    res = subprocess.run([HCCER, *args], capture_output=True, text=True)
    if res.returncode:
        raise RuntimeError(f"hccer {args[0]} {args[1]} failed:\n{res.stderr[-2000:]}")


def held_out_aucs(parts: list[Path]) -> dict[str, float]:
    led = pd.concat([pd.read_csv(p) for p in parts])
    test = led[led["cohort"] == "test"]
    return {m: float(auc(g["score"].to_numpy(), g["label"].to_numpy().astype(bool)))
            for m, g in test.groupby("model")}


def run_split(d: Path, work: Path, study_file: Path, split: dict, base_seed: int,
              crops: dict[str, list[str]], jobs: int) -> dict[str, float]:
    """The run's ViT chain on one split (training seed 0), as its rules chain it."""
    work.mkdir(parents=True)
    folds = work / "folds.json"
    folds.write_text(json.dumps(split))
    study = yaml.safe_load(study_file.read_text())
    cfg = ivim_config.block(study)
    exps = ivim_config.experiments_of(cfg)
    inner = range(int(study["split"]["inner_folds"]))
    common = ["--study", str(study_file), "--seed", "0", "--base-seed", str(base_seed)]

    def train(e: str, k: int) -> None:
        call("vit", "train", *common, "--experiment", e, "--inner", str(k), "--folds",
             str(folds), "--crops", *crops[e], "--out-dir", str(work / e / f"inner-{k}"),
             "--device", "cpu", "--threads", "1")

    def features(e: str) -> None:
        call("vit", "features", "--experiment", e, "--seed", "0", "--summaries",
             *[str(work / e / f"inner-{k}" / "summary.json") for k in inner], "--crops",
             *crops[e], "--folds", str(folds), "--out", str(work / f"{e}.tsv"), "--record",
             str(work / f"{e}.json"), "--device", "cpu", "--threads", "1")

    ex = ThreadPoolExecutor(jobs)
    try:
        for j in [ex.submit(train, e, k) for e in exps for k in inner]:
            j.result()
        for j in [ex.submit(features, e) for e in exps]:
            j.result()
    finally:  # on an error or a kill, queued jobs are dropped, not run
        ex.shutdown(wait=True, cancel_futures=True)
    ivim = d / "cohort" / "ivim_features.tsv"
    outcome = d / "cohort" / "outcome.tsv"
    parts = []
    clin = []
    if study.get("clinical"):
        join = ["--ivim", str(ivim)] if study["clinical"].get("ivim") else []
        call("classical", "clinical", "--study", str(study_file), "--outcome", str(outcome),
             "--folds", str(folds), "--fold", "0", "--seed", str(base_seed), *join,
             "--out", str(work / "clinical.csv"), "--record", str(work / "clinical.json"))
        parts.append(work / "clinical.csv")
        clin = ["--clinical-record", str(work / "clinical.json")]
    perm = cfg.get("permutation") or {}
    feats = [a for r in ivim_config.ROLES
             for a in (f"--{r}", str(work / f"{cfg['extractors'][r]}.tsv"))]
    feats += [a for r in ivim_config.ROLES if perm
              for a in (f"--perm-{r}", str(work / f"{perm[r]}.tsv"))]
    call("vit", "fit", "--study", str(study_file), *feats, "--outcome", str(outcome),
         "--folds", str(folds), "--ivim", str(ivim), *clin, "--seed", "0", "--base-seed",
         str(base_seed), "--out", str(work / "vit.csv"), "--record", str(work / "vit.json"))
    parts.append(work / "vit.csv")
    return held_out_aucs(parts)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("study_dir")
    ap.add_argument("n_splits", type=int, nargs="?", default=10)
    ap.add_argument("--jobs", type=int, default=2, help="ViT jobs at once (1 thread each)")
    a = ap.parse_args(argv)
    d = Path(a.study_dir)
    problem = missing_from_run(d, ["study.yaml", "config.yaml", "cohort/folds.json",
                                   "cohort/outcome.tsv", "cohort/ivim_features.tsv"])
    if problem:
        print(problem)
        return 2
    study = yaml.safe_load((d / "study.yaml").read_text())
    if not study.get("vit"):
        print(f"{d}: the study has no `vit` block (the IVIM ViT chain)")
        return 2
    cfg = ivim_config.block(study)
    deep = study.get("deep") or {}
    crops = {}
    for e in ivim_config.experiments_of(cfg):
        mode = ivim_config.crop_mode(experiments.resolve(deep, e))
        crops[e] = sorted(str(p) for p in (d / "crops").glob(f"sub-*/*_desc-{mode}*.npz"))
        if not crops[e]:
            print(f"{d / 'crops'}: no {mode} crops (.npz); the run has not cut them yet")
            return 2
    own = json.loads((d / "cohort" / "folds.json").read_text())
    table = pd.DataFrame(own["assignment"])[["patient", "er"]]
    base_seed = int(yaml.safe_load((d / "config.yaml").read_text())["seed"])
    own_parts = sorted((d / "ledger" / "parts").glob("vit_models_seed-0*.csv"))
    own_parts += sorted((d / "ledger" / "parts").glob("clinical_fold-0*.csv"))
    # a killed benchmark still removes its scratch folder (SIGTERM runs `finally`)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    scratch = Path(tempfile.mkdtemp(prefix="bench_vit_resplit_"))
    study_file = scratch / "study.yaml"
    study_file.write_text(yaml.safe_dump(study, sort_keys=False))
    rows, t0 = [], time.perf_counter()
    try:
        for r in range(a.n_splits):
            split = make_split(table, study["split"], 1000 + r)
            t1 = time.perf_counter()
            # seeds move with the split: one fixed seed would draw the same label
            # permutation in every split and make the controls one draw, not R
            res = run_split(d, scratch / f"split-{r}", study_file, split, base_seed + r, crops,
                            a.jobs)
            rows += [{"split": r, "model": m, "auc": v} for m, v in res.items()]
            print(f"  split {r}: " + ", ".join(f"{m} {v:.3f}" for m, v in sorted(res.items()))
                  + f" ({time.perf_counter() - t1:.0f} s)", flush=True)
            shutil.rmtree(scratch / f"split-{r}", ignore_errors=True)
    except RuntimeError as e:
        print(str(e))
        return 1
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    secs = time.perf_counter() - t0
    test = pd.DataFrame(rows).pivot(index="split", columns="model", values="auc")
    ref = (study.get("clinical") or {}).get("name", "clinical")
    f0 = own["folds"][0]
    n_er = int(table["er"].sum())
    print(f"{study['key']}: {a.n_splits} random splits of {len(table)} patients ({n_er} ER; "
          f"{len(f0['train'])} train / {len(f0['test'])} test), {secs / a.n_splits:.0f} s per "
          "split")
    mine = held_out_aucs(own_parts) if own_parts else {}
    print(f"{'model':16s} {'test AUC mean':>13s} {'SD':>6s} {'min':>6s} {'max':>6s} "
          f"{'> ' + ref:>10s} {'run split':>9s}")
    for m in test.mean().sort_values(ascending=False).index:
        s = test[m]
        beats = (f"{(s > test[ref]).mean():10.2f}" if ref in test and m != ref
                 else " " * 10)
        run = f"{mine[m]:9.3f}" if m in mine else " " * 9
        print(f"{m:16s} {s.mean():13.3f} {s.std(ddof=1) if len(s) > 1 else np.nan:6.3f} "
              f"{s.min():6.3f} {s.max():6.3f} {beats} {run}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
