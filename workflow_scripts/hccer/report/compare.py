"""Published vs reproduced: every headline number of the paper beside this run's, computed
from the prediction ledger with `hccer.stats` the way the paper computed it.

Hold-out studies: AUC with the paper's CI method; accuracy, sensitivity, specificity, PPV and
NPV (Clopper-Pearson CIs) at the paper's cut-off (fixed, or Youden's J on the training cohort
or on the cohort itself); the binomial test of accuracy against the no-information rate; the
unpaired DeLong test of training vs test AUC; the paired DeLong test of two models; the
log-rank test of high vs low risk at the cut-off; Hosmer-Lemeshow. K-fold studies: mean ± SD
(ddof 1) over the test folds (`hccer.stats.folds`), plus the pooled out-of-fold AUC.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import pandas as pd

from hccer.report.published import (
    METRIC_LABEL,
    P_METRICS,
    THRESHOLD_METRICS,
    absent_reason,
    check_published,
)

NAN = float("nan")


class _Skip(Exception):
    """A number that cannot be computed from this run; the message says why."""


@dataclass
class Reproduced:
    status: str  # ok | not run | not computed
    reason: str = ""
    seed: int | None = None
    value: float = NAN
    sd: float = NAN
    ci_low: float = NAN
    ci_high: float = NAN
    n: int = 0
    n_pos: int = 0
    n_folds: int = 0
    threshold: float = NAN
    extra: str = ""


def _binary(g: pd.DataFrame, what: str) -> None:
    if g.empty:
        raise _Skip(f"no {what} rows")
    n_pos = int(g["label"].sum())
    if n_pos in (0, len(g)):
        raise _Skip(
            f"{what}: all {len(g)} patients have label {int(g['label'].iloc[0])}, "
            "so the statistic needs both outcomes"
        )


def _cutoff(thr: dict, model_rows: pd.DataFrame, cohort_rows: pd.DataFrame) -> float:
    from hccer.stats.threshold import youden_threshold

    if thr["method"] == "fixed":
        return float(thr["value"])
    if thr["from"] == "same":
        src, what = cohort_rows, "the cohort's own rows (Youden cut-off)"
    else:
        src = model_rows[model_rows["cohort"] == "train"]
        what = "training-cohort rows (Youden cut-off)"
        if src.empty:
            raise _Skip(
                "the ledger has no training-cohort rows for this model, so the "
                "training Youden cut-off is unknown"
            )
    _binary(src, what)
    return float(youden_threshold(src["score"], src["label"])["threshold"])


def _auc(g: pd.DataFrame, ci: dict, seed: int):
    from hccer.stats.roc import auc_with_ci

    return auc_with_ci(
        g["score"],
        g["label"],
        ci.get("method", "delong"),
        ci.get("level", 0.95),
        ci.get("n_boot", 2000),
        seed,
    )


def _holdout(
    item: dict,
    rows: pd.DataFrame,
    ledger: pd.DataFrame,
    block: dict,
    boot_seed: int,
    ledger_seed: int,
) -> Reproduced:
    """One item on a hold-out study (rows: this model and ledger seed, every cohort)."""
    from hccer.stats import threshold as T

    metric, cohort = item["metric"], item["cohort"]
    ci = block.get("auc_ci") or {}
    thr_spec = block.get("threshold") or {"method": "fixed", "value": 0.5}
    g = rows[rows["cohort"] == cohort]
    if g.empty:
        raise _Skip(
            f"the ledger has no {cohort} rows for {item['model']}"
            + (" (the model writes test rows only)" if cohort == "train" else "")
        )
    out = Reproduced("ok", n=len(g), n_pos=int(g["label"].sum()))
    if metric == "auc":
        _binary(g, f"{cohort} cohort")
        r = _auc(g, ci, boot_seed)
        out.value, out.ci_low, out.ci_high = r.auc, r.ci_low, r.ci_high
    elif metric in THRESHOLD_METRICS or metric == "accuracy_p_nir":
        out.threshold = _cutoff(thr_spec, rows, g)
        res = T.evaluate(g["score"], g["label"], out.threshold, ci.get("level", 0.95))
        key = "accuracy" if metric == "accuracy_p_nir" else metric
        if res[key]["n"] == 0:
            raise _Skip(
                f"{METRIC_LABEL[key]} is undefined: no patient in its denominator at "
                f"cut-off {out.threshold:.4g}"
            )
        if metric == "accuracy_p_nir":
            out.value = res["accuracy"]["p_value_vs_nir"]
        else:
            out.value = res[key]["value"]
            out.ci_low, out.ci_high = res[key]["ci_low"], res[key]["ci_high"]
    elif metric == "auc_p_train_test":
        from hccer.stats.roc import delong_unpaired

        tr = rows[rows["cohort"] == "train"]
        if tr.empty:
            raise _Skip("the ledger has no training-cohort rows for this model")
        _binary(tr, "train cohort")
        _binary(g, f"{cohort} cohort")
        out.value = delong_unpaired(tr["score"], tr["label"], g["score"], g["label"])["p_value"]
    elif metric == "auc_p_paired":
        from hccer.stats.roc import delong_paired

        w = _paired(g, ledger, item["versus"], cohort, ledger_seed)
        _binary(w, f"{cohort} cohort")
        out.value = delong_paired(w["score"], w["score_v"], w["label"])["p_value"]
    elif metric == "logrank_p":
        from hccer.stats.survival import logrank

        if "time" not in g.columns or g[["time", "event"]].isna().any().any():
            raise _Skip("the ledger has no follow-up time and event for these patients")
        out.threshold = _cutoff(thr_spec, rows, g)
        high = (g["score"] >= out.threshold).to_numpy()
        if high.all() or not high.any():
            raise _Skip(f"every patient falls in one risk group at cut-off {out.threshold:.4g}")
        out.value = logrank(g["time"], g["event"], high.astype(int))["p_value"]
        out.extra = f"{int(high.sum())} high / {int((~high).sum())} low risk"
    elif metric == "hl_p":
        from hccer.stats.calibration import hosmer_lemeshow

        if not g["score"].between(0, 1).all():
            raise _Skip("Hosmer-Lemeshow needs probabilities in [0, 1]")
        hl = hosmer_lemeshow(g["score"], g["label"], groups=10)
        if math.isnan(hl["hl_p_value"]):
            raise _Skip("too few distinct risks for the Hosmer-Lemeshow groups")
        out.value = hl["hl_p_value"]
    return out


def _paired(
    g: pd.DataFrame, ledger: pd.DataFrame, versus: str, cohort: str, seed: int
) -> pd.DataFrame:
    v = ledger[(ledger["model"] == versus) & (ledger["cohort"] == cohort)]
    if v.empty:
        raise _Skip(f"the comparator {versus} has no {cohort} rows in the ledger")
    seeds = sorted(v["seed"].unique())
    if seed in seeds:
        v = v[v["seed"] == seed]
    elif len(seeds) == 1:  # a comparator fitted once pairs with every seed of the model
        v = v[v["seed"] == seeds[0]]
    else:
        raise _Skip(f"the comparator {versus} has seeds {seeds} but not seed {seed}")
    if set(v["patient"]) != set(g["patient"]):
        raise _Skip(f"{versus} scores other patients than this model in the {cohort} cohort")
    w = g[["patient", "label", "score"]].merge(
        v[["patient", "score"]].rename(columns={"score": "score_v"}), on="patient"
    )
    return w


def _kfold(item: dict, rows: pd.DataFrame, block: dict, seed: int) -> Reproduced:
    """Mean ± SD over test folds (rows: this model and seed)."""
    from hccer.stats import folds as F
    from hccer.stats import threshold as T

    metric = item["metric"]
    thr = float((block.get("threshold") or {}).get("value", 0.5))
    g = rows[rows["cohort"] == "test"]
    if g.empty:
        raise _Skip(f"the ledger has no out-of-fold rows for {item['model']}")
    if g["fold"].isna().any():
        raise _Skip("ledger rows without a fold number")
    if metric in ("auc", "accuracy"):
        per = F.per_fold(g.assign(fold=g["fold"].astype(int)), threshold=thr)[metric]
    else:
        per = pd.Series(
            [
                T.evaluate(f["score"], f["label"], thr)[metric]["value"]
                for _, f in g.groupby("fold", sort=True)
            ],
            dtype=float,
        )
    per = per.dropna()
    if per.empty:
        raise _Skip(f"no test fold has the outcomes {METRIC_LABEL[metric]} needs")
    out = Reproduced(
        "ok",
        n=len(g),
        n_pos=int(g["label"].sum()),
        n_folds=len(per),
        value=float(per.mean()),
        sd=float(per.std(ddof=1)) if len(per) > 1 else NAN,
        threshold=thr if metric != "auc" else NAN,
    )
    if metric == "auc":
        _binary(g, "pooled out-of-fold")
        r = _auc(g, block.get("auc_ci") or {}, seed)
        out.extra = f"pooled {r.auc:.3f} ({r.ci_low:.3f}–{r.ci_high:.3f})"
    return out


def reproduce(
    item: dict, ledger: pd.DataFrame | None, study: Mapping, block: dict, seed: int = 0
) -> list[Reproduced]:
    """This run's value of one published item, one per ledger seed of the model."""
    models = None if ledger is None else set(ledger["model"])
    if ledger is None or item["model"] not in models:
        return [Reproduced("not run", absent_reason(item["model"], study, models))]
    mine = ledger[ledger["model"] == item["model"]]
    out = []
    for s in sorted(mine["seed"].unique()):
        rows = mine[mine["seed"] == s]
        try:
            if study["split"]["method"] == "kfold":
                r = _kfold(item, rows, block, seed)
            else:
                r = _holdout(item, rows, ledger, block, seed, int(s))
        except _Skip as exc:
            r = Reproduced("not computed", str(exc))
        r.seed = int(s)
        out.append(r)
    return out


