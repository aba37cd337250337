"""Run each preset's tiny config end to end and print a SHA-256 of every result table.

A refactoring that must not change results is checked by running this on the tree before and
after (same config, same seed, CPU) and comparing the two JSON files it writes:

    .venv/bin/python benchmarks/digest_tables.py --out before.json            # on the old tree
    .venv/bin/python benchmarks/digest_tables.py --out after.json --against before.json

`--tree DIR` runs another checkout's Snakefile and package (its `workflow_scripts` goes first on
PYTHONPATH), so both digests can come from one environment. Not in `run.py`: minutes per preset.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEEP = {"device": "cpu", "resources": {"threads": 1, "mem_mb": 2000}}
# The tests' tiny settings, widened to the whole `all` target: every table and figure of each
# preset's `reproduce` block, on a twin just big enough for its split.
TINY: dict[str, tuple[int, dict]] = {
    "phase_attention": (12, {
        "split": {"n_folds": 2}, "crop": {"size": [32, 32]},
        "deep": dict(DEEP, run=["r18_br3_dpa_fusD_joint", "r18_single_ART"],
                     defaults={"epochs": 1, "batch_size": 4},
                     experiments={"r18_br3": {"net": {"width": 4}}})}),
    "deep_fusion": (12, {
        "split": {"n_folds": 2}, "crop": {"size": [32, 32]},
        "deep": dict(DEEP, run=["r50_stack3_fusD_joint", "r50_stack3_fusA"],
                     defaults={"epochs": 1},
                     experiments={"r50_stack3": {"net": {"width": 4}}})}),
    "cemri_dlrcr": (12, {
        "split": {"inner_folds": 2}, "crop": {"size": [32, 32]},
        "radiomics": {"params": "cemri_dlrcr_demo", "features_per_phase": 107},
        "classical": {"selection": [{"step": "anova", "k": 5}]},
        "deep": dict(DEEP, defaults={"epochs": 1, "batch_size": 8,
                                     "early_stopping": {"patience": 1, "monitor": "val_auc"}},
                     experiments={"resnet18": {"net": {"width": 4}}})}),
    "ivim_vit": (10, {
        "split": {"inner_folds": 2}, "crop": {"size": [16, 16, 16]},
        "deep": dict(DEEP, defaults={"epochs": 1, "batch_size": 4},
                     experiments={"vit_b": {"net": {"size": "tiny", "patch": 8}}}),
        "vit": {"k": 4}}),
    "ct_3dcnn": (10, {
        "split": {"inner_folds": 2}, "crop": {"size": [10, 48, 48]},
        "deep": dict(DEEP, defaults={"epochs": 2, "early_stopping": {"patience": 1}},
                     experiments={"cnn3d_ss": {"net": {"width": 2, "dense": [16, 8, 8]}}})}),
}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run_preset(tree: Path, study: str, work: Path, log) -> dict[str, str]:
    n, overrides = TINY[study]
    bindir = Path(sys.executable).parent
    env = dict(os.environ, PATH=f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}",
               PYTHONPATH=f"{tree / 'workflow_scripts'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    cmd = [str(bindir / "snakemake"), "-s", str(tree / "Snakefile"), "--cores", "2",
           "--directory", str(work), "--config", f"study={study}", f"results={work}/results",
           f"private={work}/private",
           "data=" + json.dumps({"source": "synthetic", "synthetic": {
               "n": n, "seed": 11, "matrix": 96, "root": f"{work}/synthetic"}}),
           "study_overrides=" + json.dumps(overrides)]
    res = subprocess.run(cmd, cwd=tree, env=env, text=True, capture_output=True, check=False)
    log.write(res.stdout + res.stderr)
    if res.returncode != 0:
        raise SystemExit(f"{study}: snakemake failed (rc {res.returncode}); "
                         f"last lines:\n{res.stderr[-3000:]}")
    root = work / "results" / study
    files = sorted((root / "tables").glob("*.csv")) + [root / "ledger" / "ledger.csv",
                                                       root / "comparison.tsv"]
    return {str(p.relative_to(root)): sha256(p) for p in files if p.is_file()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tree", type=Path, default=ROOT, help="checkout to run (default: this one)")
    ap.add_argument("--studies", nargs="*", default=list(TINY), choices=list(TINY))
    ap.add_argument("--out", type=Path, required=True, help="JSON of digests to write")
    ap.add_argument("--against", type=Path, help="an earlier --out to compare with")
    ap.add_argument("--work", type=Path, help="keep the runs here (default: a temp folder)")
    args = ap.parse_args(argv)
    digests: dict[str, dict[str, str]] = {}
    with tempfile.TemporaryDirectory(prefix="hccer-digest-") as tmp:
        base = args.work or Path(tmp)
        with open(args.out.with_suffix(".log"), "w") as log:
            for study in args.studies:
                t0 = time.perf_counter()
                digests[study] = run_preset(args.tree.resolve(), study, base / study, log)
                print(f"{study:16s} {len(digests[study]):3d} files  "
                      f"{time.perf_counter() - t0:6.0f} s", flush=True)
                # after each preset, so a later failure keeps the finished ones
                args.out.write_text(json.dumps(digests, indent=1, sort_keys=True) + "\n")
    if not args.against:
        return 0
    before = json.loads(args.against.read_text())
    bad = 0
    for study in args.studies:
        old, new = before.get(study, {}), digests[study]
        for name in sorted(set(old) | set(new)):
            if old.get(name) != new.get(name):
                bad += 1
                print(f"DIFFERS {study}/{name}: {old.get(name, 'missing')[:12]} -> "
                      f"{new.get(name, 'missing')[:12]}")
    print("identical" if not bad else f"{bad} files differ")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
