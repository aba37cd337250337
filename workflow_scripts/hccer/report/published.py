"""The preset's `published:` block: checks a schema cannot express, and which ledger model a
study's blocks make (so a published model absent from the run gets a reason, never a gap)."""

from __future__ import annotations

from hccer.errors import ConfigError

# Metrics computed from one cohort's scores at the study's cut-off
THRESHOLD_METRICS = ("accuracy", "sensitivity", "specificity", "ppv", "npv")
P_METRICS = ("accuracy_p_nir", "auc_p_train_test", "auc_p_paired", "logrank_p", "hl_p")
# k-fold papers report mean ± SD over test folds; these are the metrics that aggregate that way
KFOLD_METRICS = ("auc",) + THRESHOLD_METRICS

METRIC_LABEL = {
    "auc": "AUC",
    "accuracy": "accuracy",
    "sensitivity": "sensitivity",
    "specificity": "specificity",
    "ppv": "PPV",
    "npv": "NPV",
    "accuracy_p_nir": "P (accuracy > NIR)",
    "auc_p_train_test": "P (AUC train vs test; unpaired DeLong, pROC's Welch t)",
    "auc_p_paired": "P (paired DeLong)",
    "logrank_p": "P (log-rank)",
    "hl_p": "P (Hosmer-Lemeshow)",
}


def check_published(study: dict) -> dict:
    """The study's `published` block after cross-field checks (ConfigError naming the item)."""
    block = study.get("published")
    if not block:
        raise ConfigError(
            f"study {study['key']}: no `published` block; add the paper's "
            "headline numbers to config/studies/<study>.yaml"
        )
    kfold = study["split"]["method"] == "kfold"
    thr = block.get("threshold") or {"method": "fixed", "value": 0.5}
    if thr["method"] == "fixed" and "value" not in thr:
        raise ConfigError(f"study {study['key']}: published.threshold.method fixed needs a value")
    if thr["method"] == "youden" and "from" not in thr:
        raise ConfigError(
            f"study {study['key']}: published.threshold.method youden needs "
            "`from: train` or `from: same`"
        )
    if kfold and thr["method"] != "fixed":
        raise ConfigError(
            f"study {study['key']}: a k-fold study compares per-fold metrics at a "
            "fixed cut-off (published.threshold.method: fixed)"
        )
    for i, it in enumerate(block["items"]):
        where = f"study {study['key']}: published.items.{i} ({it['item']}, {it['metric']})"
        if kfold and it["metric"] not in KFOLD_METRICS:
            raise ConfigError(
                f"{where}: a k-fold study reports mean ± SD over folds of "
                f"{', '.join(KFOLD_METRICS)} only"
            )
        if kfold and it["cohort"] != "test":
            raise ConfigError(f"{where}: k-fold results are out-of-fold, cohort must be test")
        if it["metric"] == "auc_p_paired" and not it.get("versus"):
            raise ConfigError(f"{where}: a paired DeLong P needs `versus: <model>`")
        if it.get("versus") and it["metric"] != "auc_p_paired":
            raise ConfigError(f"{where}: `versus` belongs to metric auc_p_paired only")
        if it.get("relation", "=") != "=" and it["metric"] not in P_METRICS:
            raise ConfigError(f"{where}: `relation` is for p-values only")
        if it.get("ci") and it["ci"][0] > it["ci"][1]:
            raise ConfigError(f"{where}: ci lower limit above the upper one")
    return block


def model_sources(study: dict) -> dict[str, str]:
    """Every ledger model name the preset's blocks produce, with the block that makes it."""
    from hccer.dl import experiments as dlx

    out: dict[str, str] = {}
    deep = study.get("deep") or {}
    if deep:
        run = dlx.run_list(deep)
        for name in run:
            out[name] = "deep.run"
        if study.get("second_reader"):
            for name in deep.get("second_reader") or []:
                if name in run:
                    out[f"{name}_r2"] = "deep.second_reader (second reader's crops)"
    clin = study.get("clinical")
    if clin:
        out[clin["name"]] = f"clinical ({clin['model']})"
        out[f"{clin['name']}_perm"] = "clinical (label-permutation control)"
        for comp in (clin.get("staging") or {}).get("comparators", []):
            out[comp] = "clinical.staging"
    classical = study.get("classical")
    if classical and study.get("radiomics"):
        for clf in classical["classifiers"]:
            out[f"{classical['name']}_{clf}"] = f"classical ({clf})"
        out[f"{classical['name']}_{classical['classifiers'][0]}_perm"] = (
            "classical (label-permutation control)"
        )
        if classical.get("combined") and clin:
            out[classical["combined"]["name"]] = "classical.combined"
    if study.get("vit"):
        from hccer.ivimvit import config as ivim_config

        vit = ivim_config.block(study)
        for role, name in ivim_config.MODEL_NAMES.items():
            out[name] = f"vit ({role} features)"
            if vit.get("permutation"):
                out[f"{name}_perm"] = "vit (label-permutation control)"
        out[vit["combined"]["name"]] = "vit.combined"
    return out


def absent_reason(model: str, study: dict, ledger_models: set[str] | None) -> str:
    """Why a published model has no ledger rows in this run."""
    deep = study.get("deep") or {}
    if ledger_models is None:
        return "this run wrote no prediction ledger (the preset defines no model track)"
    sources = model_sources(study)
    if model in sources:
        if sources[model] == "clinical.staging" and model == "erasl_pre":
            from hccer.classical.clinical import ERASL_MESSAGE

            return ERASL_MESSAGE
        return (
            f"the preset's {sources[model]} block makes it, but the ledger has no rows "
            "for it (see the model step's log)"
        )
    if model in (deep.get("experiments") or {}):
        return (
            "defined under deep.experiments but not listed in deep.run, so this run did "
            "not train it (add it to deep.run)"
        )
    return (
        "no model of this name in the preset's deep, classical or clinical blocks: this "
        "workflow does not build it yet"
    )


def write_published(path: str, block: dict, log_path: str) -> None:
    """The merged preset's published block, apart from study.yaml (which every step reads)."""
    import yaml

    from hccer.jsonio import write_text

    write_text(path, yaml.safe_dump(block, sort_keys=False, allow_unicode=True))
    write_text(log_path, f"published block with {len(block.get('items', []))} items written\n")
