"""Baseline tables ("Table 1") with the group-comparison test each paper used.

Categorical rules (named as the presets use them; the papers' printed p-values are reproduced
from their printed counts by these rules):

- `pearson`: Pearson chi-square without continuity correction, always (paper 000/001).
- `yates_fisher5`: Fisher's exact test when any expected count is < 5, otherwise chi-square with
  Yates' correction (R chisq.test default; the correction only exists for 2x2) (paper 002).
- `spss`: n >= 40 and all expected >= 5: Pearson; n >= 40 and the smallest expected count in
  [1, 5): Yates; n < 40 or any expected < 1: Fisher (paper 003).
- `pearson_fisher5_2x2`: Pearson without correction, except Fisher for a 2x2 table with any
  expected count < 5; larger tables always Pearson (paper 004).

Continuous variables: `ttest` (Student), `welch`, `mwu` (Mann-Whitney U, two-sided, with
continuity correction as SPSS/R for large samples), or `auto`: Shapiro-Wilk in each group at
alpha 0.05; both normal -> Student's t (Welch when Levene's p < 0.05), otherwise Mann-Whitney.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

RULES = ("pearson", "yates_fisher5", "spss", "pearson_fisher5_2x2")
CONTINUOUS = ("auto", "ttest", "welch", "mwu")
_MAX_TABLES = 5_000_000


def expected_counts(table) -> np.ndarray:
    t = np.asarray(table, dtype=float)
    return np.outer(t.sum(1), t.sum(0)) / t.sum()


def chi_square(table, correction: bool) -> tuple[float, int, float]:
    from scipy.stats import chi2_contingency

    res = chi2_contingency(np.asarray(table), correction=correction)
    return float(res.statistic), int(res.dof), float(res.pvalue)


def _fisher_rx2(t: np.ndarray) -> float:
    """Exact two-sided Fisher test for an r x 2 table by full enumeration (p of all tables no
    more probable than the observed one, relative tolerance 1e-7 as R fisher.test)."""
    from scipy.special import gammaln

    rows = t.sum(1).astype(int)
    c1 = int(t[:, 0].sum())

    def lchoose(n, k):
        return gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1)

    sums = np.array([0])
    logp = np.array([0.0])
    remaining = np.r_[np.cumsum(rows[::-1])[::-1], 0]
    for i, r in enumerate(rows):
        x = np.arange(r + 1)
        ns = (sums[:, None] + x[None, :]).ravel()
        lp = (logp[:, None] + lchoose(r, x)[None, :]).ravel()
        keep = (ns <= c1) & (ns + remaining[i + 1] >= c1)
        sums, logp = ns[keep], lp[keep]
        if sums.size > _MAX_TABLES:
            raise ValueError("table too large for an exact Fisher test")
    logp -= lchoose(rows.sum(), c1)
    obs = float(sum(lchoose(r, x) for r, x in zip(rows, t[:, 0].astype(int), strict=True))
                - lchoose(rows.sum(), c1))
    p = np.exp(logp)
    return float(min(1.0, p[logp <= obs + 1e-7 * abs(obs) + 1e-12].sum()))


def fisher(table) -> float:
    """Two-sided Fisher exact p for 2x2 (scipy) or r x 2 / 2 x c (exact enumeration)."""
    from scipy.stats import fisher_exact

    t = np.asarray(table, dtype=int)
    if t.shape == (2, 2):
        return float(fisher_exact(t).pvalue)
    if t.shape[1] != 2:
        t = t.T
    if t.shape[1] != 2:
        raise ValueError("exact Fisher test is implemented for tables with 2 rows or columns")
    return _fisher_rx2(t)


def _drop_empty(table: np.ndarray) -> np.ndarray:
    t = np.asarray(table)
    return t[t.sum(1) > 0][:, t.sum(0) > 0]


def contingency_test(table, rule: str) -> dict:
    """p-value for a contingency table (groups in columns or rows) under a named rule.

    Rows or columns with no patients are dropped first; a table left with a single row or
    column has no test (p NaN), as papers print "—".
    """
    if rule not in RULES:
        raise ValueError(f"unknown rule {rule!r}; choose one of {', '.join(RULES)}")
    t = _drop_empty(np.asarray(table, dtype=float))
    res = {"min_expected": float("nan"), "statistic": float("nan"), "df": None,
           "p_value": float("nan"), "test": "none"}
    if t.shape[0] < 2 or t.shape[1] < 2:
        return res
    e = expected_counts(t)
    n = t.sum()
    res["min_expected"] = float(e.min())
    is2x2 = t.shape == (2, 2)
    if rule == "pearson":
        test = "pearson"
    elif rule == "yates_fisher5":
        test = "fisher" if e.min() < 5 else ("yates" if is2x2 else "pearson")
    elif rule == "spss":
        if n < 40 or e.min() < 1:
            test = "fisher"
        elif e.min() < 5:
            test = "yates" if is2x2 else "pearson"
        else:
            test = "pearson"
    else:
        test = "fisher" if (is2x2 and e.min() < 5) else "pearson"
    if test == "fisher":
        res.update(test="fisher", p_value=fisher(t.astype(int)))
    else:
        stat, df, p = chi_square(t, correction=(test == "yates"))
        res.update(test=test, statistic=stat, df=df, p_value=p)
    return res


def continuous_test(a, b, method: str = "auto") -> dict:
    """Two-group comparison of a continuous variable (see module docstring)."""
    from scipy import stats

    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if method not in CONTINUOUS:
        raise ValueError(f"unknown continuous test {method!r}; choose {', '.join(CONTINUOUS)}")
    if method == "auto":
        normal = all(x.size >= 3 and stats.shapiro(x).pvalue >= 0.05 for x in (a, b))
        if not normal:
            method = "mwu"
        else:
            method = "welch" if stats.levene(a, b).pvalue < 0.05 else "ttest"
    if method == "mwu":
        r = stats.mannwhitneyu(a, b, alternative="two-sided", use_continuity=True,
                               method="asymptotic")
    else:
        r = stats.ttest_ind(a, b, equal_var=(method == "ttest"))
    return {"test": method, "statistic": float(r.statistic), "p_value": float(r.pvalue)}


def format_p(p: float, digits: int = 3) -> str:
    """Rounded to `digits` decimals; '<0.001' only when rounding would print zero (so 0.00053
    prints 0.001, as the papers do); '—' when there is no test."""
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "—"
    text = f"{p:.{digits}f}"
    if float(text) == 0.0:
        return f"<{10.0 ** -digits:.{digits}f}"
    return text


def _mean_sd(x: np.ndarray) -> str:
    return f"{np.mean(x):.2f} ± {np.std(x, ddof=1):.2f}" if x.size > 1 else "—"


def _median_iqr(x: np.ndarray) -> str:
    if x.size == 0:
        return "—"
    q1, q2, q3 = np.percentile(x, [25, 50, 75])
    return f"{q2:.2f} ({q1:.2f}–{q3:.2f})"


def build_table1(df: pd.DataFrame, group: str, variables: list[str] | None = None,
                 rule: str = "pearson", continuous: str = "auto",
                 categorical: list[str] | None = None, max_levels: int = 5,
                 percent: bool = True, numeric: list[str] | None = None) -> pd.DataFrame:
    """Baseline table: one row per categorical level or continuous variable, one column per
    group plus Total, with the p-value and the test used on the variable's first row.

    A variable is categorical when listed in `categorical`, non-numeric, or numeric with at
    most `max_levels` distinct values that are all whole numbers; otherwise continuous (always
    for a variable listed in `numeric`: a caller tabulating several sub-cohorts decides the
    kind once, so a small block cannot turn a continuous variable into levels). A
    pandas Categorical column keeps its declared level order, levels no patient has included
    (count 0; such a level does not enter the test). Cells are "n (%)", or "n" when `percent`
    is false. Missing values are left out of each variable's counts and test.
    """
    if group not in df.columns:
        raise KeyError(group)
    groups = sorted(df[group].dropna().unique(), key=str)
    variables = variables or [c for c in df.columns if c != group]
    categorical, numeric = set(categorical or []), set(numeric or [])
    rows = []
    for var in variables:
        col = df[var]
        sub = df.loc[col.notna() & df[group].notna(), [var, group]]
        x = sub[var]
        is_cat = var in categorical or (var not in numeric and is_categorical(x, max_levels))
        if is_cat:
            ct = pd.crosstab(sub[var], sub[group]).reindex(columns=groups, fill_value=0)
            if isinstance(x.dtype, pd.CategoricalDtype):
                ct = ct.reindex(x.cat.categories, fill_value=0)
            test = contingency_test(ct.to_numpy(), rule)
            for i, (level, counts) in enumerate(ct.iterrows()):
                row = {"variable": var, "level": str(level),
                       "Total": _count(counts.sum(), ct.values.sum(), percent)}
                for g in groups:
                    row[str(g)] = _count(counts[g], ct[g].sum(), percent)
                row.update(_test_cells(test, first=(i == 0)))
                rows.append(row)
        else:
            parts = [sub.loc[sub[group] == g, var].to_numpy(float) for g in groups]
            if sum(p.size > 0 for p in parts) < 2:  # one group with values: nothing to compare
                test = {"test": "none", "statistic": float("nan"), "p_value": float("nan")}
                summ = _mean_sd if continuous in ("ttest", "welch") else _median_iqr
            elif len(groups) == 2:
                test = continuous_test(parts[0], parts[1], continuous)
            else:
                from scipy.stats import f_oneway, kruskal

                fn = kruskal if continuous == "mwu" else f_oneway
                r = fn(*parts)
                test = {"test": "kruskal" if continuous == "mwu" else "anova",
                        "statistic": float(r.statistic), "p_value": float(r.pvalue)}
            if test["test"] != "none":
                summ = _median_iqr if test["test"] in ("mwu", "kruskal") else _mean_sd
            row = {"variable": var, "level": "median (IQR)" if summ is _median_iqr
                   else "mean ± SD", "Total": summ(x.to_numpy(float))}
            for g, p in zip(groups, parts, strict=True):
                row[str(g)] = summ(p)
            row.update(_test_cells(test, first=True))
            rows.append(row)
    cols = ["variable", "level", "Total", *map(str, groups), "p_value", "p", "test"]
    return pd.DataFrame(rows)[cols]


def is_categorical(x: pd.Series, max_levels: int = 5) -> bool:
    """`build_table1`'s automatic kind of a variable's non-missing values: non-numeric, or at
    most `max_levels` distinct whole numbers."""
    numeric = pd.api.types.is_numeric_dtype(x) and not pd.api.types.is_bool_dtype(x)
    return not numeric or (x.nunique() <= max_levels and bool(np.all(np.mod(x, 1) == 0)))


def _count(n, total, percent: bool) -> str:
    if not percent:
        return str(int(n))
    return f"{int(n)} ({100 * n / total:.1f})" if total else "—"


def _test_cells(test: dict, first: bool) -> dict:
    if not first:
        return {"p_value": np.nan, "p": "", "test": ""}
    return {"p_value": test["p_value"], "p": format_p(test["p_value"]), "test": test["test"]}