def compare(
    ledger: pd.DataFrame | None, study: Mapping, block: dict | None = None, seed: int = 0
) -> pd.DataFrame:
    """One row per published item (and ledger seed of its model): published beside reproduced."""
    block = check_published(study if block is None else {**study, "published": block})
    rows = []
    for it in block["items"]:
        ci = it.get("ci") or [NAN, NAN]
        pub = {
            "item": it["item"],
            "table": it["table"],
            "model": it["model"],
            "cohort": it["cohort"],
            "metric": it["metric"],
            "versus": it.get("versus", ""),
            "published": float(it["value"]),
            "relation": it.get("relation", "="),
            "published_sd": float(it.get("sd", NAN)),
            "published_ci_low": float(ci[0]),
            "published_ci_high": float(ci[1]),
            "note": it.get("note", ""),
        }
        for r in reproduce(it, ledger, study, block, seed):
            rec = asdict(r)
            rows.append(
                {**pub, **{("reproduced" if k == "value" else k): v for k, v in rec.items()}}
            )
    return pd.DataFrame(rows)


def other_models(
    ledger: pd.DataFrame | None, study: Mapping, block: dict, seed: int = 0
) -> pd.DataFrame:
    """AUC of every ledger model no published item names (controls, extra comparators)."""
    if ledger is None:
        return pd.DataFrame()
    named = {it["model"] for it in block["items"]}
    rows = []
    kfold = study["split"]["method"] == "kfold"
    for model in sorted(set(ledger["model"]) - named):
        for cohort in (
            ["test"] if kfold else sorted(ledger.loc[ledger["model"] == model, "cohort"].unique())
        ):
            it = {"item": model, "table": "", "model": model, "cohort": cohort, "metric": "auc"}
            for r in reproduce(it, ledger, study, block, seed):
                rows.append({"model": model, "cohort": cohort, **asdict(r)})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------ formatting
