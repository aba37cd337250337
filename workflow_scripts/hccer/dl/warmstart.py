"""Backbone warm start from the best of several trained experiments (`init_from`).

DLRCR (spec seed-002 §6) fine-tunes "the best-performing ResNet" jointly with tabular inputs.
"Best" is decided on training data only: each candidate job of the same fold and seed
records `inner_val_auc`, the AUC of its early-stopped weights on the inner validation
patients (training cohort only; the test cohort is never looked at). The highest wins; ties
go to the candidate listed first. A single-entry `init_from` names the backbone outright.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from hccer.errors import ConfigError, InputError

log = logging.getLogger(__name__)
SHAPE_KEYS = ("backbone", "width", "normalise")   # what fixes the trunk's architecture


@dataclass
class Choice:
    experiment: str
    model_dir: Path
    config: dict                 # the chosen job's resolved experiment settings
    table: list[dict]            # every candidate with its criterion value

    def record(self) -> dict:
        return {"experiment": self.experiment, "criterion": "inner_val_auc",
                "candidates": self.table}


def choose(cfg: dict, model_dirs: list[str | Path], fold: int, seed: int) -> Choice:
    """The candidate of `cfg['init_from']` with the best inner validation AUC, read from the
    summaries in `model_dirs` (the candidates' job folders of this fold and seed)."""
    from hccer.jsonio import read_json

    names = list(cfg.get("init_from") or [])
    by_name = {}
    for d in map(Path, model_dirs):
        path = d / "summary.json"
        if not path.is_file():
            raise InputError("candidate job has no summary.json", file=path)
        s = read_json(path)
        if (int(s["fold"]), int(s["seed"])) != (int(fold), int(seed)):
            raise InputError(f"candidate is fold {s['fold']} seed {s['seed']}, not fold "
                             f"{fold} seed {seed}", file=path)
        by_name[s["experiment"]] = (d, s)
    missing = [n for n in names if n not in by_name]
    if missing:
        raise ConfigError(f"deep: experiment {cfg['name']} starts from {missing}, but no "
                          "trained job of those was given")
    table = [{"experiment": n, "inner_val_auc": by_name[n][1].get("inner_val_auc")}
             for n in names]
    if len(names) > 1:
        unscored = [t["experiment"] for t in table if t["inner_val_auc"] is None]
        if unscored:
            raise ConfigError(f"deep: candidates {unscored} of {cfg['name']} have no inner "
                              "validation AUC (train them with ensemble inner_holdout or "
                              "inner_folds), so no best can be chosen on training data")
    best = max(range(len(names)), key=lambda i: (table[i]["inner_val_auc"] or 0.0, -i))
    d, s = by_name[names[best]]
    log.info("%s starts from %s (inner validation AUC %s; candidates %s)", cfg["name"],
             names[best], table[best]["inner_val_auc"], table)
    return Choice(names[best], d, s["config"], table)


def adopt(cfg: dict, choice: Choice) -> dict:
    """`cfg` with the chosen candidate's trunk architecture (so its weights fit)."""
    if cfg.get("pretrained"):
        raise ConfigError(f"deep: experiment {cfg['name']} sets both pretrained and init_from")
    if choice.config["network"] != cfg["network"]:
        raise ConfigError(f"deep: {cfg['name']} ({cfg['network']}) cannot start from "
                          f"{choice.experiment} ({choice.config['network']})")
    net, theirs = dict(cfg.get("net") or {}), choice.config.get("net") or {}
    for k in SHAPE_KEYS:
        if k in theirs:
            net[k] = theirs[k]
        else:
            net.pop(k, None)
    return {**cfg, "net": net}


def trunk_prefixes(model) -> list[str]:
    trunks = model.trunks() if hasattr(model, "trunks") else []
    if not trunks:
        raise ConfigError(f"deep: network {type(model).__name__} has no trunk to warm-start")
    return [f"{name}." for name, mod in model.named_modules()
            if any(mod is t for t in trunks)]


def load_trunk(model, choice: Choice, member: int) -> None:
    """Copy the chosen job's trunk weights (its member `member`, or its only member) into
    `model`'s trunk(s); the head stays freshly initialised."""
    from hccer.dl.checkpoint import load_model, read_checkpoint

    path = choice.model_dir / "checkpoint.pt"
    if not path.is_file():
        raise InputError("candidate job has no checkpoint.pt", file=path)
    ck = read_checkpoint(path)
    n = len(ck["members"])
    if n != 1 and member >= n:
        raise ConfigError(f"deep: {choice.experiment} has {n} members; member "
                          f"{member} cannot start from it")
    theirs = load_model(ck, 0 if n == 1 else member)[0].state_dict()
    own = model.state_dict()
    take = {k: v for k, v in theirs.items()
            if any(k.startswith(p) for p in trunk_prefixes(model))}
    wanted = {k for k in own if any(k.startswith(p) for p in trunk_prefixes(model))}
    wrong = [k for k in wanted if k not in take or tuple(take[k].shape) != tuple(own[k].shape)]
    if wrong:
        raise InputError(f"trunk weights do not fit ({wrong[:3]})", file=path)
    model.load_state_dict(take, strict=False)
