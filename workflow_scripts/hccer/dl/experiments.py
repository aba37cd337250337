"""Experiments are config entries: `deep.experiments.<id>` on top of `deep.defaults`.

An entry may name a `base` experiment and change only what differs (the ablations of a paper
table). Resolution order: defaults <- base chain <- entry. The resolved dict has the training
settings, `network` (a registry name) and `net` (that builder's keyword arguments).
"""

from __future__ import annotations

from collections.abc import Mapping

from hccer.config import deep_merge
from hccer.errors import ConfigError

BUILTIN_DEFAULTS = {
    "epochs": 50, "batch_size": 8, "lr": 1e-4, "weight_decay": 0.0, "optimizer": "adam",
    "momentum": 0.9, "augment": "none", "tabular": [], "init_from": [],
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
    """The experiments the workflow trains (`deep.run`; every defined one when absent), plus
    the `init_from` candidates they start from (trained first, also written to the ledger)."""
    names = deep.get("run")
    if names is None:
        names = sorted(deep.get("experiments") or {})
    out: list[str] = []

    def add(n, path=()):
        if n in path:
            raise ConfigError(f"deep: init_from loops: {' -> '.join([*path, n])}")
        cfg = resolve(deep, n)
        for dep in cfg.get("init_from") or []:
            add(dep, (*path, n))
        if n not in out:
            out.append(n)

    for n in names:
        add(n)
    return out


def jobs(study: Mapping) -> list[tuple[str, int, int]]:
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


TABULAR_INPUTS = ("radiomics_features", "radiomics_record", "clinical_record")


def extra_inputs(deep: dict, experiment: str, fold, seed, study_root: str,
                 tabular_paths: dict) -> dict:
    """The inputs a job reads beyond crops and split: the classical track's outputs for
    tabular experiments (`tabular_paths`: patterns with `{fold}`, None where the study makes
    none) and the summaries and checkpoints of the `init_from` candidates of the same fold
    and seed. Empty for plain image experiments, so their DAG does not change."""
    cfg = resolve(deep, experiment)
    out: dict = {}
    need = {"radiomics": ("radiomics_features", "radiomics_record"),
            "clinical": ("clinical_record",)}
    for src in cfg.get("tabular") or []:
        for key in need.get(src, ()):
            pattern = tabular_paths.get(key)
            if pattern is None:
                raise ConfigError(f"deep: experiment {experiment} reads {src} inputs, but the "
                                  f"study makes no {key.replace('_', ' ')} (add its "
                                  f"{'radiomics and classical' if src == 'radiomics' else src}"
                                  " block)")
            out[key] = pattern.format(fold=fold)
    dirs = [model_dir(study_root, c, fold, seed) for c in cfg.get("init_from") or []]
    if dirs:
        out["init_summaries"] = [f"{d}/summary.json" for d in dirs]
        out["init_checkpoints"] = [f"{d}/checkpoint.pt" for d in dirs]
    return out


def extra_args(inputs: dict) -> str:
    """`hccer train` options for `extra_inputs`."""
    args = [f"--{k.replace('_', '-')} {inputs[k]}" for k in TABULAR_INPUTS if k in inputs]
    if inputs.get("init_summaries"):
        dirs = [s.rsplit("/", 1)[0] for s in inputs["init_summaries"]]
        args.append("--init-from " + " ".join(dirs))
    return " ".join(args)