def _decimals(v: float, least: int) -> int:
    text = repr(float(v))
    if "e" in text:
        return max(least, 4)
    return max(least, len(text.split(".")[1].rstrip("0")) if "." in text else 0)


def _fmt_p(v: float) -> str:
    from hccer.stats.table1 import format_p

    return format_p(v, 3)


def format_published(r: dict) -> str:
    v = r["published"]
    if r["metric"] in P_METRICS:
        rel = {"=": "", "<": "< ", "<=": "≤ "}[r.get("relation", "=")]
        return f"{rel}{v:.{_decimals(v, 3)}f}"
    text = f"{v:.{_decimals(v, 3)}f}"
    if not math.isnan(r.get("published_sd", NAN)):
        text += f" ± {r['published_sd']:.{_decimals(r['published_sd'], 2)}f}"
    if not math.isnan(r.get("published_ci_low", NAN)):
        lo, hi = r["published_ci_low"], r["published_ci_high"]
        text += f" ({lo:.{_decimals(lo, 3)}f}–{hi:.{_decimals(hi, 3)}f})"
    return text


def format_reproduced(r: dict) -> str:
    if r["status"] != "ok":
        return "—"
    v = r["reproduced"]
    if r["metric"] in P_METRICS:
        return _fmt_p(v)
    text = f"{v:.3f}"
    if not math.isnan(r.get("sd", NAN)):
        text += f" ± {r['sd']:.3f}"
    if not math.isnan(r.get("ci_low", NAN)):
        text += f" ({r['ci_low']:.3f}–{r['ci_high']:.3f})"
    return text


