"""What a paper-size run costs on this machine: every training job the paper-size config plans
(each preset's `deep.run` x outer folds x seeds; ivim_vit: its ViTs x inner folds), with the
network's measured CPU time per training sample at the paper's input size, times the paper's
training samples per epoch and the configured epochs (early stopping can end a job sooner: an
upper bound). Training only: conversion, registration and radiomics add minutes per patient.

Run: .venv/bin/python benchmarks/bench_paper_size.py [--only ct_3dcnn] [--steps 2] [--threads 2]
Each distinct network is timed once at batch min(batch, --max-batch) and scaled per sample
(CPU time per sample barely depends on batch size; ViT-B at batch 25 would need > 22 GB).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from bench_train import NETWORKS, bench
from hccer.config import deep_merge, load_study, load_yaml
from hccer.dl import experiments
from hccer.ivimvit import config as ivim_config

ROOT = Path(__file__).resolve().parent.parent
PRESETS = ["phase_attention", "deep_fusion", "cemri_dlrcr", "ivim_vit", "ct_3dcnn"]
DLRCR_TABULAR = 36       # selected radiomics + CR variables at the FC layer (spec seed-002 §6)


def paper_study(preset: str) -> dict:
    config = deep_merge(load_yaml(ROOT / "config" / "config.yaml"),
                        load_yaml(ROOT / "config" / "paper_size.yaml"))
    config["study"] = preset
    return load_study(config, ROOT)


def samples_per_epoch(preset: str) -> int:
    """The paper's training samples per epoch, as bench_train states them per preset."""
    return next(n for name, *_, n in NETWORKS if name.startswith(preset + " "))


def planned_jobs(study: dict) -> list[tuple[str, int]]:
    """(experiment, number of training jobs) in the order the paper-size run trains them."""
    if study.get("vit"):
        exps = ivim_config.experiments_of(study["vit"])
        n = int(study["split"]["inner_folds"]) * len(study["deep"].get("seeds", [0]))
        return [(e, n) for e in exps]
    counts: dict[str, int] = {}
    for exp, _, _ in experiments.jobs(study):
        counts[exp] = counts.get(exp, 0) + 1
    return list(counts.items())


def input_shape(study: dict, cfg: dict) -> tuple[int, ...]:
    crop = study["crop"]
    size = tuple(int(s) for s in crop["size"])
    if crop["mode"] == "voi3d":
        return (1, *size)
    if crop["mode"] == "slices2d":
        phases = (cfg.get("input") or {}).get("phases") or study["phases"]
        return (len(phases), *size)
    array = (cfg.get("input") or {}).get("array", "x")      # bbox3d IVIM: b-values or maps
    n = len(study["vit"]["maps"]["ranges"]) if array == "maps" else len(study["b_values"])
    return (n, *size)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="", help="presets whose name contains this text")
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-batch", type=int, default=8)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cpu = torch.device("cpu")
    print(f"torch {torch.__version__}, CPU threads {args.threads}, timed steps {args.steps}; "
          "hours = jobs x epochs x samples/epoch x s/sample (training only, upper bound)")
    print(f"{'preset':16s} {'experiment':28s} {'input':>14s} {'jobs':>4s} {'epochs':>6s} "
          f"{'ms/sample':>9s} {'h/job':>7s} {'h total':>8s}")
    timed: dict[str, float] = {}
    for preset in PRESETS:
        if args.only not in preset:
            continue
        study = paper_study(preset)
        per_epoch = samples_per_epoch(preset)
        total = 0.0
        for exp, n_jobs in planned_jobs(study):
            cfg = experiments.resolve(study["deep"], exp)
            shape = input_shape(study, cfg)
            net = dict(cfg.get("net") or {})
            if cfg.get("tabular"):
                net["clinical_dim"] = DLRCR_TABULAR
            batch = min(int(cfg["batch_size"]), args.max_batch)
            key = json.dumps([cfg["network"], net, shape, batch], sort_keys=True)
            if key not in timed:                 # permutation controls cost what their base does
                samples_per_s, _ = bench(exp, cfg["network"], net, shape, batch, cpu, args.steps)
                timed[key] = 1.0 / samples_per_s
            per_job = timed[key] * per_epoch * int(cfg["epochs"]) / 3600
            total += per_job * n_jobs
            print(f"{preset:16s} {exp:28s} {'x'.join(map(str, shape)):>14s} {n_jobs:4d} "
                  f"{int(cfg['epochs']):6d} {1000 * timed[key]:9.1f} {per_job:7.1f} "
                  f"{per_job * n_jobs:8.1f}", flush=True)
        print(f"{preset:16s} {'TOTAL':28s} {'':>14s} {'':>4s} {'':>6s} {'':>9s} {'':>7s} "
              f"{total:8.1f}  (= {total / 24:.1f} days on this CPU)", flush=True)


if __name__ == "__main__":
    t0 = time.perf_counter()
    main()
    print(f"measured in {time.perf_counter() - t0:.0f} s")
