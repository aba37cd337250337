"""The training loop: batches, loss (class weights, joint loss), AMP on CUDA, per-epoch
checkpoint for resuming, early stopping on a validation set, per-epoch history.

Resuming: the checkpoint written after every epoch holds model, optimizer, torch (CPU and
CUDA) and python RNG states, epoch, history and early-stopping state. Shuffling and
augmentation draw from a numpy generator seeded by (seed, epoch), which needs no saved state.
A resumed run thus replays exactly what an uninterrupted run would have done; on CPU with deterministic algorithms the final weights are bit-identical.
"""

from __future__ import annotations

import copy
import logging
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from hccer.dl.data import Samples, balanced_weights, epoch_plan, make_batch

log = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    epochs: int = 50
    batch_size: int = 8
    lr: float = 1e-4
    weight_decay: float = 0.0
    optimizer: str = "adam"                # adam | adamw | sgd (momentum below)
    momentum: float = 0.9
    augment: str = "none"
    class_weights: str = "none"            # none | balanced
    joint_weights: tuple = (0.25, 0.25, 0.5)  # image, clinical, combined (Eq. 4)
    early_stopping: dict | None = None     # {patience, restore_best, monitor}
    amp: bool = True                        # used on CUDA only
    extra: dict = field(default_factory=dict)


def resolve_device(kind: str = "auto") -> torch.device:
    if kind == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if kind == "cuda" and not torch.cuda.is_available():
        from hccer.errors import ConfigError
        raise ConfigError("deep.device is 'cuda' but no CUDA device is visible")
    return torch.device(kind)


def set_determinism(device: torch.device) -> None:
    """Deterministic kernels on CPU (all ops used here have them); on CUDA cuDNN autotuning is
    switched off but atomics in some backward kernels stay non-deterministic."""
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True)
    else:
        torch.backends.cudnn.benchmark = False


def job_device(kind: str = "auto", threads: int | None = None) -> torch.device:
    """What every job does first: torch CPU threads, the device, deterministic kernels."""
    if threads:
        torch.set_num_threads(int(threads))
    dev = resolve_device(kind)
    set_determinism(dev)
    return dev


OPTIMIZERS = ("adam", "adamw", "sgd")
MONITORS = ("val_loss", "val_auc")


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    params, lr, wd = model.parameters(), cfg.lr, cfg.weight_decay
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=wd)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=wd)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=cfg.momentum, weight_decay=wd)
    raise ValueError(f"optimizer must be one of {OPTIMIZERS}, not {cfg.optimizer!r}")


def stop_key(rec: dict, monitor: str) -> tuple:
    """Smaller is better. val_auc: higher AUC first, ties (frequent on small validation sets)
    broken by the lower loss; val_loss: the loss alone."""
    if monitor == "val_auc":
        auc_ = rec["val_auc"]
        return (-auc_ if np.isfinite(auc_) else float("inf"), rec["val_loss"])
    return (rec["val_loss"],)


def _chunks(plan: list, size: int) -> list[list]:
    batches = [plan[i:i + size] for i in range(0, len(plan), size)]
    # a batch of one breaks batch norm in training mode: fold it into the previous batch
    if len(batches) > 1 and len(batches[-1]) == 1:
        batches[-2] += batches.pop()
    return batches


def auc(scores, labels) -> float:
    from hccer.stats.roc import auc as _auc

    labels = np.asarray(labels).astype(int)
    if labels.min() == labels.max():
        return float("nan")
    return float(_auc(np.asarray(scores, float), labels))


def compute_loss(out: dict, y: torch.Tensor, weight: torch.Tensor | None,
                 joint: tuple) -> torch.Tensor:
    ce = nn.functional.cross_entropy
    loss = ce(out["logits"].float(), y, weight=weight)
    if "aux_image" in out:
        wi, wc, wf = joint
        loss = (wi * ce(out["aux_image"].float(), y, weight=weight)
                + wc * ce(out["aux_clinical"].float(), y, weight=weight) + wf * loss)
    return loss


def autocast(device: torch.device, enabled: bool):
    """Mixed precision on CUDA (bf16 where supported); a disabled context on the CPU."""
    if device.type != "cuda" or not enabled:
        return torch.autocast("cpu", enabled=False)
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.autocast("cuda", dtype=dtype)


