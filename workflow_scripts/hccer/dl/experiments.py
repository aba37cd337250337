"""Experiments are config entries: `deep.experiments.<id>` on top of `deep.defaults`.

An entry may name a `base` experiment and change only what differs (the ablations of a paper
table). Resolution order: defaults <- base chain <- entry. The resolved dict has the training
settings, `network` (a registry name) and `net` (that builder's keyword arguments).
"""

from __future__ import annotations

from hccer.config import deep_merge
from hccer.errors import ConfigError

BUILTIN_DEFAULTS = {
    "epochs": 50, "batch_size": 8, "lr": 1e-4, "weight_decay": 0.0, "augment": "none",
    "class_weights": "none", "early_stopping": None, "ensemble": "none", "score_train": False,
    "permute_labels": False, "pretrained": None, "input": {"array": "x", "phases": None},
    "net": {}, "joint_weights": [0.25, 0.25, 0.5], "amp": True, "gradcam": False,
}


def resolve(deep: dict, name: str) -> dict:
    """The full settings of experiment `name` (ConfigError for unknown names or base loops)."""
    entries = deep.get("experiments") or {}
    if name not in entries:
        raise ConfigError(f"deep: experiment {name!r} is not defined under deep.experiments "
                          f"(defined: {sorted(entries)})")
    chain, cur = [], name
    while cur is not None:
        if cur in chain:
            raise ConfigError(f"deep: experiment base chain loops: {' -> '.join(chain + [cur])}")
        if cur not in entries:
            raise ConfigError(f"deep: experiment {chain[-1]!r} names unknown base {cur!r}")
        chain.append(cur)
        cur = entries[cur].get("base")
    cfg = deep_merge(BUILTIN_DEFAULTS, deep.get("defaults") or {})
    for entry in reversed(chain):
        cfg = deep_merge(cfg, {k: v for k, v in entries[entry].items() if k != "base"})
    if "network" not in cfg:
        raise ConfigError(f"deep: experiment {name!r} names no network")
    cfg["name"] = name
    return cfg


def run_list(deep: dict) -> list[str]:
    """The experiments the workflow trains (`deep.run`; every defined one when absent)."""
    names = deep.get("run")
    if names is None:
        names = sorted(deep.get("experiments") or {})
    for n in names:
        resolve(deep, n)
    return list(names)


def n_outer_folds(folds: dict) -> int:
    return len(folds["folds"])


def jobs(study: dict) -> list[tuple[str, int, int]]:
    """(experiment, outer fold, seed) of every training job the preset's `deep` block asks
    for; the number of outer folds follows from the split (k-fold: n_folds, hold-out: 1)."""
    deep = study.get("deep") or {}
    if not deep:
        return []
    split = study["split"]
    folds = range(int(split["n_folds"])) if split["method"] == "kfold" else [0]
    seeds = [int(s) for s in deep.get("seeds", [0])]
    return [(e, f, s) for e in run_list(deep) for f in folds for s in seeds]


def model_dir(study_root: str, experiment: str, fold, seed) -> str:
    """The folder of one job's checkpoint, history, curves, summary and Grad-CAM maps."""
    return f"{study_root}/models/{experiment}/fold-{fold}_seed-{seed}"


def ledger_part(experiment: str, fold, seed) -> str:
    return f"dl_{experiment}_fold-{fold}_seed-{seed}"