def format_delta(r: dict) -> str:
    if r["status"] != "ok" or r["metric"] in P_METRICS:
        return ""
    return f"{r['reproduced'] - r['published']:+.3f}"


def _patients(r: dict, kfold: bool) -> str:
    if r["status"] != "ok" or not r["n"]:
        return ""
    text = f"{r['n']} ({r['n_pos']} ER)"
    return text + (f", {r['n_folds']} folds" if kfold else "")


def method_text(study: Mapping, block: dict) -> str:
    """How the reproduced numbers were computed, in one paragraph."""
    ci = block.get("auc_ci") or {}
    ci_name = {
        "delong": "DeLong",
        "binomial": "exact binomial (MedCalc)",
        "bootstrap": f"stratified bootstrap ({ci.get('n_boot', 2000)} resamples)",
    }[ci.get("method", "delong")]
    level = round(100 * ci.get("level", 0.95))
    thr = block.get("threshold") or {"method": "fixed", "value": 0.5}
    cut = (
        f"a fixed cut-off of {thr['value']}"
        if thr["method"] == "fixed"
        else "Youden's J on the model's training-cohort ROC, applied unchanged to the other cohorts"
        if thr["from"] == "train"
        else "Youden's J on each cohort's own ROC"
    )
    if study["split"]["method"] == "kfold":
        n = study["split"].get("n_folds")
        head = (
            f"Mean ± SD (ddof 1) over the {n} test folds of per-fold AUC and threshold "
            f"metrics at {cut} (score ≥ cut-off is ER); beside the AUC, the pooled "
            f"out-of-fold AUC with its {level}% {ci_name} CI."
        )
    else:
        head = (
            f"AUC with its {level}% {ci_name} CI; accuracy, sensitivity, specificity, "
            f"PPV and NPV with exact {level}% CIs at {cut} (score ≥ cut-off is ER)."
        )
    return (
        head + " Statistics from `hccer.stats` on the prediction ledger "
        "(`ledger/ledger.csv`), one row per patient."
    )


