"""Does a training setting help, or was it the seed? Retrains one deep experiment of a finished
run on every outer fold of that run's own split, as the run trained it (`hccer train`, the run's
study.yaml, folds.json and crops), with the settings given by --set merged into the experiment,
for several training seeds; prints the pooled out-of-fold (or hold-out test) AUC per seed, their
mean and SD, beside the run's own value for the same experiment. Jobs and ledgers go to a
scratch folder that is removed afterwards; the run itself is not touched.

Run: .venv/bin/python benchmarks/bench_dl_variant.py results/phase_attention \\
         r18_br3_dpa_fusD_joint --set '{"net": {"width": 8}}' --seeds 0 1 2
(not in run.py: it needs a finished run; experiments that take tabular inputs or another
experiment's trunk are refused, since their inputs come from other jobs of the run)"""

from __future__ import annotations

import argparse
import json
import shutil
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
from hccer.stats.roc import auc


def merge(into: dict, extra: dict) -> dict:
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(into.get(k), dict):
            merge(into[k], v)
        else:
            into[k] = v
    return into


def pooled_auc(parts: list[Path]) -> tuple[float, int]:
    led = pd.concat([pd.read_csv(p) for p in parts])
    test = led[led["cohort"] == "test"]
    return float(auc(test["score"].to_numpy(), test["label"].to_numpy().astype(bool))), len(test)


def train_fold(d: Path, scratch: Path, experiment: str, fold: int, seed: int, base_seed: int,
               crops: list[str]) -> Path:
    job = scratch / f"seed-{seed}_fold-{fold}"
    cmd = [str(Path(sys.executable).parent / "hccer"), "train",
           "--study", str(scratch / "study.yaml"), "--experiment", experiment,
           "--fold", str(fold), "--seed", str(seed), "--base-seed", str(base_seed),
           "--folds", str(d / "cohort" / "folds.json"),
           "--outcome", str(d / "cohort" / "outcome.tsv"), "--crops", *crops,
           "--out-dir", str(job), "--ledger", f"{job}.csv", "--threads", "1",
           "--device", "cpu"]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode:
        raise RuntimeError(f"fold {fold} seed {seed} failed:\n{res.stderr[-2000:]}")
    return Path(f"{job}.csv")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("study_dir")
    ap.add_argument("experiment")
    ap.add_argument("--set", default="{}", help="JSON merged into the experiment's settings")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--jobs", type=int, default=2, help="fold jobs at once (1 thread each)")
    a = ap.parse_args(argv)
    d = Path(a.study_dir)
    problem = missing_from_run(d, ["study.yaml", "config.yaml", "cohort/folds.json",
                                   "cohort/outcome.tsv"])
    if problem:
        print(problem)
        return 2
    study = yaml.safe_load((d / "study.yaml").read_text())
    experiments = (study.get("deep") or {}).get("experiments") or {}
    if a.experiment not in experiments:
        print(f"{d}: no deep experiment {a.experiment!r}; the study has "
              f"{', '.join(sorted(experiments)) or 'none'}")
        return 2
    try:
        extra = json.loads(a.set)
    except json.JSONDecodeError as e:
        print(f"--set is not JSON: {e}")
        return 2
    exp = merge(experiments[a.experiment], extra)
    if exp.get("tabular") or exp.get("init_from"):
        print(f"{a.experiment}: takes tabular inputs or another experiment's trunk from other "
              "jobs of the run; not retrained here")
        return 2
    crops = sorted(str(p) for p in (d / "crops").glob("sub-*/*.npz"))
    if not crops:
        print(f"{d / 'crops'}: no crops (.npz); the run has not cut them yet")
        return 2
    folds = json.loads((d / "cohort" / "folds.json").read_text())["folds"]
    base_seed = int(yaml.safe_load((d / "config.yaml").read_text())["seed"])
    own = sorted((d / "ledger" / "parts").glob(f"dl_{a.experiment}_fold-*_seed-*.csv"))
    scratch = Path(tempfile.mkdtemp(prefix="bench_dl_variant_"))
    try:
        (scratch / "study.yaml").write_text(yaml.safe_dump(study, sort_keys=False))
        print(f"{d.name} {a.experiment}, {len(folds)} fold(s), settings {json.dumps(extra)}")
        if len(own) >= len(folds):
            print(f"  the run's own ledger ({len(own)} part(s)): pooled test AUC "
                  f"{pooled_auc(own)[0]:.3f}")
        values = []
        for seed in a.seeds:
            t0 = time.perf_counter()
            with ThreadPoolExecutor(a.jobs) as ex:
                jobs = [ex.submit(train_fold, d, scratch, a.experiment, f, seed, base_seed,
                                  crops) for f in range(len(folds))]
                parts = [j.result() for j in jobs]
            value, n = pooled_auc(parts)
            values.append(value)
            print(f"  seed {seed}: pooled test AUC {value:.3f} ({n} patients), "
                  f"{time.perf_counter() - t0:.0f} s")
        if len(values) > 1:
            print(f"  mean {np.mean(values):.3f}, SD {np.std(values, ddof=1):.3f} over "
                  f"{len(values)} seeds")
    except RuntimeError as e:
        print(str(e))
        return 1
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
