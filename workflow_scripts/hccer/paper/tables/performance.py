"""Model tables: odds ratios of the clinical model, per-fold metrics (mean ± SD over folds) and
hold-out metrics at the item's cut-off."""

from __future__ import annotations

import pandas as pd

from hccer.errors import ConfigError, InputError
from hccer.paper.inputs import Inputs, NotRun
from hccer.paper.output import Table
from hccer.paper.spec import label, model_entries
from hccer.paper.tables.format import (
    COHORT_NAMES,
    auc_result,
    ci_note,
    fmt_ci,
    fmt_prop,
    threshold_for,
    threshold_rule_text,
)
from hccer.stats.table1 import format_p


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
            f"{' vs '.join(COHORT_NAMES[c].lower() for c in cohorts[:2])} AUC (pROC's form: "
            "Student t with Welch-Satterthwaite df)"
        )
    return Table(pd.DataFrame(rows), values, notes + inp.notes)