def data_text(source: str, synthetic: dict | None, flow: dict | None, folds: dict | None) -> str:
    """What data this run used: the synthetic twin with its n, seed and oracle AUCs, or the
    user's cohort; then how many patients entered the split."""
    parts = []
    if source == "synthetic" and synthetic:
        o = synthetic.get("oracle_auc", {})
        parts.append(
            f"**Synthetic twin cohort** made by `hccer synth` (generator "
            f"{synthetic.get('generator_version', '?')}): n = {synthetic['n']} simulated "
            f"patients, seed {synthetic['seed']}, {synthetic.get('n_analysed', '?')} with an "
            f"outcome ({synthetic.get('n_er_analysed', '?')} ER), "
            f"{synthetic.get('n_censored', 0)} censored before the horizon. Oracle AUC (the "
            f"true posterior, which no fitted model knows): overall {o.get('overall', NAN):.3f}, "
            f"image-only {o.get('image_only', NAN):.3f}, clinical-only "
            f"{o.get('clinical_only', NAN):.3f}. Learnable ceiling at this size (the 5-fold "
            f"cross-validated AUC of a logistic model handed every variable exactly): overall "
            f"{o.get('overall_learnable_cv5') or NAN:.3f}, image-only "
            f"{o.get('image_learnable_cv5') or NAN:.3f}; a reference "
            "for what this many patients let a model learn (see the twin check below). "
            "These are not the paper's patients: the "
            "reproduced numbers test the pipeline, not the paper's findings."
        )
    else:
        parts.append(
            "**The user's cohort** (`data.source: cohort`)"
            + (
                f": {flow['n_sheet']} patients in the clinical sheet, "
                f"{flow['n_included']} with a usable outcome "
                f"({flow['n_er']} ER, {flow['n_ner']} non-ER)."
                if flow
                else "."
            )
        )
    if folds:
        method = folds.get("method", "")
        f0 = folds["folds"][0] if folds.get("folds") else {}
        split = (
            f"{len(folds['folds'])}-fold cross-validation"
            if method == "kfold"
            else f"{method.replace('_', ' ')}: {len(f0.get('train', []))} training, "
            f"{len(f0.get('test', []))} test patients"
        )
        parts.append(
            f"After triage and registration QC, {folds['n']} patients entered the "
            f"split ({split}, seed {folds.get('seed')})."
        )
    return " ".join(parts)


def _header(study: Mapping, block: dict, data: str, settings: str) -> list[str]:
    """Title, whether demo settings were in force, the paper's citation, and where the data and
    both sets of numbers come from."""
    paper = study.get("paper") or {}
    cohorts = block.get("cohorts") or {}
    cite = ", ".join(
        str(x) for x in (paper.get("first_author"), paper.get("journal"), paper.get("year")) if x
    )
    lines = [
        f"# Published vs reproduced: {study['key']}",
        "",
        f"**Settings.** {settings}",
        "",
        f"{study['title']}"
        + (
            f" ({cite}" + (f", doi {paper['doi']}" if paper.get("doi") else "") + ")"
            if cite
            else ""
        )
        + ".",
        "",
        f"**Data of this run.** {data}",
        "",
        f"**Published values.** {block['source']}."
        + (f" Paper's unit: {block['unit'].strip()}." if block.get("unit") else ""),
        "",
        f"**Reproduced values.** {method_text(study, block)}",
        "",
    ]
    if cohorts:
        lines += [
            "Cohorts: " + "; ".join(f"`{k}` = the paper's {v}" for k, v in cohorts.items()) + ".",
            "",
        ]
    return lines


_TABLE_HEAD = (
    "item",
    "paper",
    "model",
    "cohort",
    "metric",
    "published",
    "reproduced",
    "Δ",
    "patients",
    "status",
)


def _published_row(r: dict, kfold: bool, multi_seed: bool, reasons: dict[str, str]) -> str:
    """One table row; a new reason for a missing number gets the next footnote letter."""
    status = r["status"]
    if r["status"] != "ok":
        key = reasons.setdefault(r["reason"], chr(ord("a") + len(reasons)))
        status = f"{r['status']} ({key})"
    note = f" ({r['note']})" if r.get("note") else ""
    metric = METRIC_LABEL[r["metric"]] + (f" vs {r['versus']}" if r.get("versus") else "")
    cells = [
        r["item"] + note,
        r["table"],
        f"`{r['model']}`",
        r["cohort"],
        metric,
        format_published(r),
        format_reproduced(r)
        + (f"; {r['extra']}" if r.get("extra") and r["status"] == "ok" else ""),
        format_delta(r),
        _patients(r, kfold),
        status,
    ]
    if multi_seed:
        cells.insert(3, "" if r["seed"] is None or pd.isna(r["seed"]) else str(int(r["seed"])))
    return "| " + " | ".join(str(c).replace("|", r"\|") for c in cells) + " |"


