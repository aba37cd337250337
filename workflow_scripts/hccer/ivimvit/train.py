"""One ViT training job = (experiment, inner fold, seed) of the IVIM study (seed-003 §5).

The ViT trains on the inner fold's training side of the training cohort, early-stops on its
validation side (never the test cohort) and records the validation AUC of the weights it
keeps: the criterion that picks the feature-extracting fold model. Settings (AdamW, learning
rate, batch, epochs, early stopping) are the experiment's `deep` entry; the steps (settings,
network, member training, outputs) are those of `hccer.dl.job`, with one member.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

log = logging.getLogger(__name__)


def run_vit_fold(study: dict, experiment: str, inner: int, seed: int, crops: list[str],
                 folds_path: str, out_dir: str, device: str | None = None,
                 threads: int | None = None, base_seed: int = 0) -> dict:
    from hccer.dl.data import load_samples
    from hccer.dl.job import (
        auc_or_none,
        build_model,
        experiment_config,
        train_config,
        train_members,
        write_outputs,
    )
    from hccer.dl.train import job_device
    from hccer.errors import InputError
    from hccer.ivimvit import config as ivim_config
    from hccer.jsonio import provenance, read_json, write_json

    t0 = time.perf_counter()
    deep = study.get("deep") or {}
    cfg, choice = experiment_config(deep, experiment, None, inner, seed)
    tcfg = train_config(cfg)
    dev = job_device(device or deep.get("device", "auto"), threads)
    split = read_json(folds_path)
    ivim_config.outer_sides(split)          # refuses all but a hold-out split
    tr, va = ivim_config.inner_fold(split, inner)
    labels = ivim_config.training_labels(split, bool(cfg["permute_labels"]),
                                         int(base_seed) + int(seed))
    if not tr or not va:
        raise InputError(f"inner fold {inner} has {len(tr)} training and {len(va)} validation "
                         "patients; both sides are needed", file=folds_path)
    array = (cfg.get("input") or {}).get("array", "x")
    patients = sorted(tr + va)
    samples = load_samples(crops, patients, array, None, per_slice=False)
    run_seed = int(base_seed) + 1009 * (int(inner) + 1) + int(seed)
    model, _ = build_model(cfg, samples.x.shape[1:], run_seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    job = f"{experiment} inner fold {inner}"
    states, histories, _, val = train_members(
        model, cfg, tcfg, [(tr, va)], samples, patients, labels, None, None, run_seed, choice,
        dev, out, job, seed, folds_path)
    # the kept weights (best epoch when early stopping restores it) judged on validation
    val_auc = auc_or_none([val[p] for p in va], [labels[p] for p in va])
    hist = write_outputs(histories, out, f"{job} seed {seed}", {
        "experiment": experiment, "config": cfg, "fold": split["folds"][0]["fold"],
        "seed": seed, "run_seed": run_seed, "input_shape": samples.x.shape[1:],
        "members": states, "inner_fold": int(inner), "array": array,
        "val_auc": val_auc})
    summary = {"experiment": experiment, "inner_fold": int(inner), "seed": int(seed),
               "device": str(dev), "n_train": len(tr), "n_validation": len(va),
               "val_auc": val_auc,
               "epochs_run": int(hist.epoch.max()) if len(hist) else 0,
               "permuted_labels": bool(cfg["permute_labels"]),
               "early_stopping": tcfg.early_stopping,
               "n_parameters": int(sum(q.numel() for q in model.parameters())),
               "seconds": time.perf_counter() - t0, "config": cfg,
               "provenance": provenance(run_seed, threads=threads)}
    write_json(out / "summary.json", summary)
    log.info("%s seed %d done: validation AUC %s in %.0f s", job, seed, summary["val_auc"],
             summary["seconds"])
    return summary
