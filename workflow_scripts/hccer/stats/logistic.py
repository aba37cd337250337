"""Logistic regression with odds ratios: univariate screen, then a multivariable model.

Maximum likelihood via statsmodels Logit; odds ratios with Wald CIs and Wald p-values (what
SPSS and R `glm` + `confint.default` print).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def fit(df: pd.DataFrame, outcome: str, predictors: list[str], level: float = 0.95):
    """Fit outcome ~ predictors (with intercept); returns the statsmodels result."""
    import statsmodels.api as sm

    X = sm.add_constant(df[predictors].astype(float), has_constant="add")
    return sm.Logit(df[outcome].astype(float), X).fit(disp=0, maxiter=200)


def odds_ratios(result, level: float = 0.95) -> pd.DataFrame:
    ci = np.exp(result.conf_int(alpha=1 - level))
    out = pd.DataFrame({"coef": result.params, "se": result.bse,
                        "odds_ratio": np.exp(result.params), "ci_low": ci[0], "ci_high": ci[1],
                        "p_value": result.pvalues})
    return out.drop(index="const").rename_axis("variable").reset_index()


def univariate(df: pd.DataFrame, outcome: str, predictors: list[str],
               level: float = 0.95) -> pd.DataFrame:
    """One model per predictor (patients missing that predictor left out)."""
    rows = []
    for var in predictors:
        sub = df[[outcome, var]].dropna()
        r = odds_ratios(fit(sub, outcome, [var]), level)
        r["n"] = len(sub)
        rows.append(r)
    return pd.concat(rows, ignore_index=True)


def univariate_to_multivariable(df: pd.DataFrame, outcome: str, predictors: list[str],
                                alpha_enter: float = 0.05, level: float = 0.95) -> dict:
    """Univariate screen (p < alpha_enter), then one multivariable model on the survivors
    (complete cases). Returns both tables and the selected variables."""
    uni = univariate(df, outcome, predictors, level)
    selected = uni.loc[uni["p_value"] < alpha_enter, "variable"].tolist()
    multi = None
    result = None
    if selected:
        sub = df[[outcome, *selected]].dropna()
        result = fit(sub, outcome, selected)
        multi = odds_ratios(result, level)
        multi["n"] = len(sub)
    return {"univariate": uni, "multivariable": multi, "selected": selected, "result": result}


def nomogram_scale(result, ranges: dict[str, tuple[float, float]]) -> dict:
    """Points per variable for a nomogram (rms style): the variable with the widest range of
    linear-predictor contribution spans 0-100 points; total points map back to probability.

    ranges: {variable: (min, max)} of the values to draw. Returns per-variable point slopes and
    the total-points-to-linear-predictor mapping.
    """
    params = result.params.drop("const")
    spans = {v: abs(params[v]) * (ranges[v][1] - ranges[v][0]) for v in params.index}
    widest = max(spans.values())
    per_unit = {v: 100.0 * abs(params[v]) / widest for v in params.index}
    # linear predictor at zero points: every variable at its lowest-risk end
    lp0 = float(result.params["const"]) + sum(
        params[v] * (ranges[v][0] if params[v] > 0 else ranges[v][1]) for v in params.index)
    return {"coef": params.to_dict(), "ranges": ranges, "points_per_unit": per_unit,
            "lp_at_zero": lp0, "lp_per_point": widest / 100.0}