@torch.no_grad()
def predict(model: nn.Module, samples: Samples, clinical: np.ndarray | None,
            device: torch.device, batch_size: int = 16, amp: bool = True) -> np.ndarray:
    """P(label 1) per sample, model in eval mode."""
    model.eval()
    probs = []
    for start in range(0, len(samples.x), batch_size):
        sl = slice(start, start + batch_size)
        x = torch.from_numpy(samples.x[sl]).to(device)
        c = (torch.from_numpy(clinical[samples.patient_index[sl]]).to(device)
             if clinical is not None else None)
        with autocast(device, amp):
            logits = model(x, c)["logits"].float()
        probs.append(torch.softmax(logits, dim=1)[:, 1].cpu().numpy())
    return np.concatenate(probs) if probs else np.zeros(0)


def patient_scores(sample_probs: np.ndarray, patient_index: np.ndarray, n: int) -> np.ndarray:
    """Patient score = mean of its samples' probabilities (the stated aggregation rule)."""
    sums = np.bincount(patient_index, weights=sample_probs, minlength=n)
    counts = np.bincount(patient_index, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts


def _save(path: Path, state: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def fit(model: nn.Module, train: Samples, labels: np.ndarray, cfg: TrainConfig, *,
        seed: int, device: torch.device, clinical: np.ndarray | None = None,
        val: Samples | None = None, val_labels: np.ndarray | None = None,
        val_clinical: np.ndarray | None = None,
        resume: str | Path | None = None, tag: str = "") -> list[dict]:
    """Train `model` in place; returns the per-epoch history.

    `labels`/`clinical` and `val_labels`/`val_clinical` are per patient (indexed like
    `train.patients` / `val.patients`); each sample takes its patient's label. `resume`, when
    given, is read if present and rewritten after every epoch.
    """
    model.to(device)
    opt = make_optimizer(model, cfg)
    y_all = np.asarray(labels, np.int64)[train.patient_index]
    weight = (torch.tensor(balanced_weights(y_all), dtype=torch.float32, device=device)
              if cfg.class_weights == "balanced" else None)
    use_amp = cfg.amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and not torch.cuda.is_bf16_supported())
    history: list[dict] = []
    es = cfg.early_stopping
    monitor = _monitor(es, val, val_labels, tag)
    start_epoch, best, best_state, bad = 0, (float("inf"),), None, 0
    resume = Path(resume) if resume else None
    if resume is not None and resume.is_file():
        start_epoch, history, best, best_state, bad = _load_resume(resume, model, opt, device)
        log.info("%s resumed from %s after epoch %d", tag, resume, start_epoch)
    for epoch in range(start_epoch, cfg.epochs):
        if es and bad >= int(es.get("patience", 20)):
            break
        t0 = time.perf_counter()
        rng = np.random.default_rng([seed, epoch])
        train_loss, train_auc, n_seen = _train_epoch(model, opt, scaler, train, y_all, clinical,
                                                     weight, cfg, device, use_amp, rng)
        rec = {"epoch": epoch + 1, "train_loss": train_loss, "train_auc": train_auc,
               "val_loss": float("nan"), "val_auc": float("nan")}
        if val is not None:
            rec["val_loss"], rec["val_auc"] = _validate(model, val, val_labels, val_clinical,
                                                        device, cfg.batch_size, use_amp)
            if es:
                key = stop_key(rec, monitor)
                if key < best:
                    best, bad = key, 0
                    best_state = copy.deepcopy(model.state_dict())
                else:
                    bad += 1
        rec["seconds"] = time.perf_counter() - t0
        rec["samples_per_s"] = n_seen / rec["seconds"] if rec["seconds"] > 0 else float("nan")
        history.append(rec)
        log.info("%s epoch %d/%d train loss %.4f AUC %.3f | val loss %.4f AUC %.3f | %.1f s, "
                 "%.1f samples/s", tag, epoch + 1, cfg.epochs, rec["train_loss"],
                 rec["train_auc"], rec["val_loss"], rec["val_auc"], rec["seconds"],
                 rec["samples_per_s"])
        if resume is not None:
            _save(resume, _resume_state(model, opt, epoch + 1, history, best, best_state, bad,
                                        device))
    if es and es.get("restore_best", True) and best_state is not None:
        model.load_state_dict(best_state)
        log.info("%s restored the weights of the best validation %s (%s)", tag, monitor,
                 ", ".join(f"{v:.4f}" for v in best))
    return history


def _monitor(es: dict | None, val: Samples | None, val_labels, tag: str) -> str:
    """The early-stopping criterion, checked before any training."""
    monitor = (es or {}).get("monitor", "val_loss")
    if monitor not in MONITORS:
        raise ValueError(f"early_stopping.monitor must be one of {MONITORS}, not {monitor!r}")
    if es and monitor == "val_auc" and val is not None and len(set(np.asarray(val_labels))) < 2:
        from hccer.errors import InputError
        raise InputError(f"{tag}: early stopping on val_auc needs both classes among the "
                         "validation patients, and they are all of one class; use more "
                         "patients, fewer split.inner_folds, or early_stopping.monitor: val_loss")
    return monitor


def _train_epoch(model, opt, scaler, train: Samples, y_all: np.ndarray, clinical, weight,
                 cfg: TrainConfig, device: torch.device, use_amp: bool,
                 rng: np.random.Generator) -> tuple[float, float, int]:
    """One pass over the epoch's plan; returns (mean loss, AUC over samples, samples seen)."""
    plan = epoch_plan(len(train.x), cfg.augment, rng)
    model.train()
    total, n_seen, scores, ys = 0.0, 0, [], []
    for chunk in _chunks(plan, cfg.batch_size):
        idx = np.array([i for i, _ in chunk])
        x = torch.from_numpy(make_batch(train, chunk, cfg.augment, rng)).to(device)
        y = torch.from_numpy(y_all[idx]).to(device)
        c = (torch.from_numpy(clinical[train.patient_index[idx]]).to(device)
             if clinical is not None else None)
        opt.zero_grad(set_to_none=True)
        with autocast(device, use_amp):
            out = model(x, c)
        loss = compute_loss(out, y, weight, cfg.joint_weights)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        total += float(loss.detach()) * len(idx)
        n_seen += len(idx)
        scores.append(torch.softmax(out["logits"].detach().float(), 1)[:, 1].cpu().numpy())
        ys.append(y_all[idx])
    return (total / max(n_seen, 1), auc(np.concatenate(scores), np.concatenate(ys)), n_seen)


def _validate(model, val: Samples, val_labels, val_clinical, device: torch.device,
              batch_size: int, use_amp: bool) -> tuple[float, float]:
    """(per-sample log loss, patient-level AUC) on the validation set."""
    p = predict(model, val, val_clinical, device, batch_size, use_amp)
    vy = np.asarray(val_labels)[val.patient_index]
    eps = 1e-7
    loss = float(-np.mean(vy * np.log(p + eps) + (1 - vy) * np.log(1 - p + eps)))
    return loss, auc(patient_scores(p, val.patient_index, len(val.patients)), val_labels)


def _load_resume(path: Path, model, opt, device: torch.device) -> tuple:
    """Restore model, optimizer and RNG states from a resume checkpoint; returns
    (epochs done, history, best key, best state, bad epochs)."""
    ck = torch.load(path, map_location=device, weights_only=False)
    model.load_state_dict(ck["model"])
    opt.load_state_dict(ck["optimizer"])
    torch.set_rng_state(ck["rng"]["torch"])
    random.setstate(ck["rng"]["python"])
    if device.type == "cuda" and ck["rng"].get("cuda") is not None:
        torch.cuda.set_rng_state_all(ck["rng"]["cuda"])
    return ck["epoch"], ck["history"], ck["best"], ck["best_state"], ck["bad"]


def _resume_state(model, opt, epoch: int, history: list[dict], best: tuple, best_state, bad: int,
                  device: torch.device) -> dict:
    """Everything a resumed run needs to replay the remaining epochs exactly."""
    return {"model": model.state_dict(), "optimizer": opt.state_dict(),
            "epoch": epoch, "history": history, "best": best,
            "best_state": best_state, "bad": bad,
            "rng": {"torch": torch.get_rng_state(),
                    "python": random.getstate(),
                    "cuda": (torch.cuda.get_rng_state_all()
                             if device.type == "cuda" else None)}}
