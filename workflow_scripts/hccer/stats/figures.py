"""Journal figures in one style: ROC, calibration, decision curves, Kaplan-Meier with a
number-at-risk table, odds-ratio forest plot and a logistic nomogram.

Each function takes plain arrays or result dicts and writes <stem>.png (300 dpi) and
<stem>.pdf. matplotlib runs on the Agg backend, so no display is needed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

# colour-blind-safe (Okabe-Ito), distinguishable in greyscale through line styles
COLORS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000",
          "#F0E442"]
STYLES = ["-", "--", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1)), (0, (1, 1)), (0, (5, 5))]
RC = {"font.family": "DejaVu Sans", "font.size": 9, "axes.titlesize": 10,
      "axes.labelsize": 9, "legend.fontsize": 8, "xtick.labelsize": 8, "ytick.labelsize": 8,
      "axes.linewidth": 0.8, "lines.linewidth": 1.6, "axes.spines.top": False,
      "axes.spines.right": False, "savefig.bbox": "tight", "pdf.fonttype": 42,
      # a legend inside the axes often sits on the curves: a borderless, nearly opaque
      # white box keeps its text readable
      "legend.frameon": True, "legend.framealpha": 0.85, "legend.edgecolor": "none"}


def pyplot_styled():
    """matplotlib.pyplot on the Agg backend with the journal style (`RC`) applied."""
    import logging

    import matplotlib

    # the PDF font subsetter logs every glyph at INFO
    logging.getLogger("fontTools").setLevel(logging.WARNING)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update(RC)
    return plt


def save(fig, stem: str | Path) -> list[Path]:
    """Write PNG and PDF next to each other (atomic rename)."""
    import os
    import tempfile

    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for ext, kw in ((".png", {"dpi": 300}), (".pdf", {})):
        path = stem.with_suffix(ext)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=ext)
        os.close(fd)
        fig.savefig(tmp, **kw)
        os.replace(tmp, path)
        paths.append(path)
    pyplot_styled().close(fig)
    return paths


def draw_roc(ax, curves: list[dict], legend_title: str | None = "AUC (95% CI)") -> None:
    """ROC curves on `ax`; curves: [{name, fpr, tpr, auc, ci_low, ci_high}] or, with a ready
    legend entry, [{name, fpr, tpr, label}]."""
    ax.plot([0, 1], [0, 1], color="0.6", lw=0.8, ls=":")
    for i, c in enumerate(curves):
        lab = c.get("label") or (f"{c['name']}: {c['auc']:.3f} "
                                 f"({c['ci_low']:.3f}–{c['ci_high']:.3f})")
        ax.plot(c["fpr"], c["tpr"], label=lab, color=COLORS[i % len(COLORS)],
                ls=STYLES[i % len(STYLES)])
    ax.set(xlim=(-0.01, 1.01), ylim=(-0.01, 1.01), xlabel="1 − specificity",
           ylabel="Sensitivity", aspect="equal")
    ax.legend(loc="lower right", title=legend_title, title_fontsize=8)


def roc_figure(curves: list[dict], stem, title: str | None = None) -> list[Path]:
    """curves: [{name, fpr, tpr, auc, ci_low, ci_high}] -> ROC plot with AUC (CI) legend."""
    plt = pyplot_styled()
    fig, ax = plt.subplots(figsize=(3.6, 3.6))
    draw_roc(ax, curves)
    if title:
        ax.set_title(title)
    return save(fig, stem)


def draw_calibration(ax, models: list[dict]) -> None:
    """Reliability diagram on `ax`; models: [{name, curve: [{predicted, observed, ci_low,
    ci_high}], smooth: optional {predicted, observed, low, high}}]."""
    ax.plot([0, 1], [0, 1], color="0.4", lw=0.9, ls="--", label="Ideal")
    for i, m in enumerate(models):
        col = COLORS[i % len(COLORS)]
        pts = m["curve"]
        x = [p["predicted"] for p in pts]
        y = [p["observed"] for p in pts]
        err = [[p["observed"] - p["ci_low"] for p in pts], [p["ci_high"] - p["observed"]
                                                           for p in pts]]
        ax.errorbar(x, y, yerr=err, fmt="o-" if m.get("connect") else "o", ms=3.5, color=col,
                    elinewidth=0.7, capsize=1.5, lw=1.0,
                    label=f"{m['name']} (bins)" if m.get("smooth") else m["name"])
        if m.get("smooth"):
            s = m["smooth"]
            ax.plot(s["predicted"], s["observed"], color=col, ls=STYLES[i % len(STYLES)],
                    label=f"{m['name']} (lowess)")
            if "low" in s:
                ax.fill_between(s["predicted"], s["low"], s["high"], color=col, alpha=0.15,
                                lw=0)
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="Predicted probability",
           ylabel="Observed proportion", aspect="equal")
    ax.legend(loc="upper left")


def calibration_figure(models: list[dict], stem, title: str | None = None) -> list[Path]:
    """models: [{name, curve: [{predicted, observed, ci_low, ci_high}], smooth: optional
    {predicted, observed, low, high}}] -> reliability diagram with the ideal diagonal."""
    plt = pyplot_styled()
    fig, ax = plt.subplots(figsize=(3.6, 3.6))
    draw_calibration(ax, models)
    if title:
        ax.set_title(title)
    return save(fig, stem)


def draw_dca(ax, table) -> None:
    """Decision curves on `ax` from the long DataFrame of `dca.binary_dca`/`survival_dca`."""
    ymax = 0.0
    models = [v for v in table["variable"].unique() if v not in ("all", "none")]
    for v in ("all", "none"):
        g = table[table["variable"] == v]
        ax.plot(g["threshold"], g["net_benefit"], color="0.55" if v == "all" else "0",
                lw=1.0, label=g["label"].iloc[0])
        ymax = max(ymax, g["net_benefit"].max())
    for i, v in enumerate(models):
        g = table[table["variable"] == v]
        ax.plot(g["threshold"], g["net_benefit"], color=COLORS[i % len(COLORS)],
                ls=STYLES[i % len(STYLES)], label=g["label"].iloc[0])
        ymax = max(ymax, g["net_benefit"].max())
    ax.set_ylim(-0.1 if ymax > 0.1 else -0.05, ymax + 0.05)
    ax.set_xlim(table["threshold"].min(), table["threshold"].max())
    ax.set(xlabel="Threshold probability", ylabel="Net benefit")
    ax.legend(loc="upper right")


def dca_figure(table, stem, title: str | None = None) -> list[Path]:
    """table: the long decision-curve DataFrame of `dca.binary_dca`/`survival_dca`."""
    plt = pyplot_styled()
    fig, ax = plt.subplots(figsize=(4.4, 3.4))
    draw_dca(ax, table)
    if title:
        ax.set_title(title)
    return save(fig, stem)


def draw_km(ax, tab, groups: list[dict], at_risk_times=None, logrank_p: float | None = None,
            xlabel: str = "Time") -> None:
    """KM step curves with censor ticks and 95% CI bands on `ax`, the number-at-risk table on
    `tab` (an axes below it sharing the time scale); groups: [{name, time, event}]."""
    from hccer.stats.survival import kaplan_meier

    tmax = max(float(np.max(g["time"])) for g in groups)
    ax.set_xlim(0, tmax * 1.02)
    if at_risk_times is None:
        at_risk_times = [x for x in ax.get_xticks() if 0 <= x <= tmax]
    for i, g in enumerate(groups):
        t = np.asarray(g["time"], float)
        e = np.asarray(g["event"]).astype(bool)
        km = kaplan_meier(t, e)
        # the curve runs to the last follow-up, event or censored
        xs = np.r_[0, km["time"], t.max()]
        col = COLORS[i % len(COLORS)]
        last = km["surv"][-1] if km["surv"].size else 1.0
        ax.step(xs, np.r_[1, km["surv"], last], where="post", color=col,
                ls=STYLES[i % len(STYLES)], label=f"{g['name']} (n = {t.size})")
        lo = km["lower"][-1] if km["lower"].size else 1.0
        hi = km["upper"][-1] if km["upper"].size else 1.0
        ax.fill_between(xs, np.r_[1, km["lower"], lo], np.r_[1, km["upper"], hi], step="post",
                        color=col, alpha=0.12, lw=0)
        cens = t[~e]
        if cens.size:
            idx = np.searchsorted(km["time"], cens, side="right") - 1
            # a group without events stays at 1 (its survival table is empty)
            sv = (np.where(idx >= 0, km["surv"][np.maximum(idx, 0)], 1.0) if km["surv"].size
                  else np.ones(cens.size))
            ax.plot(cens, sv, "|", color=col, ms=5, mew=0.8)
        y = len(groups) - 1 - i
        for x in at_risk_times:
            tab.text(x, y, str(int((t >= x).sum())), ha="center", va="center", fontsize=8,
                     color=col)
        tab.text(-0.08, y, g["name"], ha="right", va="center", fontsize=8, color=col,
                 transform=tab.get_yaxis_transform())
    ax.set(ylim=(0, 1.02), ylabel="Survival probability", xlabel=xlabel)
    title = None
    if logrank_p is not None:
        from hccer.stats.table1 import format_p

        ptxt = format_p(logrank_p)
        title = f"Log-rank p {'= ' if not ptxt.startswith('<') else ''}{ptxt}"
    # the p-value heads the legend, placed where it covers the fewest curves
    ax.legend(loc="best", title=title, title_fontsize=8)
    tab.set_xlim(ax.get_xlim())
    tab.set_ylim(-0.5, len(groups) - 0.5)
    tab.set_yticks([])
    tab.set_xticks(at_risk_times)
    tab.tick_params(axis="x", length=0, labelbottom=False)
    for side in ("left", "bottom"):
        tab.spines[side].set_visible(False)
    tab.set_title("Number at risk", loc="left", fontsize=8)


def km_figure(groups: list[dict], stem, at_risk_times=None, logrank_p: float | None = None,
              xlabel: str = "Time", title: str | None = None) -> list[Path]:
    """groups: [{name, time, event}] -> KM step curves with censor ticks, 95% CI bands and a
    number-at-risk table below the axis."""
    plt = pyplot_styled()
    fig = plt.figure(figsize=(4.8, 4.0))
    ax = fig.add_axes([0.15, 0.36, 0.8, 0.58])
    tab = fig.add_axes([0.15, 0.05, 0.8, 0.16])
    draw_km(ax, tab, groups, at_risk_times, logrank_p, xlabel)
    if title:
        ax.set_title(title)
    return save(fig, stem)


def forest_figure(rows, stem, title: str | None = None, xlabel: str = "Odds ratio (95% CI)"):
    """rows: DataFrame/records with variable, odds_ratio, ci_low, ci_high, p_value."""
    import pandas as pd

    from hccer.stats.table1 import format_p

    df = pd.DataFrame(rows).reset_index(drop=True)
    plt = pyplot_styled()
    h = 0.9 + 0.32 * len(df)
    fig, ax = plt.subplots(figsize=(6.0, h))
    y = np.arange(len(df))[::-1]
    ax.axvline(1.0, color="0.5", lw=0.8, ls="--")
    ax.errorbar(df["odds_ratio"], y, xerr=[df["odds_ratio"] - df["ci_low"],
                                           df["ci_high"] - df["odds_ratio"]],
                fmt="s", color=COLORS[0], ms=4, elinewidth=1.0, capsize=2)
    ax.set_xscale("log")
    from matplotlib.ticker import FixedLocator, NullFormatter, NullLocator

    lo, hi = float(df["ci_low"].min()), float(df["ci_high"].max())
    nice = [v for v in (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100)
            if lo / 1.5 <= v <= hi * 1.5]
    ax.xaxis.set_major_locator(FixedLocator(nice))
    ax.set_xticklabels([f"{v:g}" for v in nice])
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_yticks(y, df["variable"])
    ax.set_ylim(-0.7, len(df) - 0.3)
    ax.set_xlabel(xlabel)
    for yi, r in zip(y, df.itertuples(), strict=True):
        ax.text(1.02, yi, f"{r.odds_ratio:.2f} ({r.ci_low:.2f}–{r.ci_high:.2f})  "
                f"p {format_p(r.p_value)}", transform=ax.get_yaxis_transform(),
                va="center", fontsize=8)
    if title:
        ax.set_title(title)
    return save(fig, stem)


def nomogram_figure(scale: dict, stem, labels: dict[str, str] | None = None,
                    title: str | None = None) -> list[Path]:
    """Nomogram for a logistic model from `logistic.nomogram_scale`: a points axis, one axis
    per predictor, total points and predicted probability."""
    plt = pyplot_styled()
    labels = labels or {}
    names = list(scale["coef"])
    n_rows = len(names) + 3
    fig, ax = plt.subplots(figsize=(6.4, 0.55 * n_rows + 0.6))
    ax.set_xlim(-35, 105)
    ax.set_ylim(-0.5, n_rows - 0.5)
    ax.axis("off")

    def axis_row(y, label, positions, ticklabels):
        ax.plot([min(positions), max(positions)], [y, y], color="k", lw=0.9)
        for x, t in zip(positions, ticklabels, strict=True):
            ax.plot([x, x], [y, y + 0.12], color="k", lw=0.8)
            ax.text(x, y + 0.18, t, ha="center", va="bottom", fontsize=7)
        ax.text(-33, y, label, ha="left", va="center", fontsize=8.5, fontweight="bold")

    y = n_rows - 1
    axis_row(y, "Points", list(range(0, 101, 10)), [str(v) for v in range(0, 101, 10)])
    for v in names:
        y -= 1
        lo, hi = scale["ranges"][v]
        vals = np.linspace(lo, hi, 5) if hi - lo > 4 else np.arange(lo, hi + 1)
        b = scale["coef"][v]
        pts = [scale["points_per_unit"][v] * ((x - lo) if b > 0 else (hi - x)) for x in vals]
        axis_row(y, labels.get(v, v), pts, [f"{x:g}" for x in vals])
    total_max = sum(scale["points_per_unit"][v] * (scale["ranges"][v][1] - scale["ranges"][v][0])
                    for v in names)
    y -= 1
    ticks = np.linspace(0, total_max, 6)
    axis_row(y, "Total points", list(ticks * 100 / total_max), [f"{t:.0f}" for t in ticks])
    y -= 1
    probs = [p for p in (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95)]
    lp = np.log(np.array(probs) / (1 - np.array(probs)))
    tp = (lp - scale["lp_at_zero"]) / scale["lp_per_point"]
    ok = (tp >= 0) & (tp <= total_max)
    if ok.sum() >= 2:
        axis_row(y, "Risk of event", list(tp[ok] * 100 / total_max),
                 [f"{p:g}" for p, k in zip(probs, ok, strict=True) if k])
    if title:
        ax.set_title(title)
    return save(fig, stem)
