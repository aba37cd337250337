"""Model figures: ROC, calibration, decision curves, Kaplan–Meier by risk group and confusion
matrices, each panel drawn with the axes-level functions of `hccer.stats.figures`."""

from __future__ import annotations

import numpy as np

from hccer.paper.figures.base import (
    item_panels,
    message,
    panel_grid,
    panel_layout,
    panel_title,
    styled_pyplot,
)
from hccer.paper.inputs import Inputs, NotRun
from hccer.paper.spec import label
from hccer.paper.tables.format import (
    auc_result,
    fmt_ci,
    threshold_for,
    threshold_rule_text,
)
from hccer.paper.tables.survival import risk_groups
from hccer.stats.table1 import format_p


# -- ROC -----------------------------------------------------------------------------------------
def roc(item: dict, inp: Inputs):
    from hccer.stats.figures import draw_roc
    from hccer.stats.folds import per_fold, summarise
    from hccer.stats.roc import roc_curve

    spec, stats = inp.spec, inp.spec["stats"]
    panels = item_panels(item)
    fold_legend = item.get("legend") == "fold_mean"
    many = max(len(p["models"]) for p in panels) > 4
    fig, axes = panel_grid(len(panels), 3.8 if not many else 4.4, 3.8 if not many else 5.6)
    values, notes = [], []
    for ax, panel in zip(axes, panels, strict=True):
        curves, missing = [], []
        for m in panel["models"]:
            name = label(spec, m)
            try:
                df = inp.rows(m, panel["cohort"])
            except NotRun as exc:
                missing.append(f"{name}: {exc}")
                continue
            r = auc_result(df, stats)
            if r is None:
                missing.append(f"{name}: one outcome class, no ROC")
                continue
            fpr, tpr, _ = roc_curve(df["score"], df["label"])
            text = f"{name}: {fmt_ci(r.auc, r.ci_low, r.ci_high)}"
            rec = {
                "panel": panel.get("title"),
                "model": m,
                "cohort": panel["cohort"],
                **r.as_dict(),
            }
            if fold_legend:
                s = summarise(per_fold(df, stats["fold_threshold"])).iloc[0]
                text = f"{name}: {s['auc_mean']:.3f} ± {s['auc_sd']:.2f} (pooled {r.auc:.3f})"
                rec.update(fold_auc_mean=s["auc_mean"], fold_auc_sd=s["auc_sd"])
            curves.append({"name": name, "fpr": fpr, "tpr": tpr, "label": text})
            values.append(rec)
        if curves:
            draw_roc(
                ax,
                curves,
                "AUC: fold mean ± SD (pooled)"
                if fold_legend
                else f"AUC ({100 * stats['level']:.0f}% CI)",
            )
            title = ax.get_legend().get_title().get_text()
            if len(curves) > 4:
                ax.legend(
                    loc="upper center",
                    bbox_to_anchor=(0.5, -0.16),
                    ncol=1,
                    title=title,
                    title_fontsize=8,
                )
            else:  # lower right for a useful model; elsewhere when the curve runs there
                ax.legend(loc="best", title=title, title_fontsize=8)
            notes += missing
        else:
            message(ax, "; ".join(missing))
        ax.set_title(panel_title(panel, spec))
    from hccer.paper.tables.format import ci_note

    fig.tight_layout()
    return fig, values, [ci_note(stats)] + notes + inp.notes


# -- calibration ---------------------------------------------------------------------------------
def calibration(item: dict, inp: Inputs):
    from hccer.ledger import require_probability
    from hccer.stats.calibration import calibration as calib
    from hccer.stats.figures import draw_calibration

    spec, stats = inp.spec, inp.spec["stats"]
    panels = item_panels(item)
    fig, axes = panel_grid(len(panels))
    values, notes = [], []
    for ax, panel in zip(axes, panels, strict=True):
        groups = int(panel.get("groups", stats["calibration_groups"]))
        models, missing = [], []
        for m in panel["models"]:
            name = label(spec, m)
            try:
                df = inp.rows(m, panel["cohort"])
            except NotRun as exc:
                missing.append(f"{name}: {exc}")
                continue
            require_probability(df, what=f"calibration of {m}")
            c = calib(df["score"].to_numpy(), df["label"].to_numpy(), groups)
            models.append(
                {
                    "name": f"{name} (HL p {format_p(c['hl_p_value'])}, Brier {c['brier']:.3f})",
                    "curve": c["curve"],
                    "connect": True,
                }
            )
            values.append(
                {
                    "panel": panel.get("title"),
                    "model": m,
                    "cohort": panel["cohort"],
                    "groups": groups,
                    **{
                        k: c[k]
                        for k in (
                            "hl_statistic",
                            "hl_df",
                            "hl_p_value",
                            "brier",
                            "intercept",
                            "slope",
                            "n",
                            "events",
                            "curve",
                        )
                    },
                }
            )
        if models:
            draw_calibration(ax, models)
            # below the axes: bins with wide CIs fill the upper-left corner
            ax.legend(loc="upper left", bbox_to_anchor=(0.0, -0.2), fontsize=7.5)
            notes += missing
        else:
            message(ax, "; ".join(missing))
        ax.set_title(panel_title(panel, spec))
    fig.tight_layout()
    bins = sorted({int(p.get("groups", stats["calibration_groups"])) for p in panels})
    return (
        fig,
        values,
        [
            f"points: observed ER rate in quantile bins of predicted P(ER) "
            f"({'/'.join(map(str, bins))} bins) with exact binomial "
            f"{100 * stats['level']:.0f}% CIs; HL: Hosmer-Lemeshow"
        ]
        + notes,
    )


