"""The paper spec: a preset's `reproduce` block checked against its model tracks, plus the
statistics options, in one dict that every table and figure job reads.

Each item maps one table or figure of the paper to a builder `kind`. The schema closes the key
names; this module checks what a schema cannot: which keys a kind takes, unique ids, and that
every model an item names is one some track of the study can write. The model catalogue says,
for each such name, whether this run writes it or why not ("add X to deep.run"), so a table
shows a "not run" row instead of leaving the model out.
"""

from __future__ import annotations

from copy import deepcopy

from hccer.errors import ConfigError

# kind -> (section, rule group, keys beyond id/title/kind/note)
KINDS: dict[str, tuple[str, str, frozenset]] = {
    "table1": (
        "tables",
        "cohort",
        frozenset({"variables", "blocks", "rule", "continuous", "percent"}),
    ),
    "fold_distribution": ("tables", "cohort", frozenset({"unit"})),
    "odds_ratios": ("tables", "cohort", frozenset({"labels"})),
    "scan_characteristics": ("tables", "cohort", frozenset({"phase"})),
    "fold_metrics": ("tables", "models", frozenset({"models", "columns", "layout", "metrics"})),
    "holdout_metrics": (
        "tables",
        "models",
        frozenset(
            {"models", "columns", "cohorts", "metrics", "threshold", "youden_from", "auc_ci"}
        ),
    ),
    "km_summary": (
        "tables",
        "models",
        frozenset({"models", "cohorts", "threshold", "youden_from", "time_unit"}),
    ),
    "delong_matrix": ("tables", "models", frozenset({"models", "cohorts"})),
    "model_summary": ("tables", "networks", frozenset({"experiments", "depth", "within"})),
    "roc": ("figures", "models", frozenset({"panels", "legend"})),
    "calibration": ("figures", "models", frozenset({"panels"})),
    "dca": ("figures", "models", frozenset({"panels"})),
    "km": ("figures", "models", frozenset({"panels", "threshold", "youden_from", "time_unit"})),
    "confusion": ("figures", "models", frozenset({"panels", "threshold", "youden_from"})),
    "flow": ("figures", "cohort", frozenset()),
    "gradcam": (
        "figures",
        "images",
        frozenset({"models", "cohort", "n_patients", "select", "phases"}),
    ),
    "crops": ("figures", "images",
              frozenset({"arrays", "phases", "composite", "context", "n_patients"})),
    "not_reproduced": ("both", "cohort", frozenset({"reason"})),
}
COMMON = frozenset({"id", "title", "kind", "note"})
SECTIONS = ("tables", "figures")

# Statistics options (config `stats:`); the config block overrides these key by key.
STATS_DEFAULTS = {
    "level": 0.95,  # confidence level of every interval
    "auc_ci": "delong",  # delong | bootstrap | binomial
    "n_boot": 2000,  # bootstrap resamples (auc_ci: bootstrap)
    "seed": 1,  # bootstrap random seed
    "fold_threshold": 0.5,  # CV accuracy: score >= this is ER (the papers' argmax)
    "calibration_groups": 10,  # quantile bins of calibration curves (panel may override)
    "dca_thresholds": [0.01, 0.99, 0.01],  # start, stop, step of decision curves
}


def stats_options(config_stats: dict | None) -> dict:
    out = dict(STATS_DEFAULTS)
    out.update(config_stats or {})
    return out


def model_catalogue(study: dict) -> dict[str, str | None]:
    """Every ledger model name a track of this study can write -> None when this run writes
    it, else why not (the text a table prints in its place)."""
    from hccer.dl import experiments as dlx

    out: dict[str, str | None] = {}
    deep = study.get("deep") or {}
    if deep:
        run = set(dlx.run_list(deep))
        for name in deep.get("experiments") or {}:
            out[name] = None if name in run else f"not run (add {name} to deep.run)"
        for name in deep.get("second_reader") or []:
            out[f"{name}_r2"] = (None if name in run and study.get("second_reader") else
                                 f"not run ({name} in deep.run and second_reader: true)")
    clin = study.get("clinical")
    if clin:
        name = clin.get("name", "clinical")
        out[name] = out[f"{name}_perm"] = None
        for comp in (clin.get("staging") or {}).get("comparators", []):
            out[comp] = (
                "not run (ERASL-pre coefficients are not available)"
                if comp == "erasl_pre"
                else None
            )
    rad, classical = study.get("radiomics"), study.get("classical")
    if rad and classical:
        prefix = classical.get("name", "radiomics")
        for clf in classical["classifiers"]:
            out[f"{prefix}_{clf}"] = None
        out[f"{prefix}_{classical['classifiers'][0]}_perm"] = None
        if classical.get("combined") and clin:
            out[classical["combined"]["name"]] = None
    if study.get("vit"):
        from hccer.ivimvit import config as ivim_config

        for name in ivim_config.ledger_models(study):
            out[name] = None
    return out


def model_entries(item: dict) -> list[dict]:
    """An item's models as {model, label, cells} (a bare name is a model with no label)."""
    out = []
    for m in item.get("models") or []:
        out.append({"model": m} if isinstance(m, str) else dict(m))
    return out


