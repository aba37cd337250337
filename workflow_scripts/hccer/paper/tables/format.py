"""Cell formats, cohort and test names, and the threshold rules the table builders share."""

from __future__ import annotations

import math

import pandas as pd

from hccer.errors import ConfigError, InputError
from hccer.paper.inputs import Inputs, NotRun

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
    from hccer.ledger import check_binary_outcome
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


def threshold_rule_text(item: dict) -> str:
    if item.get("youden_from") == "own":
        return "Youden's J within each cohort (MedCalc's default criterion)"
    if "youden_from" in item:
        return f"Youden's J on the {COHORT_NAMES[item['youden_from']].lower()} cohort"
    return f"fixed {float(item.get('threshold', 0.5)):g}"
