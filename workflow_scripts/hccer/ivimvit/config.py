"""The preset's `vit` block (seed-003 §5): which `deep.experiments` are the b-value and map
feature extractors (and their label-permutation twins), checked once, for the rules and jobs;
the split's sides and the training labels every step of the pipeline shares.
"""

from __future__ import annotations

from hccer.errors import ConfigError

ROLES = ("bdl", "mdl")
# which crop file holds an experiment's `input.array`
ARRAY_CROPS = {"x": "bbox3d", "maps": "ivimmaps"}
MODEL_NAMES = {"bdl": "vit_bdl", "mdl": "vit_mdl", "fdl": "vit_fdl"}
DEFAULTS = {"correlation": 0.8, "k": 10, "C_grid": {"low": 1e-3, "high": 100.0, "n": 12},
            "combined": {"name": "combined", "Cs": 50}, "permutation": None,
            "explain": {"b_value": 1000, "cohort": "test"}}


def block(study: dict) -> dict:
    """The `vit` block with defaults filled in and its cross-references checked."""
    from hccer.config import deep_merge
    from hccer.dl import experiments

    raw = study.get("vit")
    if not raw:
        raise ConfigError(f"study {study.get('key')} has no `vit` block")
    if study.get("modality") != "DWI" or study["crop"]["mode"] != "bbox3d":
        raise ConfigError("vit: the IVIM ViT pipeline needs a DWI study with bbox3d crops")
    if int(study["split"].get("inner_folds", 0)) < 2 or study["split"]["method"] == "kfold":
        raise ConfigError("vit: the ViTs train per inner fold of a hold-out training cohort; "
                          "set split.method to a hold-out and split.inner_folds >= 2")
    cfg = deep_merge(DEFAULTS, raw)
    deep = study.get("deep") or {}
    for key, perm in (("extractors", False), ("permutation", True)):
        roles = cfg.get(key)
        if roles is None:
            continue
        if sorted(roles) != sorted(ROLES):
            raise ConfigError(f"vit.{key} must name one experiment for each of {ROLES}")
        for role, name in roles.items():
            exp = experiments.resolve(deep, name)
            array = (exp.get("input") or {}).get("array", "x")
            want = "maps" if role == "mdl" else "x"
            if array != want:
                raise ConfigError(f"vit.{key}.{role}: experiment {name} reads array {array!r}; "
                                  f"the {role} ViT reads {want!r}")
            if bool(exp["permute_labels"]) is not perm:
                raise ConfigError(f"vit.{key}.{role}: experiment {name} must "
                                  f"{'' if perm else 'not '}set permute_labels")
            if exp["network"] != "vit3d":
                raise ConfigError(f"vit.{key}.{role}: experiment {name} is a {exp['network']}, "
                                  "not a vit3d")
    if not 0 < float(cfg["correlation"]) <= 1:
        raise ConfigError("vit.correlation must be in (0, 1]")
    return cfg


def experiments_of(cfg: dict) -> list[str]:
    """Every ViT experiment the pipeline trains (extractors, then permutation twins)."""
    names = list(cfg["extractors"].values())
    names += list((cfg.get("permutation") or {}).values())
    return list(dict.fromkeys(names))


def crop_mode(exp: dict) -> str:
    array = (exp.get("input") or {}).get("array", "x")
    if array not in ARRAY_CROPS:
        raise ConfigError(f"deep: experiment {exp['name']} reads array {array!r}; the IVIM "
                          f"crops hold {sorted(ARRAY_CROPS)}")
    return ARRAY_CROPS[array]


def outer_sides(split: dict) -> tuple[list[str], list[str]]:
    """Training and test cohorts of a hold-out folds.json."""
    if len(split["folds"]) != 1:
        raise ConfigError("vit: folds.json has several outer folds; the ViT pipeline needs a "
                          "hold-out split")
    f = split["folds"][0]
    return sorted(f["train"]), sorted(f["test"])


def inner_fold(split: dict, k: int) -> tuple[list[str], list[str]]:
    for f in split.get("inner_folds") or []:
        if int(f["fold"]) == int(k):
            return sorted(f["train"]), sorted(f["validation"])
    raise ConfigError(f"inner fold {k} is not in folds.json (set split.inner_folds)")


def training_labels(split: dict, permute: bool, seed: int) -> dict[str, int]:
    """ER label of every training patient; for the permutation control shuffled within blocks,
    each inner fold's validation patients one block (`dl.job.permuted_training_labels`), so
    every inner validation set keeps its class counts. One permutation per pipeline seed, shared
    by every inner-fold job and the models fitted on the features, so the control never sees a
    true training label."""
    from hccer.dl.job import permuted_training_labels

    train, _ = outer_sides(split)
    er = {r["patient"]: int(r["er"]) for r in split["assignment"]}
    if not permute:
        return {p: er[p] for p in train}
    folds = [(f["train"], f["validation"]) for f in split.get("inner_folds") or []]
    return permuted_training_labels(train, er, folds, seed)


def ledger_models(study: dict) -> list[str]:
    """The ledger model names the pipeline writes for this study (empty without a `vit`
    block): for a catalogue of what a run scores. The extractor experiments themselves write no
    ledger rows."""
    if not study.get("vit"):
        return []
    cfg = block(study)
    names = [*MODEL_NAMES.values()]
    if (study.get("clinical") or {}).get("variables"):
        names.append(cfg["combined"]["name"])
    if cfg.get("permutation"):
        names += [f"{n}_perm" for n in MODEL_NAMES.values()]
    return names