def _published_table(table: pd.DataFrame, kfold: bool) -> list[str]:
    """Every published number beside this run's, then the footnoted reasons for gaps."""
    # a seed column only when some model was trained with several seeds
    multi_seed = (
        bool(len(table))
        and table.groupby(["model", "cohort", "metric", "item"])["seed"].nunique().max() > 1
    )
    head = list(_TABLE_HEAD)
    if multi_seed:
        head.insert(3, "seed")
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    reasons: dict[str, str] = {}
    for r in table.to_dict("records"):
        lines.append(_published_row(r, kfold, multi_seed, reasons))
    if reasons:
        lines += ["", "Not run / not computed:", ""]
        lines += [f"- ({k}) {reason}" for reason, k in reasons.items()]
    return lines


def _others_section(others: pd.DataFrame, kfold: bool) -> list[str]:
    """AUC of the ledger models no published number names; nothing when there are none."""
    if others.empty:
        return []
    lines = [
        "",
        "## Other models of this run",
        "",
        "Models in the ledger that no published number names (label-permutation "
        "controls score near 0.5 when nothing leaks), AUC computed as above:",
        "",
        "| model | cohort | AUC | patients | status |",
        "|---|---|---|---|---|",
    ]
    for r in others.to_dict("records"):
        auc = {"reproduced": r["value"], "metric": "auc", **r}
        lines.append(
            f"| `{r['model']}` | {r['cohort']} | "
            f"{format_reproduced(auc)}{'; ' + r['extra'] if r['extra'] else ''} | "
            f"{_patients(r, kfold)} | "
            f"{r['status'] + (': ' + r['reason'] if r['reason'] else '')} |"
        )
    return lines


def render_markdown(
    table: pd.DataFrame, others: pd.DataFrame, study: Mapping, block: dict, data: str,
    settings: str,
) -> str:
    kfold = study["split"]["method"] == "kfold"
    lines = (
        _header(study, block, data, settings)
        + _published_table(table, kfold)
        + _others_section(others, kfold)
    )
    return "\n".join(lines) + "\n"


def twin_check(ledger: pd.DataFrame | None, synthetic: dict | None) -> str:
    """Markdown: every model's AUC on its evaluation patients (pooled out-of-fold, or the test
    cohort) beside the twin's learnable ceilings and image oracle, best model first; the
    permutation controls are listed as such. Empty without a twin record or a ledger."""
    from hccer.stats.roc import auc_with_ci

    if ledger is None or not synthetic:
        return ""
    o = synthetic.get("oracle_auc") or {}
    refs = [("overall ceiling", o.get("overall_learnable_cv5")),
            ("image ceiling", o.get("image_learnable_cv5")),
            ("image oracle", o.get("image_only"))]
    rows = []
    for model, g in ledger[ledger["cohort"] == "test"].groupby("model"):
        per = g.groupby("patient").agg(score=("score", "mean"), label=("label", "first"))
        if per["label"].nunique() < 2:
            continue
        r = auc_with_ci(per["score"], per["label"], "delong", 0.95, 0, 0)
        rows.append((model, len(per), r))
    if not rows:
        return ""
    rows.sort(key=lambda t: (t[0].endswith("_perm"), -t[2].auc, t[0]))
    head = ["model", "patients", "AUC (95% CI)"] + [f"÷ {name}" for name, _ in refs]
    lines = [
        "## Twin check",
        "",
        "Every model's AUC on its evaluation patients (out-of-fold, pooled over folds, for "
        "cross-validation; the test cohort for a hold-out split) as a fraction of the twin's "
        "references: the learnable ceilings (what a logistic model handed the exact variables "
        "reaches under 5-fold CV at this cohort size) and the image-only oracle (the true "
        "posterior). A ratio near 1 to a ceiling means the model extracts about all that "
        "this many patients allow; label-permutation controls (`*_perm`) should sit near "
        "AUC 0.5.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "|".join("---" for _ in head) + "|",
    ]
    for model, n, r in rows:
        ratios = ["—" if not ref else f"{r.auc / ref:.2f}" for _, ref in refs]
        lines.append(f"| `{model}` | {n} | {r.auc:.3f} ({r.ci_low:.3f}–{r.ci_high:.3f}) | "
                     + " | ".join(ratios) + " |")
    return "\n".join(lines) + "\n"


def tsv(table: pd.DataFrame) -> str:
    return table.to_csv(sep="\t", index=False, float_format="%.6g", lineterminator="\n")
