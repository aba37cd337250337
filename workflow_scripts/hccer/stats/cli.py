"""`hccer stats <statistic>`: statistics on the prediction ledger (and on patient tables).

Subcommands (each prints a short summary and writes JSON, or CSV where said):
  auc          AUC per model and cohort with DeLong / bootstrap / binomial CI
  delong       DeLong test of two models (paired or unpaired) plus a Holm-adjusted matrix
  threshold    confusion matrix and metrics at a fixed or training-Youden threshold
  calibration  Hosmer-Lemeshow, Brier, calibration intercept/slope, binned (and lowess) curve
  dca          decision curves (CSV), binary or survival (--time-horizon)
  km           Kaplan-Meier medians, log-rank, Cox hazard ratio and C-index on a patient table
  table1       baseline table with a paper's test rule (CSV, Markdown, LaTeX)
  folds        mean ± SD over CV folds of AUC and accuracy
  logistic     univariate -> multivariable logistic regression with odds ratios

Figures: `--figure STEM` on auc (ROC), calibration, dca, km (with number at risk) and logistic
(forest plot STEM_forest and nomogram STEM_nomogram) writes STEM.png and STEM.pdf.
Tables: `--table STEM` writes STEM.csv, STEM.md and STEM.tex where offered.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

log = logging.getLogger(__name__)


def _csv_list(text: str | None) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()] if text else []


def _prov(args, seed=None) -> dict:
    from hccer.jsonio import provenance

    return provenance(seed=seed, inputs=[str(v) for k in ("ledger", "table")
                                         if (v := getattr(args, k, None))])


def _write(args, payload: dict, seed=None) -> None:
    from hccer.jsonio import write_json

    payload["provenance"] = _prov(args, seed)
    write_json(args.out, payload)


def _load(args, probability: bool = False):
    from hccer import ledger as L

    df = L.read_ledger(args.ledger)
    if getattr(args, "model", None):
        models = args.model if isinstance(args.model, list) else [args.model]
        for m in models:
            L.select(df, model=m, file=args.ledger)
        df = df[df["model"].isin(models)]
    if getattr(args, "cohort", None):
        df = L.select(df, cohort=args.cohort, file=args.ledger)
    if getattr(args, "ledger_seed", None) is not None:
        df = L.select(df, seed=args.ledger_seed, file=args.ledger)
    if probability:
        L.require_probability(df, args.ledger, f"hccer stats {args.stats_command}")
    return df


def _one_seed(df, args):
    from hccer.errors import InputError

    seeds = sorted(df["seed"].unique())
    if len(seeds) > 1:
        raise InputError(f"the ledger holds seeds {seeds}; choose one with --ledger-seed",
                         file=args.ledger)
    return df


# ---------------------------------------------------------------------------------- auc
def cmd_auc(args) -> int:
    from hccer import ledger as L
    from hccer.stats import roc

    df = _load(args)
    results, curves = [], {}
    for (model, cohort, seed), g in df.groupby(["model", "cohort", "seed"], sort=True):
        L.check_binary_outcome(g, f"model {model}, cohort {cohort}", args.ledger)
        r = roc.auc_with_ci(g["score"], g["label"], args.ci, args.level, args.n_boot, args.seed)
        results.append({"model": model, "cohort": cohort, "seed": int(seed), **r.as_dict()})
        print(f"{model:>20s} {cohort:>10s} seed {seed}: AUC {r.auc:.3f} "
              f"({r.ci_low:.3f}–{r.ci_high:.3f}, {r.ci_method}) n+ {r.n_pos} n- {r.n_neg}")
        fpr, tpr, _ = roc.roc_curve(g["score"], g["label"])
        curves.setdefault((cohort, seed), []).append(
            {"name": model, "fpr": fpr, "tpr": tpr, "auc": r.auc, "ci_low": r.ci_low,
             "ci_high": r.ci_high})
    _write(args, {"results": results}, seed=args.seed)
    if args.table:
        import pandas as pd

        from hccer.stats.tables import write_table

        write_table(pd.DataFrame(results), args.table)
    if args.figure:
        from hccer.stats.figures import roc_figure

        multi = len(curves) > 1
        for (cohort, seed), cs in curves.items():
            stem = f"{args.figure}_{cohort}_seed{seed}" if multi else args.figure
            roc_figure(cs, stem, title=f"ROC, {cohort} cohort")
    return 0


# ------------------------------------------------------------------------------- delong
def cmd_delong(args) -> int:
    from hccer import ledger as L
    from hccer.errors import InputError
    from hccer.stats import roc

    df = _one_seed(L.read_ledger(args.ledger) if args.ledger_seed is None else
                   L.select(L.read_ledger(args.ledger), seed=args.ledger_seed, file=args.ledger),
                   args)
    ca = args.cohort_a or args.cohort
    cb = args.cohort_b or args.cohort
    if ca is None or cb is None:
        cohorts = sorted(df["cohort"].unique())
        if len(cohorts) != 1:
            raise InputError(f"the ledger has cohorts {cohorts}; choose --cohort or "
                             "--cohort-a/--cohort-b", file=args.ledger)
        ca = ca or cohorts[0]
        cb = cb or cohorts[0]
    a = L.select(df, model=args.model_a, cohort=ca, file=args.ledger)
    b = L.select(df, model=args.model_b, cohort=cb, file=args.ledger)
    if args.paired is None:
        paired = ca == cb and set(a["patient"]) == set(b["patient"])
    else:
        paired = args.paired
    if paired:
        if ca != cb:
            raise InputError("a paired test compares two models in the same cohort; "
                             f"got cohorts {ca} and {cb} (use --unpaired)", file=args.ledger)
        w = L.paired_frame(df, args.model_a, args.model_b, ca, file=args.ledger)
        L.check_binary_outcome(w, f"cohort {ca}", args.ledger)
        test = roc.delong_paired(w["a"], w["b"], w["label"], args.alternative, args.level)
    else:
        for g, what in ((a, f"model {args.model_a}, cohort {ca}"),
                        (b, f"model {args.model_b}, cohort {cb}")):
            L.check_binary_outcome(g, what, args.ledger)
        test = roc.delong_unpaired(a["score"], a["label"], b["score"], b["label"],
                                   args.alternative, args.unpaired_form)
    test.update(model_a=args.model_a, model_b=args.model_b, cohort_a=ca, cohort_b=cb)
    print(f"DeLong {'paired' if paired else 'unpaired'}: {args.model_a} ({ca}) AUC "
          f"{test['auc_a']:.3f} vs {args.model_b} ({cb}) AUC {test['auc_b']:.3f}: "
          f"Z {test['statistic']:.3f}, p {test['p_value']:.4g}")
    matrix = []
    for cohort in sorted({ca, cb}):
        sub = df[df["cohort"] == cohort]
        models = sorted(sub["model"].unique())
        if len(models) < 2 or not L.same_patients(sub, models, cohort):
            log.info("no paired matrix for cohort %s: models score different patients", cohort)
            continue
        wide = sub.pivot(index="patient", columns="model", values="score")[models]
        lab = sub.groupby("patient")["label"].first().loc[wide.index]
        for row in roc.delong_matrix(wide.to_numpy().T, lab.to_numpy(), models,
                                     args.alternative):
            matrix.append({"cohort": cohort, **row})
    _write(args, {"test": test, "matrix": matrix, "matrix_adjustment": "holm"})
    if args.table and matrix:
        import pandas as pd

        from hccer.stats.tables import write_table

        write_table(pd.DataFrame(matrix), args.table)
    return 0


# ---------------------------------------------------------------------------- threshold
def cmd_threshold(args) -> int:
    from hccer import ledger as L
    from hccer.errors import InputError
    from hccer.stats import threshold as T

    df = _one_seed(_load(args), args)
    if (args.threshold is None) == (args.youden_from is None):
        raise InputError("give exactly one of --threshold T or --youden-from COHORT")
    source = {"method": "fixed", "threshold": args.threshold}
    thr = args.threshold
    if args.youden_from is not None:
        g = L.select(df, cohort=args.youden_from, file=args.ledger)
        L.check_binary_outcome(g, f"Youden cohort {args.youden_from}", args.ledger)
        y = T.youden_threshold(g["score"], g["label"])
        thr = y["threshold"]
        source = {"method": "youden", "cohort": args.youden_from, **y}
    out = {"model": args.model, "threshold": thr, "threshold_source": source, "cohorts": {}}
    for cohort, g in df.groupby("cohort", sort=True):
        res = T.evaluate(g["score"], g["label"], thr, args.level)
        out["cohorts"][cohort] = res
        cm = res["confusion"]
        print(f"{args.model} {cohort}: threshold {thr:.4g} TP {cm['tp']} FN {cm['fn']} "
              f"TN {cm['tn']} FP {cm['fp']} acc {res['accuracy']['value']:.3f} "
              f"sens {res['sensitivity']['value']:.3f} spec {res['specificity']['value']:.3f}")
    _write(args, out)
    return 0


# -------------------------------------------------------------------------- calibration
def cmd_calibration(args) -> int:
    from hccer import ledger as L
    from hccer.stats import calibration as C

    df = _one_seed(_load(args, probability=True), args)
    results, panels = [], {}
    for (model, cohort), g in df.groupby(["model", "cohort"], sort=True):
        L.check_binary_outcome(g, f"model {model}, cohort {cohort}", args.ledger)
        p, y = g["score"].to_numpy(), g["label"].to_numpy()
        r = {"model": model, "cohort": cohort, **C.calibration(p, y, args.groups)}
        if args.bootstrap:
            r["lowess"] = C.lowess_band(p, y, args.bootstrap, args.seed, args.level)
        results.append(r)
        print(f"{model:>20s} {cohort:>10s}: HL {r['hl_statistic']:.3f} (df {r['hl_df']}) "
              f"p {r['hl_p_value']:.4f}; Brier {r['brier']:.4f}; intercept "
              f"{r['intercept']:.3f}, slope {r['slope']:.3f}")
        panels.setdefault(cohort, []).append({"name": model, "curve": r["curve"],
                                              "smooth": r.get("lowess")})
    _write(args, {"results": results, "groups_requested": args.groups}, seed=args.seed)
    if args.figure:
        from hccer.stats.figures import calibration_figure

        for cohort, models in panels.items():
            stem = f"{args.figure}_{cohort}" if len(panels) > 1 else args.figure
            calibration_figure(models, stem, title=f"Calibration, {cohort} cohort")
    return 0


# ---------------------------------------------------------------------------------- dca
def cmd_dca(args) -> int:
    import pandas as pd

    from hccer import ledger as L
    from hccer.errors import InputError
    from hccer.jsonio import write_text
    from hccer.stats import dca as D

    df = _one_seed(_load(args, probability=True), args)
    try:
        th = D.parse_thresholds(args.thresholds)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    if args.time_horizon is not None:
        L.require_survival(df, args.ledger)
    parts = []
    for cohort, g in df.groupby("cohort", sort=True):
        if not L.same_patients(g, sorted(g["model"].unique()), cohort):
            raise InputError(f"decision curves in cohort {cohort} need every model scored on "
                             "the same patients", file=args.ledger)
        wide = g.pivot(index="patient", columns="model", values="score")
        first = g.groupby("patient").first().loc[wide.index]
        risks = {m: wide[m].to_numpy() for m in wide.columns}
        if args.time_horizon is None:
            t = D.binary_dca(risks, first["label"].to_numpy(), th)
        else:
            t = D.survival_dca(risks, first["time"].to_numpy(), first["event"].to_numpy(),
                               args.time_horizon, th)
        t.insert(0, "cohort", cohort)
        parts.append(t)
        best = t[~t["variable"].isin(["all", "none"])].groupby("variable")["net_benefit"].max()
        print(f"{cohort}: {len(th)} thresholds; max net benefit "
              + ", ".join(f"{k} {v:.3f}" for k, v in best.items()))
    table = pd.concat(parts, ignore_index=True)
    write_text(args.out, table.to_csv(index=False))
    if args.figure:
        from hccer.stats.figures import dca_figure

        for cohort, t in table.groupby("cohort"):
            stem = f"{args.figure}_{cohort}" if table["cohort"].nunique() > 1 else args.figure
            dca_figure(t, stem, title=f"Decision curves, {cohort} cohort")
    return 0


# ----------------------------------------------------------------------------------- km
def cmd_km(args) -> int:
    from hccer import ledger as L
    from hccer.errors import InputError
    from hccer.stats import survival as S

    tab = L.read_table(args.table)
    need = [args.time, args.event] + [c for c in (args.group, args.score) if c]
    miss = [c for c in need if c not in tab.columns]
    if miss:
        raise InputError(f"table lacks column(s) {', '.join(miss)}", file=args.table)
    sub = tab.dropna(subset=need)
    if len(sub) < len(tab):
        log.warning("km: %d row(s) with missing %s left out", len(tab) - len(sub),
                    "/".join(need))
    ev = sub[args.event]
    if not ev.isin([0, 1, True, False]).all():
        raise InputError(f"column '{args.event}' must be 0 (censored) or 1 (event)",
                         file=args.table)
    if (sub[args.time] < 0).any():
        raise InputError(f"column '{args.time}' has negative times", file=args.table)
    times = [float(t) for t in _csv_list(args.times)]
    group = sub[args.group].to_numpy() if args.group else None
    res = S.km_summary(sub[args.time], ev.astype(int), group, times, args.level)
    cox = []
    if args.group and sub[args.group].nunique() == 2:
        levels = sorted(sub[args.group].unique(), key=str)
        x = (sub[args.group] == levels[1]).astype(float)
        c = S.cox(sub[args.time], ev, x, f"{args.group}={levels[1]} vs {levels[0]}", args.level)
        cox.append(c)
    if args.score:
        c = S.cox(sub[args.time], ev, sub[args.score], args.score, args.level)
        c["c_index_harrell"] = S.concordance(sub[args.time], ev, sub[args.score])
        cox.append(c)
    res["cox"] = cox
    for g in res["groups"]:
        print(f"group {g['group']}: n {g['n']} events {g['events']} median {g['median']} "
              f"({g['median_ci_low']}–{g['median_ci_high']})")
    if "logrank" in res:
        lr = res["logrank"]
        print(f"log-rank chi2 {lr['statistic']:.4f} df {lr['df']} p {lr['p_value']:.4g}")
    _write(args, res)
    if args.figure:
        from hccer.stats.figures import km_figure

        if args.group:
            groups = [{"name": f"{args.group} {v}", "time": sub.loc[sub[args.group] == v,
                                                                    args.time],
                       "event": ev[sub[args.group] == v]}
                      for v in sorted(sub[args.group].unique(), key=str)]
        else:
            groups = [{"name": "All", "time": sub[args.time], "event": ev}]
        km_figure(groups, args.figure, logrank_p=res.get("logrank", {}).get("p_value"),
                  xlabel=args.time_label or args.time)
    return 0


# ------------------------------------------------------------------------------- table1
def cmd_table1(args) -> int:
    from hccer import ledger as L
    from hccer.errors import InputError
    from hccer.jsonio import write_json
    from hccer.stats import table1 as T
    from hccer.stats.tables import write_table

    tab = L.read_table(args.table)
    variables = _csv_list(args.variables) or None
    cols = [args.group, *(variables or [])]
    miss = [c for c in cols if c not in tab.columns]
    if miss:
        raise InputError(f"table lacks column(s) {', '.join(miss)}", file=args.table)
    out = T.build_table1(tab, args.group, variables, args.rules, args.continuous,
                         _csv_list(args.categorical))
    stem = Path(args.out)
    stem = stem.with_suffix("") if stem.suffix in (".csv", ".md", ".tex", ".json") else stem
    write_table(out.drop(columns=["p_value"]), stem,
                caption=f"Baseline characteristics by {args.group}")
    write_json(stem.with_suffix(".json"), {"rows": out.to_dict(orient="records"),
                                           "rule": args.rules, "continuous": args.continuous,
                                           "provenance": _prov(args)})
    print(f"table1: {out['variable'].nunique()} variables, rule {args.rules} -> {stem}.csv/.md/.tex")
    return 0


# -------------------------------------------------------------------------------- folds
def cmd_folds(args) -> int:
    from hccer.errors import InputError
    from hccer.stats import folds as F

    df = _load(args)
    if "fold" not in df.columns:
        raise InputError("fold summaries need the ledger column 'fold'", file=args.ledger)
    per = F.per_fold(df, args.threshold)
    summ = F.summarise(per)
    for r in summ.itertuples():
        print(f"{r.model:>20s} seed {r.seed}: AUC {r.auc_text}, accuracy {r.accuracy_text} "
              f"({r.n_folds} folds)")
    _write(args, {"folds": per.to_dict(orient="records"),
                  "summary": summ.to_dict(orient="records"), "threshold": args.threshold})
    if args.table:
        from hccer.stats.tables import write_table

        write_table(summ[["model", "seed", "n_folds", "accuracy_text", "auc_text"]], args.table)
    return 0


# ----------------------------------------------------------------------------- logistic
def cmd_logistic(args) -> int:
    from hccer import ledger as L
    from hccer.errors import InputError
    from hccer.stats import logistic as LG

    tab = L.read_table(args.table)
    preds = _csv_list(args.predictors)
    miss = [c for c in [args.outcome, *preds] if c not in tab.columns]
    if miss:
        raise InputError(f"table lacks column(s) {', '.join(miss)}", file=args.table)
    if not tab[args.outcome].dropna().isin([0, 1]).all():
        raise InputError(f"outcome column '{args.outcome}' must be 0/1", file=args.table)
    bad = [c for c in preds if not __import__("pandas").api.types.is_numeric_dtype(tab[c])]
    if bad:
        raise InputError(f"predictor(s) {', '.join(bad)} are not numeric; code them 0/1 or as "
                         "numbers first", file=args.table)
    res = LG.univariate_to_multivariable(tab, args.outcome, preds, args.alpha, args.level)
    uni, multi = res["univariate"], res["multivariable"]
    print(uni[["variable", "odds_ratio", "ci_low", "ci_high", "p_value"]].to_string(index=False))
    print(f"multivariable on {res['selected'] or 'nothing (no variable passed)'}")
    _write(args, {"univariate": uni.to_dict(orient="records"),
                  "multivariable": None if multi is None else multi.to_dict(orient="records"),
                  "selected": res["selected"], "alpha_enter": args.alpha})
    if args.table_out:
        from hccer.stats.tables import write_table

        write_table(uni, f"{args.table_out}_univariate")
        if multi is not None:
            write_table(multi, f"{args.table_out}_multivariable")
    if args.figure:
        from hccer.stats.figures import forest_figure, nomogram_figure

        forest_figure(multi if multi is not None else uni, f"{args.figure}_forest")
        if res["result"] is not None:
            sub = tab[[args.outcome, *res["selected"]]].dropna()
            ranges = {v: (float(sub[v].min()), float(sub[v].max())) for v in res["selected"]}
            nomogram_figure(LG.nomogram_scale(res["result"], ranges), f"{args.figure}_nomogram")
    return 0


# ----------------------------------------------------------------------------- register
def _common(sp, ledger=True) -> None:
    if ledger:
        sp.add_argument("--ledger", required=True, help="prediction ledger (CSV or Parquet)")
    sp.add_argument("--out", required=True, help="output file")
    sp.add_argument("--level", type=float, default=0.95, help="confidence level")


def _add_auc(sub) -> None:
    a = sub.add_parser("auc", help="AUC with CI per model and cohort")
    _common(a)
    a.add_argument("--model", action="append", help="model(s) to include (repeatable)")
    a.add_argument("--cohort")
    a.add_argument("--ledger-seed", type=int, help="only rows with this ledger seed")
    a.add_argument("--ci", choices=("delong", "bootstrap", "binomial"), default="delong")
    a.add_argument("--n-boot", type=int, default=2000)
    a.add_argument("--seed", type=int, default=0, help="bootstrap random seed")
    a.add_argument("--table", help="also write STEM.csv/.md/.tex")
    a.add_argument("--figure", help="ROC figure STEM(.png/.pdf)")
    a.set_defaults(func=cmd_auc)


def _add_delong(sub) -> None:
    d = sub.add_parser("delong", help="DeLong test of two AUCs and a Holm-adjusted matrix")
    _common(d)
    d.add_argument("--model-a", required=True)
    d.add_argument("--model-b", required=True)
    d.add_argument("--cohort")
    d.add_argument("--cohort-a")
    d.add_argument("--cohort-b")
    d.add_argument("--ledger-seed", type=int)
    # neither flag: cmd_delong pairs when both sides score the same patients
    g = d.add_mutually_exclusive_group()
    g.add_argument("--paired", dest="paired", action="store_true", default=None)
    g.add_argument("--unpaired", dest="paired", action="store_false")
    d.add_argument("--alternative", choices=("two-sided", "greater", "less"),
                   default="two-sided")
    d.add_argument("--unpaired-form", choices=("t", "normal"), default="t",
                   help="unpaired test: pROC's Student t with Welch-Satterthwaite df (t), or "
                        "the standard normal (normal)")
    d.add_argument("--table", help="write the pairwise matrix as STEM.csv/.md/.tex")
    d.set_defaults(func=cmd_delong)


def _add_threshold(sub) -> None:
    t = sub.add_parser("threshold", help="metrics at a threshold (score >= T is positive)")
    _common(t)
    t.add_argument("--model", required=True)
    t.add_argument("--ledger-seed", type=int)
    t.add_argument("--threshold", type=float)
    t.add_argument("--youden-from", help="choose the threshold by Youden's J in this cohort")
    t.set_defaults(func=cmd_threshold)


def _add_calibration(sub) -> None:
    c = sub.add_parser("calibration", help="Hosmer-Lemeshow, Brier, intercept/slope, curve")
    _common(c)
    c.add_argument("--model", action="append")
    c.add_argument("--cohort")
    c.add_argument("--ledger-seed", type=int)
    c.add_argument("--groups", type=int, default=10)
    c.add_argument("--bootstrap", type=int, default=0,
                   help="lowess curve with a bootstrap band of this many resamples")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--figure")
    c.set_defaults(func=cmd_calibration)


def _add_dca(sub) -> None:
    x = sub.add_parser("dca", help="decision curves (CSV)")
    _common(x)
    x.add_argument("--model", action="append")
    x.add_argument("--cohort")
    x.add_argument("--ledger-seed", type=int)
    x.add_argument("--thresholds", default="0:0.99:0.01", help="start:stop:step or a,b,c")
    x.add_argument("--time-horizon", type=float, help="survival DCA at this time")
    x.add_argument("--figure")
    x.set_defaults(func=cmd_dca)


def _add_km(sub) -> None:
    k = sub.add_parser("km", help="Kaplan-Meier, log-rank, Cox on a patient table")
    _common(k, ledger=False)
    k.add_argument("--table", required=True)
    k.add_argument("--time", required=True)
    k.add_argument("--event", required=True)
    k.add_argument("--group")
    k.add_argument("--score", help="continuous risk score for a Cox HR and C-index")
    k.add_argument("--times", help="comma list of times for survival_at")
    k.add_argument("--time-label", help="x-axis label of the figure")
    k.add_argument("--figure")
    k.set_defaults(func=cmd_km)


def _add_table1(sub) -> None:
    # no _common: --out is a stem and there is no confidence level
    b = sub.add_parser("table1", help="baseline table with a paper's test rule")
    b.add_argument("--table", required=True)
    b.add_argument("--group", required=True)
    b.add_argument("--rules", required=True,
                   choices=("pearson", "yates_fisher5", "spss", "pearson_fisher5_2x2"))
    b.add_argument("--variables", help="comma list (default: every other column)")
    b.add_argument("--categorical", help="comma list of numeric columns to treat as categories")
    b.add_argument("--continuous", choices=("auto", "ttest", "welch", "mwu"), default="auto")
    b.add_argument("--out", required=True, help="output STEM (.csv, .md, .tex, .json)")
    b.set_defaults(func=cmd_table1)


def _add_folds(sub) -> None:
    f = sub.add_parser("folds", help="mean ± SD over CV folds")
    _common(f)
    f.add_argument("--model", action="append")
    f.add_argument("--cohort")
    f.add_argument("--threshold", type=float, default=0.5)
    f.add_argument("--table")
    f.set_defaults(func=cmd_folds)


def _add_logistic(sub) -> None:
    lg = sub.add_parser("logistic", help="univariate -> multivariable logistic regression")
    _common(lg, ledger=False)
    lg.add_argument("--table", required=True)
    lg.add_argument("--outcome", required=True)
    lg.add_argument("--predictors", required=True, help="comma list")
    lg.add_argument("--alpha", type=float, default=0.05, help="univariate p to enter")
    lg.add_argument("--table-out", help="write odds-ratio tables STEM_univariate/_multivariable")
    lg.add_argument("--figure", help="STEM_forest and STEM_nomogram figures")
    lg.set_defaults(func=cmd_logistic)


# in the order `hccer stats --help` lists them
_SUBCOMMANDS = (_add_auc, _add_delong, _add_threshold, _add_calibration, _add_dca, _add_km,
                _add_table1, _add_folds, _add_logistic)


def register(subparsers) -> None:
    p = subparsers.add_parser("stats", help="statistics on the prediction ledger",
                              description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="stats_command", metavar="<statistic>")
    sub.required = True
    for add in _SUBCOMMANDS:
        add(sub)
