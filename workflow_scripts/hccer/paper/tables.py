"""Table builders: `build(item, inputs) -> Table`, one per kind. Every statistic comes from
`hccer.stats`; this module selects ledger rows, applies the item's threshold rule and lays the
numbers out in the paper's rows and columns."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from hccer.errors import ConfigError, InputError
from hccer.paper.inputs import Inputs, NotRun
from hccer.paper.output import Table
from hccer.paper.spec import label, model_entries
from hccer.stats.table1 import format_p

COHORT_NAMES = {
    "train": "Training",
    "validation": "Validation",
    "test": "Test",
    "external": "External",
}
DAYS_PER_MONTH = 30.4375
TEST_NAMES = {
    "pearson": "Pearson χ² without continuity correction",
    "yates": "χ² with Yates' continuity correction",
    "fisher": "Fisher's exact test",
    "ttest": "Student's t test",
    "welch": "Welch's t test",
    "mwu": "Mann-Whitney U test",
    "anova": "one-way ANOVA",
    "kruskal": "Kruskal-Wallis test",
    "none": "no test (one level observed)",
}


# -- formatting ---------------------------------------------------------------------------------
def fmt_ci(value: float, low: float, high: float, digits: int = 3) -> str:
    return f"{value:.{digits}f} ({low:.{digits}f}–{high:.{digits}f})"


def fmt_prop(m: dict) -> str:
    if not m["n"]:
        return "—"
    return f"{100 * m['value']:.1f}% ({m['x']}/{m['n']})"


def fmt_num(v, digits: int = 3) -> str:
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


# -- thresholds and AUCs -------------------------------------------------------------------------
def threshold_for(item: dict, inp: Inputs, model: str,
                  cohort: str | None = None) -> tuple[float, str]:
    """The item's cut-off for `model`: fixed, or Youden's J on another cohort's rows, or
    (`youden_from: own`, MedCalc's default criterion) on the rows of `cohort` itself."""
    from hccer.stats.ledger import check_binary_outcome
    from hccer.stats.threshold import youden_threshold

    if item.get("youden_from") == "own":
        if cohort is None:
            raise ConfigError(f"{item['id']}: youden_from: own needs a cohort per row")
        src = inp.rows(model, cohort)
        try:
            check_binary_outcome(src, f"Youden cut-off of {model}")
        except InputError as exc:
            raise NotRun(f"no cut-off ({exc.reason})") from None
        thr = youden_threshold(src["score"], src["label"])["threshold"]
        return thr, "Youden's J within each cohort (MedCalc's default criterion)"
    if "youden_from" in item:
        src = inp.rows(model, item["youden_from"])
        try:
            check_binary_outcome(src, f"Youden cut-off of {model}")
        except InputError as exc:
            raise NotRun(f"no cut-off ({exc.reason})") from None
        thr = youden_threshold(src["score"], src["label"])["threshold"]
        return thr, f"Youden's J on the {COHORT_NAMES[item['youden_from']].lower()} cohort"
    thr = float(item.get("threshold", 0.5))
    return thr, f"fixed {thr:g}"


def auc_result(df: pd.DataFrame, stats: dict):
    """AUC with the configured CI, or None when the cohort has one outcome class."""
    from hccer.stats.roc import auc_with_ci

    y = df["label"].to_numpy()
    if y.sum() in (0, y.size):
        return None
    return auc_with_ci(
        df["score"], y, stats["auc_ci"], stats["level"], stats["n_boot"], stats["seed"]
    )


def ci_note(stats: dict) -> str:
    method = {
        "delong": "DeLong",
        "bootstrap": f"stratified bootstrap ({stats['n_boot']} resamples, seed {stats['seed']})",
        "binomial": "exact binomial",
    }[stats["auc_ci"]]
    return f"AUC {100 * stats['level']:.0f}% CI: {method}"


# -- table1 --------------------------------------------------------------------------------------
def _numeric(tab: pd.DataFrame, col: str) -> pd.Series:
    num = pd.to_numeric(tab[col], errors="coerce")
    bad = num.isna() & tab[col].notna()
    if bad.any():
        who = ", ".join(f"{p} ({tab[col][p]!r})" for p in list(tab.index[bad])[:5])
        raise InputError(f"clinical column '{col}' must be a number; patient(s) {who}")
    return num.astype(float)


def code_variable(tab: pd.DataFrame, var: dict) -> pd.Series:
    """One Table 1 row group: a continuous value, a cut-off (ge/gt/le/lt: level 0 when false,
    1 when true) or the raw categories in `levels` order (shown as `labels`). Missing values
    stay missing; an unlisted category raises InputError naming the patients."""
    col = var["column"]
    if col not in tab.columns:
        raise InputError(
            f"Table 1 variable {var['label']!r}: column '{col}' is not in the "
            f"outcome table (columns: {', '.join(map(str, tab.columns))})"
        )
    if var.get("continuous"):
        return _numeric(tab, col) * float(var.get("scale", 1.0))
    ops = [op for op in ("ge", "gt", "le", "lt") if op in var]
    shown = list(var.get("labels") or var["levels"])
    if ops:
        num = _numeric(tab, col)
        cut = float(var[ops[0]])
        flag = {"ge": num >= cut, "gt": num > cut, "le": num <= cut, "lt": num < cut}[ops[0]]
        if len(shown) != 2:
            raise ConfigError(f"Table 1 variable {var['label']!r}: a cut-off needs 2 levels")
        values = np.where(flag, shown[1], shown[0]).astype(object)
        values[num.isna().to_numpy()] = None
        return pd.Series(pd.Categorical(values, categories=shown), index=tab.index)
    levels = [str(v) for v in var["levels"]]
    if len(shown) != len(levels):
        raise ConfigError(
            f"Table 1 variable {var['label']!r}: {len(shown)} labels for {len(levels)} levels"
        )
    raw = tab[col].astype("string").str.strip()
    bad = raw.notna() & ~raw.isin(levels)
    if bad.any():
        who = ", ".join(f"{p} ({raw[p]!r})" for p in list(tab.index[bad])[:5])
        raise InputError(
            f"column '{col}' has values outside the Table 1 levels {levels}: patient(s) {who}"
        )
    mapped = raw.map(dict(zip(levels, shown, strict=True)))
    return pd.Series(pd.Categorical(mapped, categories=shown), index=tab.index)


def _groups(tab: pd.DataFrame, block: dict) -> tuple[pd.Series, list[str], list[str]]:
    """Group key per patient, keys in display order, display names."""
    if block["by"] == "er":
        key = tab["er"].map({1: "er", 0: "ner"})
        order = block.get("order") or ["ner", "er"]
        default = {"er": "ER", "ner": "NER"}
    else:
        key = tab["cohort"]
        order = block.get("order") or ["train", "test"]
        default = COHORT_NAMES
    names = block.get("names") or [default.get(k, k) for k in order]
    unknown = sorted(set(order) - ({"er", "ner"} if block["by"] == "er" else set(COHORT_NAMES)))
    if unknown or len(names) != len(order):
        raise ConfigError(
            f"Table 1 block by {block['by']}: order {order} / names {names} do not match"
        )
    return key, order, names


def table1(item: dict, inp: Inputs) -> Table:
    from hccer.stats.table1 import build_table1

    tab = inp.analysed()
    coded = pd.DataFrame(
        {v["label"]: code_variable(tab, v) for v in item["variables"]}, index=tab.index
    )
    variables = list(coded.columns)
    out, values, tests = None, [], {}
    for bi, block in enumerate(item["blocks"]):
        sub = tab if not block.get("within") else tab[tab["cohort"] == block["within"]]
        if sub.empty:
            raise InputError(
                f"Table 1 block {bi + 1}: no analysed patient in cohort {block['within']}"
            )
        key, order, names = _groups(sub, block)
        # prefixed: a group named like an output column of build_table1 ("test") must not
        # collide with it
        key, order = "g_" + key, [f"g_{k}" for k in order]
        df = coded.loc[sub.index].assign(_group=key)
        t = build_table1(
            df,
            "_group",
            variables,
            item.get("rule", "pearson"),
            item.get("continuous", "auto"),
            percent=item.get("percent", True),
        )
        n = key.value_counts()
        cols = {}
        if block.get("total"):
            cols["Total"] = f"Total (n = {len(sub)})"
        for k, name in zip(order, names, strict=True):
            if k not in t.columns:
                t[k] = "—"
            if not block.get("p_only"):  # e.g. a training-vs-validation P beside ER/NER blocks
                cols[k] = f"{name} (n = {int(n.get(k, 0))})"
        p_col = "P" if len(item["blocks"]) == 1 else f"P ({block.get('title', bi + 1)})"
        cols["p"] = p_col
        part = t[list(cols)].rename(columns=cols)
        if out is None:
            out = pd.concat(
                [
                    t[["variable", "level"]].rename(
                        columns={"variable": "Variable", "level": "Level"}
                    ),
                    part,
                ],
                axis=1,
            )
        else:
            out = pd.concat([out, part.set_index(out.index)], axis=1)
        for r in t[t["test"] != ""].itertuples():
            tests.setdefault(r.test, []).append(r.variable)
            values.append(
                {"block": bi, "variable": r.variable, "test": r.test, "p_value": r.p_value}
            )
    out["Variable"] = out["Variable"].where(out["Variable"] != out["Variable"].shift(), "")
    notes = (
        [
            "; ".join(
                f"{TEST_NAMES.get(k, k)}: {', '.join(dict.fromkeys(v))}" for k, v in tests.items()
            )
        ]
        if tests
        else []
    )
    return Table(out.reset_index(drop=True), values, notes)


# -- fold distribution ---------------------------------------------------------------------------
def fold_distribution(item: dict, inp: Inputs) -> Table:
    from hccer.dl.data import patient_of
    from hccer.jsonio import read_json

    split = inp.split
    unit = item.get("unit", "slices")
    per_patient: dict[str, int] = {}
    if unit == "slices":
        for path in (p for p in inp.crops if str(p).endswith(".json")):
            meta = read_json(path)
            arrays = meta.get("arrays", {})
            n = arrays["x"][0] if meta.get("mode") == "slices2d" and "x" in arrays else 1
            per_patient[patient_of(path)] = int(n)
        missing = sorted({p for f in split["folds"] for p in f["test"]} - set(per_patient))
        if missing:
            raise InputError(
                f"no crop metadata for patient(s) {missing[:5]}; give every "
                "analysed patient's crop JSON with --crops"
            )
    er = {r["patient"]: int(r["er"]) for r in split["assignment"]}
    table = {"": ["Training", "Testing", "Total"]}
    values = []
    for f in split["folds"]:
        cells = []
        for side in (f["train"], f["test"], f["train"] + f["test"]):
            if unit == "slices":
                cells.append(f"{sum(per_patient[p] for p in side)} ({len(side)})")
            else:
                cells.append(f"{len(side)} (ER {sum(er[p] for p in side)})")
        table[f"E{int(f['fold']) + 1}"] = cells
        values.append(
            {
                "fold": int(f["fold"]),
                "train_patients": len(f["train"]),
                "test_patients": len(f["test"]),
                "test_er": sum(er[p] for p in f["test"]),
                **(
                    {
                        "train_slices": sum(per_patient[p] for p in f["train"]),
                        "test_slices": sum(per_patient[p] for p in f["test"]),
                    }
                    if unit == "slices"
                    else {}
                ),
            }
        )
    note = "cells: slices (patients)" if unit == "slices" else "cells: patients (ER)"
    return Table(pd.DataFrame(table), values, [note])


# -- clinical model odds ratios -----------------------------------------------------------------
def _or_cell(r: dict) -> str:
    return f"{r['odds_ratio']:.2f} ({r['ci_low']:.2f}–{r['ci_high']:.2f})"


def odds_ratios(item: dict, inp: Inputs) -> Table:
    """Univariate and multivariable odds ratios (Wald CI and P) of the clinical model, as fitted
    on the training patients of the first fold (the whole training cohort of a hold-out study).
    Rows follow `labels` ({variable: label}, the paper's order) or the record's order."""
    from hccer.jsonio import read_json

    if not inp.records:
        raise ConfigError(f"{inp.what} needs --records")
    recs = sorted((read_json(p) for p in inp.records), key=lambda r: int(r.get("fold", 0)))
    rec = recs[0]
    if "multivariable" not in rec:
        raise InputError("the clinical record holds no logistic model (odds ratios exist for "
                         "screen_logistic and logistic clinical models only)",
                         file=inp.records[0])
    uni = {r["variable"]: r for r in rec.get("univariate", [])}
    multi = {r["variable"]: r for r in rec["multivariable"]}
    labels = dict(item.get("labels") or {})
    order = list(labels) or list(dict.fromkeys([*uni, *multi]))
    rows, values = [], []
    for var in order:
        u, m = uni.get(var), multi.get(var)
        rows.append({
            "Variable": labels.get(var, var),
            "Univariate OR (95% CI)": _or_cell(u) if u else
            ("not estimable" if "univariate" in rec else "—"),
            "P (univariate)": format_p(u["p_value"]) if u else "",
            "Multivariable OR (95% CI)": _or_cell(m) if m else "—",
            "P (multivariable)": format_p(m["p_value"]) if m else "",
        })
        values.append({"variable": var, "univariate": u, "multivariable": m})
    unknown = sorted(set(multi) - set(order))
    if unknown:
        raise ConfigError(f"{inp.what}: labels leave out model variable(s) {unknown}")
    notes = [f"logistic regression on the training patients (n = "
             f"{(rec.get('univariate') or [{}])[0].get('n', 'n/a')}); Wald 95% CIs and P",
             "univariate: one model per variable; multivariable: the variables kept by "
             f"backward elimination ({', '.join(rec.get('selected', [])) or 'none'})"
             if "univariate" in rec else "multivariable: the configured variables",
             "not estimable: constant or perfectly separating in the training patients"]
    if len(recs) > 1:
        notes.append(f"fold {rec.get('fold', 0)} of {len(recs)} shown")
    return Table(pd.DataFrame(rows), values, notes)


# -- scan characteristics (from the headers kept beside each native series) ------------------------
def _cell(values: list, unit: str = "", fmt=lambda v: f"{v:g}") -> str:
    vals = [v for v in values if v not in (None, "")]
    if not vals:
        return "not recorded"
    if all(isinstance(v, int | float) for v in vals):
        lo, hi = min(vals), max(vals)
        text = fmt(lo) if lo == hi else f"{fmt(lo)}–{fmt(hi)}"
    else:
        text = ", ".join(sorted({str(v) for v in vals}))
    return f"{text} {unit}".strip()


def _collimation(m: dict):
    single, total = m.get("single_collimation_mm"), m.get("total_collimation_mm")
    if not single or not total:
        return None
    return f"{round(total / single)}×{single:g}"


def _tube_current(ms: list[dict]) -> str:
    mod = sorted({m.get("exposure_modulation") or "" for m in ms} - {"", "NONE"})
    ma = _cell([m.get("tube_current_ma") for m in ms], "mA", lambda v: f"{v:.0f}")
    return f"automatic ({', '.join(mod)}), {ma}" if mod else ma


def scan_characteristics(item: dict, inp: Inputs) -> Table:
    """Scanner settings of one series per analysed patient, per scanner model, from the header
    values the conversion step keeps (scanner description only, nothing personal)."""
    from hccer.jsonio import read_json

    if not inp.sidecars:
        raise ConfigError(f"{inp.what} needs --sidecars")
    metas = [read_json(p) for p in inp.sidecars]
    groups: dict[str, list[dict]] = {}
    for m in metas:
        name = " ".join(v for v in (m.get("manufacturer"), m.get("model")) if v) or "unknown"
        groups.setdefault(name, []).append(m)
    rows = {
        "Patients": lambda ms: str(len(ms)),
        "Tube voltage": lambda ms: _cell([m.get("kvp") for m in ms], "kVp"),
        "Tube current": _tube_current,
        "Detector collimation": lambda ms: _cell([_collimation(m) for m in ms], "mm"),
        "Field of view": lambda ms: _cell([m.get("recon_diameter_mm") for m in ms], "mm"),
        "Matrix": lambda ms: _cell([f"{m['geometry']['size'][0]}×{m['geometry']['size'][1]}"
                                    for m in ms if m.get("geometry")]),
        "Pixel spacing": lambda ms: _cell([round(m["geometry"]["spacing"][0], 3) for m in ms
                                           if m.get("geometry")], "mm"),
        "Rotation time": lambda ms: _cell([m.get("revolution_time_s") for m in ms], "s"),
        "Pitch": lambda ms: _cell([m.get("pitch") for m in ms]),
        "Slice thickness": lambda ms: _cell([m.get("slice_thickness") for m in ms], "mm"),
    }
    names = sorted(groups)
    frame = pd.DataFrame({"Parameter": list(rows),
                          **{n: [f(groups[n]) for f in rows.values()] for n in names}})
    values = [{"scanner": n, "patients": len(groups[n]),
               **{k: f(groups[n]) for k, f in rows.items() if k != "Patients"}} for n in names]
    notes = [f"{item['phase']} series of the {len(metas)} analysed patients; single values, or "
             "the range over patients; tube current of the first slice of each series"]
    return Table(frame, values, notes)


# -- cross-validation metrics -------------------------------------------------------------------
METRIC_HEADERS = {"accuracy": "Accuracy", "auc": "AUC"}


def fold_metrics(item: dict, inp: Inputs) -> Table:
    from hccer.stats.folds import per_fold, summarise

    stats = inp.spec["stats"]
    metrics = item.get("metrics") or ["accuracy", "auc"]
    bad = sorted(set(metrics) - set(METRIC_HEADERS))
    if bad:
        raise ConfigError(
            f"fold_metrics {item['id']}: metrics {bad} are not fold metrics "
            f"({sorted(METRIC_HEADERS)})"
        )
    extra = list(item.get("columns") or [])
    rows, values, notes = [], [], []
    for entry in model_entries(item):
        model = entry["model"]
        row = {"Model": label(inp.spec, model, entry)}
        cells = list(entry.get("cells") or [""] * len(extra))
        if len(cells) != len(extra):
            raise ConfigError(
                f"fold_metrics {item['id']}: model {model} has {len(cells)} "
                f"cells for columns {extra}"
            )
        row.update(zip(extra, cells, strict=True))
        try:
            per = per_fold(inp.rows(model, "test"), stats["fold_threshold"])
            s = summarise(per).iloc[0]
            row.update({METRIC_HEADERS[m]: s[f"{m}_text"] for m in metrics})
            n_nan = int(per["auc"].isna().sum())
            if n_nan:
                notes.append(
                    f"{row['Model']}: {n_nan} fold(s) with one outcome class have no "
                    "AUC and are left out of its AUC mean"
                )
            values.append(
                {
                    "model": model,
                    "n_folds": int(s["n_folds"]),
                    "auc_mean": s["auc_mean"],
                    "auc_sd": s["auc_sd"],
                    "accuracy_mean": s["accuracy_mean"],
                    "accuracy_sd": s["accuracy_sd"],
                    "folds": per.drop(columns=["model"]).to_dict(orient="records"),
                }
            )
        except NotRun as exc:
            row.update({METRIC_HEADERS[m]: str(exc) for m in metrics})
            values.append({"model": model, "not_run": str(exc)})
        rows.append(row)
    n_folds = inp.spec["split"].get("n_folds")
    notes.insert(
        0,
        f"mean ± SD (ddof 1) over the {n_folds} test folds of per-fold patient-"
        f"level values; accuracy at score ≥ {stats['fold_threshold']:g}",
    )
    frame = pd.DataFrame(rows)
    if item.get("layout", "rows") == "columns":
        frame = frame.set_index("Model")[[METRIC_HEADERS[m] for m in metrics]].T
        frame = frame.rename_axis("Metric").reset_index()
        frame.columns.name = None
    return Table(frame, values, notes + inp.notes)


# -- hold-out metrics ---------------------------------------------------------------------------
HOLDOUT_HEADERS = {
    "auc": "AUC (95% CI)",
    "cutoff": "Cut-off",
    "accuracy": "Accuracy (95% CI)",
    "accuracy_p": "P (accuracy > NIR)",
    "nir": "NIR",
    "sensitivity": "Sensitivity",
    "specificity": "Specificity",
    "ppv": "PPV",
    "npv": "NPV",
    "auc_p_cohorts": "P (AUC between cohorts)",
}


def auc_p_between(inp: Inputs, model: str, cohorts: list[str]) -> str:
    """Unpaired DeLong P of the model's AUC in the first two cohorts (e.g. training vs
    validation), "—" when either is missing or has one outcome class."""
    from hccer.stats.roc import delong_unpaired

    if len(cohorts) < 2:
        return "—"
    try:
        a, b = (inp.rows(model, c) for c in cohorts[:2])
    except NotRun:
        return "—"
    if any(d["label"].sum() in (0, len(d)) for d in (a, b)):
        return "—"
    return format_p(delong_unpaired(a["score"], a["label"], b["score"], b["label"])["p_value"])


def holdout_metrics(item: dict, inp: Inputs) -> Table:
    from hccer.stats.threshold import evaluate

    # an item may state its paper's own AUC CI method (e.g. MedCalc's exact binomial)
    stats = {**inp.spec["stats"], **({"auc_ci": item["auc_ci"]} if item.get("auc_ci") else {})}
    metrics = item.get("metrics") or list(HOLDOUT_HEADERS)
    bad = sorted(set(metrics) - set(HOLDOUT_HEADERS))
    if bad:
        raise ConfigError(
            f"holdout_metrics {item['id']}: unknown metric(s) {bad} ({sorted(HOLDOUT_HEADERS)})"
        )
    extra = list(item.get("columns") or [])
    rows, values, rule = [], [], None
    cohorts = list(item.get("cohorts") or ["test"])
    for entry in model_entries(item):
        model = entry["model"]
        cells = list(entry.get("cells") or [""] * len(extra))
        p_between = auc_p_between(inp, model, cohorts) if "auc_p_cohorts" in metrics else ""
        for ci, cohort in enumerate(cohorts):
            row = {
                "Model": label(inp.spec, model, entry),
                **dict(zip(extra, cells, strict=True)),
                "Cohort": COHORT_NAMES[cohort],
            }
            try:
                df = inp.rows(model, cohort)
                thr, rule = threshold_for(item, inp, model, cohort)
            except NotRun as exc:
                row.update({"n (ER)": "—", **{HOLDOUT_HEADERS[m]: str(exc) for m in metrics}})
                values.append({"model": model, "cohort": cohort, "not_run": str(exc)})
                rows.append(row)
                continue
            y = df["label"].to_numpy()
            row["n (ER)"] = f"{y.size} ({int(y.sum())})"
            r = auc_result(df, stats)
            ev = evaluate(df["score"], y, thr, stats["level"])
            acc = ev["accuracy"]
            cells_out = {
                "auc": fmt_ci(r.auc, r.ci_low, r.ci_high) if r else "not estimable (one class)",
                "cutoff": f"{thr:.3f}",
                "accuracy": fmt_ci(acc["value"], acc["ci_low"], acc["ci_high"]),
                "accuracy_p": format_p(acc["p_value_vs_nir"], 4),
                "nir": f"{acc['nir']:.3f}",
                **{m: fmt_prop(ev[m]) for m in ("sensitivity", "specificity", "ppv", "npv")},
                "auc_p_cohorts": p_between if ci == 0 else "",
            }
            row.update({HOLDOUT_HEADERS[m]: cells_out[m] for m in metrics})
            rows.append(row)
            values.append(
                {
                    "model": model,
                    "cohort": cohort,
                    "n": int(y.size),
                    "n_er": int(y.sum()),
                    "auc": r.as_dict() if r else None,
                    "threshold": thr,
                    **{
                        k: ev[k]
                        for k in (
                            "confusion",
                            "accuracy",
                            "sensitivity",
                            "specificity",
                            "ppv",
                            "npv",
                        )
                    },
                }
            )
    notes = [
        f"cut-off: {rule or threshold_rule_text(item)}; ER predicted when P(ER) ≥ cut-off",
        ci_note(stats) + "; proportions: exact Clopper-Pearson; P: one-sided "
        "exact binomial test of accuracy > no-information rate (NIR)",
    ]
    if "auc_p_cohorts" in metrics:
        notes.append(
            f"P (AUC between cohorts): unpaired two-sided DeLong test of the "
            f"{' vs '.join(COHORT_NAMES[c].lower() for c in cohorts[:2])} AUC"
        )
    return Table(pd.DataFrame(rows), values, notes + inp.notes)


def threshold_rule_text(item: dict) -> str:
    if item.get("youden_from") == "own":
        return "Youden's J within each cohort (MedCalc's default criterion)"
    if "youden_from" in item:
        return f"Youden's J on the {COHORT_NAMES[item['youden_from']].lower()} cohort"
    return f"fixed {float(item.get('threshold', 0.5)):g}"


# -- Kaplan-Meier by risk group -----------------------------------------------------------------
def risk_groups(item: dict, inp: Inputs, model: str, cohort: str) -> dict:
    """Rows of `model` in `cohort` split high/low at the item's cut-off, with survival times in
    the item's unit. NotRun when the ledger lacks the model, the cohort or survival columns."""
    df = inp.rows(model, cohort)
    if "time" not in df.columns or df["time"].isna().all():
        raise NotRun("the ledger has no follow-up time/event for this model")
    thr, rule = threshold_for(item, inp, model)
    unit = item.get("time_unit", "months")
    scale = 1.0 / DAYS_PER_MONTH if unit == "months" else 1.0
    return {
        "time": df["time"].to_numpy(float) * scale,
        "event": df["event"].to_numpy(int),
        "high": df["score"].to_numpy(float) >= thr,
        "threshold": thr,
        "rule": rule,
        "unit": unit,
    }


def _median_cells(g: dict) -> tuple[str, str]:
    med, lo, hi = g["median"], g["median_ci_low"], g["median_ci_high"]
    if med is None:
        return "not reached", "NA"
    text = (
        f"{med:.1f} ({fmt_num(lo, 1) if lo is not None else 'NR'}–"
        f"{fmt_num(hi, 1) if hi is not None else 'NR'})"
    )
    se = (hi - lo) / (2 * 1.959964) if lo is not None and hi is not None else None
    return text, fmt_num(se, 2) if se is not None else "NA"


def km_summary(item: dict, inp: Inputs) -> Table:
    from hccer.stats import survival as S

    stats = inp.spec["stats"]
    rows, values, unit = [], [], item.get("time_unit", "months")
    for entry in model_entries(item):
        model = entry["model"]
        for cohort in item.get("cohorts") or ["test"]:
            row = {"Model": label(inp.spec, model, entry), "Cohort": COHORT_NAMES[cohort]}
            try:
                rg = risk_groups(item, inp, model, cohort)
            except NotRun as exc:
                row["Cut-off"] = str(exc)
                rows.append(row)
                values.append({"model": model, "cohort": cohort, "not_run": str(exc)})
                continue
            group = np.where(rg["high"], "high", "low")
            res = S.km_summary(rg["time"], rg["event"], group, level=stats["level"])
            by = {g["group"]: g for g in res["groups"]}
            row["Cut-off"] = f"{rg['threshold']:.3f}"
            for g in ("high", "low"):
                name = f"{g.capitalize()} risk"
                if g not in by:
                    row.update(
                        {
                            f"{name}: n (events)": "0",
                            f"{name}: median ({unit}, 95% CI)": "—",
                            f"{name}: SE": "—",
                        }
                    )
                    continue
                med, se = _median_cells(by[g])
                row.update(
                    {
                        f"{name}: n (events)": f"{by[g]['n']} ({by[g]['events']})",
                        f"{name}: median ({unit}, 95% CI)": med,
                        f"{name}: SE": se,
                    }
                )
            lr = res.get("logrank")
            row["Log-rank P"] = format_p(lr["p_value"]) if lr else "— (one group)"
            row["HR high vs low (95% CI)"] = _hazard_ratio(rg, stats["level"])
            rows.append(row)
            values.append(
                {
                    "model": model,
                    "cohort": cohort,
                    "threshold": rg["threshold"],
                    "groups": res["groups"],
                    "logrank": lr,
                    "time_unit": unit,
                }
            )
    notes = [
        f"risk groups: high when P(ER) ≥ cut-off ({threshold_rule_text(item)}); "
        "Kaplan-Meier medians with log-transformed CIs (R survival); SE ≈ (upper − lower)"
        " / (2 × 1.96) where the CI is finite; two-sided log-rank test",
        "HR: univariable Cox model (Efron ties), an extra not reported by the paper",
    ]
    return Table(pd.DataFrame(rows), values, notes + inp.notes)


def _hazard_ratio(rg: dict, level: float) -> str:
    from hccer.stats.survival import cox

    high = rg["high"]
    if high.all() or not high.any() or not rg["event"].any():
        return "not estimable"
    import warnings

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            c = cox(rg["time"], rg["event"], high.astype(float), "high", level)
    except Exception as exc:  # lifelines raises its own ConvergenceError on separation
        return f"not estimable ({type(exc).__name__})"
    if any("Convergence" in type(w.message).__name__ for w in caught):
        return "not estimable (separation)"
    if not all(map(math.isfinite, (c["hazard_ratio"], c["ci_low"], c["ci_high"]))):
        return "not estimable"
    return fmt_ci(c["hazard_ratio"], c["ci_low"], c["ci_high"], 2)


# -- DeLong matrix ------------------------------------------------------------------------------
def delong_matrix(item: dict, inp: Inputs) -> Table:
    from hccer.stats.roc import delong_matrix as matrix

    rows, values, notes = [], [], []
    for cohort in item.get("cohorts") or ["test"]:
        frames, names = [], []
        for entry in model_entries(item):
            try:
                frames.append(inp.rows(entry["model"], cohort).set_index("patient_id"))
                names.append(entry["model"])
            except NotRun as exc:
                notes.append(
                    f"{label(inp.spec, entry['model'], entry)} "
                    f"({COHORT_NAMES[cohort].lower()}): {exc}"
                )
        if len(names) < 2:
            continue
        common = sorted(set.intersection(*(set(f.index) for f in frames)))
        if len(common) < max(len(f) for f in frames):
            notes.append(
                f"{COHORT_NAMES[cohort]}: paired tests on the {len(common)} patients "
                "every model scored"
            )
        y = frames[0].loc[common, "label"].to_numpy()
        if y.sum() in (0, y.size):
            notes.append(f"{COHORT_NAMES[cohort]}: one outcome class, no test")
            continue
        scores = np.vstack([f.loc[common, "score"].to_numpy() for f in frames])
        for r in matrix(scores, y, names):
            rows.append(
                {
                    "Cohort": COHORT_NAMES[cohort],
                    "Model A": label(inp.spec, r["model_a"]),
                    "Model B": label(inp.spec, r["model_b"]),
                    "AUC A": f"{r['auc_a']:.3f}",
                    "AUC B": f"{r['auc_b']:.3f}",
                    "Z": f"{r['statistic']:.3f}",
                    "P": format_p(r["p_value"]),
                    "P (Holm)": format_p(r["p_holm"]),
                }
            )
            values.append({"cohort": cohort, **r})
    notes.insert(0, "paired two-sided DeLong tests; Holm adjustment within each cohort")
    cols = ["Cohort", "Model A", "Model B", "AUC A", "AUC B", "Z", "P", "P (Holm)"]
    return Table(pd.DataFrame(rows, columns=cols), values, notes + inp.notes)


def not_reproduced(item: dict, inp: Inputs) -> Table:
    return Table(
        pd.DataFrame(
            [{"Item": item["title"], "Status": "not reproduced", "Reason": item["reason"]}]
        ),
        [],
        [],
    )


BUILDERS = {
    "table1": table1,
    "fold_distribution": fold_distribution,
    "odds_ratios": odds_ratios,
    "scan_characteristics": scan_characteristics,
    "fold_metrics": fold_metrics,
    "holdout_metrics": holdout_metrics,
    "km_summary": km_summary,
    "delong_matrix": delong_matrix,
    "not_reproduced": not_reproduced,
}


def build(item: dict, inp: Inputs) -> Table:
    if item["kind"] == "model_summary":
        from hccer.paper.netsummary import model_summary

        return model_summary(item, inp)
    return BUILDERS[item["kind"]](item, inp)