# -- decision curves -----------------------------------------------------------------------------
def dca(item: dict, inp: Inputs):
    from hccer.ledger import require_probability
    from hccer.stats import dca as D
    from hccer.stats.figures import draw_dca

    spec, stats = inp.spec, inp.spec["stats"]
    start, stop, step = stats["dca_thresholds"]
    th = D.parse_thresholds(f"{start}:{stop}:{step}")
    panels = item_panels(item)
    fig, axes = panel_grid(len(panels), 4.6, 3.6)
    values, notes = [], []
    for ax, panel in zip(axes, panels, strict=True):
        frames, missing = {}, []
        for m in panel["models"]:
            try:
                df = inp.rows(m, panel["cohort"]).set_index("patient")
                require_probability(df, what=f"decision curve of {m}")
                frames[label(spec, m)] = df
            except NotRun as exc:
                missing.append(f"{label(spec, m)}: {exc}")
        if not frames:
            message(ax, "; ".join(missing))
            ax.set_title(panel_title(panel, spec))
            continue
        common = sorted(set.intersection(*(set(f.index) for f in frames.values())))
        y = next(iter(frames.values())).loc[common, "label"].to_numpy()
        table = D.binary_dca(
            {k: f.loc[common, "score"].to_numpy() for k, f in frames.items()}, y, th
        )
        draw_dca(ax, table)
        ax.set_title(panel_title(panel, spec))
        notes += missing
        values.append(
            {
                "panel": panel.get("title"),
                "cohort": panel["cohort"],
                "n": len(common),
                "table": table.to_dict(orient="records"),
            }
        )
    fig.tight_layout()
    return (
        fig,
        values,
        [
            f"net benefit at thresholds {start:g}-{stop:g} step {step:g}; "
            "positive when risk > threshold"
        ]
        + notes,
    )


# -- Kaplan-Meier --------------------------------------------------------------------------------
def km(item: dict, inp: Inputs):
    from hccer.stats.figures import draw_km
    from hccer.stats.survival import logrank

    spec = inp.spec
    panels = item_panels(item)
    plt = styled_pyplot()
    nrows, ncols = panel_layout(len(panels))
    fig = plt.figure(figsize=(4.8 * ncols, 4.4 * nrows))
    outer = fig.add_gridspec(nrows, ncols, wspace=0.45, hspace=0.45)
    values, notes = [], []
    for i, panel in enumerate(panels):
        cell = outer[i // ncols, i % ncols].subgridspec(2, 1, height_ratios=[4, 1.1], hspace=0.55)
        ax, tab = fig.add_subplot(cell[0]), fig.add_subplot(cell[1])
        model = panel["models"][0]
        try:
            rg = risk_groups(item, inp, model, panel["cohort"])
        except NotRun as exc:
            message(ax, f"{label(spec, model)}: {exc}")
            tab.axis("off")
            ax.set_title(panel_title(panel, spec))
            continue
        groups = [
            {"name": name, "time": rg["time"][sel], "event": rg["event"][sel]}
            for name, sel in (("High risk", rg["high"]), ("Low risk", ~rg["high"]))
            if sel.any()
        ]
        p = logrank(rg["time"], rg["event"], rg["high"])["p_value"] if len(groups) == 2 else None
        draw_km(ax, tab, groups, logrank_p=p, xlabel=f"Time ({rg['unit']})")
        ax.set_ylabel("Recurrence-free survival")
        ax.set_title(panel_title(panel, spec))
        values.append(
            {
                "panel": panel.get("title"),
                "model": model,
                "cohort": panel["cohort"],
                "threshold": rg["threshold"],
                "logrank_p": p,
                "n_high": int(rg["high"].sum()),
                "n_low": int((~rg["high"]).sum()),
            }
        )
    return (
        fig,
        values,
        [
            f"risk groups: high when P(ER) ≥ cut-off ({threshold_rule_text(item)}"
            "); shaded: 95% CI; ticks: censored"
        ]
        + notes
        + inp.notes,
    )


# -- confusion matrices -------------------------------------------------------------------------
def confusion(item: dict, inp: Inputs):
    from hccer.stats.threshold import confusion as cm

    spec = inp.spec
    panels = item_panels(item)
    fig, axes = panel_grid(len(panels), 3.2, 3.0)
    values = []
    for ax, panel in zip(axes, panels, strict=True):
        model = panel["models"][0]
        try:
            df = inp.rows(model, panel["cohort"])
            thr, _ = threshold_for(item, inp, model)
        except NotRun as exc:
            message(ax, f"{label(spec, model)}: {exc}")
            ax.set_title(panel_title(panel, spec))
            continue
        c = cm(df["score"], df["label"], thr)
        mat = np.array([[c["tp"], c["fn"]], [c["fp"], c["tn"]]])
        ax.imshow(mat, cmap="Blues", vmin=0, vmax=max(1, mat.max()))
        for (r, k), v in np.ndenumerate(mat):
            ax.text(
                k,
                r,
                str(v),
                ha="center",
                va="center",
                fontsize=12,
                color="white" if v > mat.max() / 2 else "black",
            )
        ax.set_xticks([0, 1], ["ER", "NER"])
        ax.set_yticks([0, 1], ["ER", "NER"])
        ax.set(xlabel="Predicted", ylabel="Actual")
        for side in ("top", "right"):
            ax.spines[side].set_visible(True)
        ax.set_title(f"{panel_title(panel, spec)}\ncut-off {thr:.3f}")
        values.append(
            {
                "panel": panel.get("title"),
                "model": model,
                "cohort": panel["cohort"],
                "threshold": thr,
                **c,
            }
        )
    fig.tight_layout()
    return (
        fig,
        values,
        [f"cut-off: {threshold_rule_text(item)}; ER predicted when P(ER) ≥ cut-off"] + inp.notes,
    )