def referenced_models(item: dict) -> list[str]:
    names = [m["model"] for m in model_entries(item)]
    for panel in item.get("panels") or []:
        names += list(panel.get("models") or [])
    return names


def _check_item(item: dict, section: str, study: dict, catalogue: dict) -> None:
    where = f"reproduce.{section} item {item.get('id')!r}"
    kind = item["kind"]
    if kind not in KINDS:
        raise ConfigError(f"{where}: unknown kind {kind!r}; kinds: {sorted(KINDS)}")
    home, _, keys = KINDS[kind]
    if home not in (section, "both"):
        raise ConfigError(f"{where}: kind {kind} belongs under reproduce.{home}")
    extra = sorted(set(item) - COMMON - keys)
    if extra:
        raise ConfigError(
            f"{where}: kind {kind} takes no key(s) {extra}; it takes "
            f"{sorted(keys) or 'none beyond id, title, note'}"
        )
    for name in referenced_models(item):
        if name not in catalogue:
            raise ConfigError(
                f"{where}: no track of study {study['key']} writes a model "
                f"named {name!r}; known: {sorted(catalogue)}"
            )
    if "threshold" in item and "youden_from" in item:
        raise ConfigError(f"{where}: give a fixed threshold or youden_from, not both")
    split = study["split"]["method"]
    cohorts = list(item.get("cohorts") or []) + [
        p["cohort"] for p in item.get("panels") or [] if "cohort" in p
    ]
    cohorts += [c for c in (item.get("cohort"), item.get("youden_from")) if c and c != "own"]
    if item.get("youden_from") == "own" and kind != "holdout_metrics":
        raise ConfigError(f"{where}: youden_from: own (a cut-off per cohort) is for "
                          "holdout_metrics tables")
    if split == "kfold" and any(c != "test" for c in cohorts):
        raise ConfigError(
            f"{where}: a k-fold study scores out-of-fold patients only (cohort "
            f"test); got {sorted(set(cohorts))}"
        )
    if kind == "model_summary":
        defined = (study.get("deep") or {}).get("experiments") or {}
        missing = [e for e in item["experiments"] if e not in defined]
        if missing:
            raise ConfigError(
                f"{where}: experiment(s) {missing} are not defined under deep.experiments"
            )
    if kind in ("table1",):
        for b in item["blocks"]:
            if b["by"] == "cohort" and split == "kfold":
                raise ConfigError(
                    f"{where}: a k-fold study has no training/test cohorts to compare (use by: er)"
                )


def paper_spec(study: dict, config_stats: dict | None = None) -> dict:
    """The study's paper spec (ConfigError on a bad `reproduce` block)."""
    block = deepcopy(study.get("reproduce") or {})
    catalogue = model_catalogue(study)
    seen: set[str] = set()
    for section in SECTIONS:
        for item in block.get(section) or []:
            if item["id"] in seen:
                raise ConfigError(f"reproduce: item id {item['id']!r} is used twice")
            seen.add(item["id"])
            _check_item(item, section, study, catalogue)
    split = study["split"]
    return {
        "study": study["key"],
        "title": study.get("title", ""),
        "paper": study.get("paper", {}),
        "split": {
            "method": split["method"],
            "n_folds": split.get("n_folds"),
            "inner_folds": split.get("inner_folds"),
        },
        "horizon_days": study["outcome"]["horizon_days"],
        "crop_mode": study["crop"]["mode"],
        "phases": list(study.get("model_phases") or study["phases"]),
        "stats": stats_options(config_stats),
        "labels": dict(block.get("labels") or {}),
        "tables": block.get("tables") or [],
        "figures": block.get("figures") or [],
        "models": catalogue,
        "inputs": _input_arrays(study),
    }


def _input_arrays(study: dict) -> dict[str, str]:
    """Crop array each deep experiment reads (Grad-CAM figures overlay on it)."""
    from hccer.dl import experiments as dlx

    deep = study.get("deep") or {}
    return {
        name: (dlx.resolve(deep, name).get("input") or {}).get("array", "x")
        for name in deep.get("experiments") or {}
    }


def items(spec: dict, section: str, group: str | None = None) -> list[dict]:
    return [i for i in spec[section] if group is None or KINDS[i["kind"]][1] == group]


def find_item(spec: dict, item_id: str) -> tuple[str, dict]:
    for section in SECTIONS:
        for item in spec[section]:
            if item["id"] == item_id:
                return section, item
    raise ConfigError(
        f"no reproduce item {item_id!r}; items: {[i['id'] for s in SECTIONS for i in spec[s]]}"
    )


def label(spec: dict, model: str, entry: dict | None = None) -> str:
    """Display name: the item's own label, else reproduce.labels, else the ledger name."""
    if entry and entry.get("label"):
        return entry["label"]
    return spec.get("labels", {}).get(model, model)


def write_spec(path: str, spec: dict, log_path: str) -> None:
    """Write the paper spec every paper job reads (rule write_paper_spec)."""
    import yaml

    from hccer.jsonio import write_text

    write_text(path, yaml.safe_dump(spec, sort_keys=False, allow_unicode=True))
    write_text(
        log_path,
        f"paper spec of {spec['study']}: {len(spec['tables'])} tables, "
        f"{len(spec['figures'])} figures\n",
    )
