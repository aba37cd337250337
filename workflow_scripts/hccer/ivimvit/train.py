"""One ViT training job = (experiment, inner fold, seed) of the IVIM study (seed-003 §5).

The ViT trains on the inner fold's training side of the training cohort, early-stops on its
validation side (never the test cohort) and records the validation AUC of the weights it
keeps: the criterion that picks the feature-extracting fold model. Settings (AdamW, learning
rate, batch, epochs, early stopping) are the experiment's `deep` entry.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)


def load_model(checkpoint: str | Path, device=None):
    """(model in eval mode, checkpoint dict) from a job's checkpoint.pt."""
    import torch

    from hccer.dl import networks

    ck = torch.load(checkpoint, map_location="cpu", weights_only=False)
    cfg = ck["config"]
    model = networks.build(cfg["network"], cfg.get("net"), input_shape=tuple(ck["input_shape"]))
    model.load_state_dict(ck["state"])
    if device is not None:
        model.to(device)
    return model.eval(), ck


def run_vit_fold(study: dict, experiment: str, inner: int, seed: int, crops: list[str],
                 folds_path: str, out_dir: str, device: str | None = None,
                 threads: int | None = None, base_seed: int = 0) -> dict:
    import torch

    from hccer.dl import experiments, ivim_config
    from hccer.dl.data import load_samples
    from hccer.dl.figures import curves
    from hccer.dl.job import build_model, train_config
    from hccer.dl.train import auc, fit, job_device, patient_scores, predict
    from hccer.errors import InputError
    from hccer.jsonio import provenance, read_json, write_json, write_text

    t0 = time.perf_counter()
    deep = study.get("deep") or {}
    cfg = experiments.resolve(deep, experiment)
    tcfg = train_config(cfg)
    dev = job_device(device or deep.get("device", "auto"), threads)
    split = read_json(folds_path)
    tr, va = ivim_config.inner_fold(split, inner)
    labels = ivim_config.training_labels(split, bool(cfg["permute_labels"]),
                                         int(base_seed) + int(seed))
    if not tr or not va:
        raise InputError(f"inner fold {inner} has {len(tr)} training and {len(va)} validation "
                         "patients; both sides are needed", file=folds_path)
    array = (cfg.get("input") or {}).get("array", "x")
    samples = load_samples(crops, sorted(tr + va), array, None, per_slice=False)
    run_seed = int(base_seed) + 1009 * (int(inner) + 1) + int(seed)
    model, _ = build_model(cfg, samples.x.shape[1:], run_seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tag = f"{experiment} inner fold {inner} seed {seed}"
    es = tcfg.early_stopping
    if es and es.get("monitor") == "val_auc" and len({labels[p] for p in va}) < 2:
        # possible with permuted labels on small cohorts: no AUC to monitor
        log.warning("%s: the validation side holds one class; early stopping monitors the "
                    "validation loss instead of the AUC", tag)
        tcfg.early_stopping = dict(es, monitor="val_loss")
    resume = out / "resume.pt"
    val = samples.subset(va)
    history = fit(model, samples.subset(tr), np.array([labels[p] for p in tr]), tcfg,
                  seed=run_seed, device=dev, val=val, val_labels=np.array([labels[p] for p in va]),
                  resume=resume, tag=tag)
    # the kept weights (best epoch when early stopping restores it) judged on validation
    p = patient_scores(predict(model, val, None, dev, tcfg.batch_size, tcfg.amp),
                       val.patient_index, len(va))
    val_auc = auc(p, [labels[q] for q in va])
    hist = pd.DataFrame([dict(h, member=0) for h in history])
    write_text(out / "history.tsv", hist.to_csv(sep="\t", index=False, float_format="%.6g"))
    curves(hist, out / "curves.png", tag)
    torch.save({"experiment": experiment, "config": cfg, "inner_fold": int(inner),
                "seed": int(seed), "run_seed": run_seed, "array": array,
                "input_shape": list(samples.x.shape[1:]), "val_auc": val_auc,
                "state": {k: v.cpu() for k, v in model.state_dict().items()}},
               out / "checkpoint.pt")
    resume.unlink(missing_ok=True)
    summary = {"experiment": experiment, "inner_fold": int(inner), "seed": int(seed),
               "device": str(dev), "n_train": len(tr), "n_validation": len(va),
               "val_auc": None if not np.isfinite(val_auc) else float(val_auc),
               "epochs_run": int(hist.epoch.max()) if len(hist) else 0,
               "permuted_labels": bool(cfg["permute_labels"]),
               "early_stopping": tcfg.early_stopping,
               "n_parameters": int(sum(q.numel() for q in model.parameters())),
               "seconds": time.perf_counter() - t0, "config": cfg,
               "provenance": provenance(run_seed, threads=threads)}
    write_json(out / "summary.json", summary)
    log.info("%s done: validation AUC %s in %.0f s", tag, summary["val_auc"], summary["seconds"])
    return summary
