"""Figure builders: `build(item, inputs) -> (figure, values, notes)`, one per kind.

Multi-panel figures follow the papers' panel layout (a-d); each panel draws with the axes-level
functions of `hccer.stats.figures`, so every figure of the workflow shares one style. A panel
whose model the run did not write says so in place of the plot.
"""

from __future__ import annotations

import math
import re
import textwrap

import numpy as np
import pandas as pd

from hccer.errors import ConfigError, InputError
from hccer.paper.inputs import Inputs, NotRun
from hccer.paper.spec import label
from hccer.paper.tables import (
    COHORT_NAMES,
    auc_result,
    fmt_ci,
    risk_groups,
    threshold_for,
    threshold_rule_text,
)
from hccer.stats.table1 import format_p


def _plt():
    from hccer.stats.figures import pyplot_styled

    return pyplot_styled()


def _layout(n: int) -> tuple[int, int]:
    ncols = 2 if n == 4 else min(n, 3)
    return math.ceil(n / ncols), ncols


def _grid(n: int, w: float = 3.6, h: float = 3.6):
    plt = _plt()
    nrows, ncols = _layout(n)
    fig, axes = plt.subplots(nrows, ncols, figsize=(w * ncols, h * nrows), squeeze=False)
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.axis("off")
    return fig, flat[:n]


def message(ax, text: str) -> None:
    """A panel that states why it has no plot."""
    ax.axis("off")
    ax.text(
        0.5,
        0.5,
        "\n".join(textwrap.wrap(text, 38)),
        ha="center",
        va="center",
        transform=ax.transAxes,
        fontsize=8,
        color="0.3",
    )


def _title(panel: dict, spec: dict) -> str:
    if panel.get("title"):
        return panel["title"]
    names = ", ".join(label(spec, m) for m in panel["models"])
    return f"{names}, {COHORT_NAMES[panel['cohort']].lower()}"


def _panels(item: dict) -> list[dict]:
    panels = item.get("panels") or []
    if not panels:
        raise ConfigError(f"figure {item['id']}: kind {item['kind']} needs panels")
    return panels


# -- ROC -----------------------------------------------------------------------------------------
def roc(item: dict, inp: Inputs):
    from hccer.stats.figures import draw_roc
    from hccer.stats.folds import per_fold, summarise
    from hccer.stats.roc import roc_curve

    spec, stats = inp.spec, inp.spec["stats"]
    panels = _panels(item)
    fold_legend = item.get("legend") == "fold_mean"
    many = max(len(p["models"]) for p in panels) > 4
    fig, axes = _grid(len(panels), 3.8 if not many else 4.4, 3.8 if not many else 5.6)
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
        ax.set_title(_title(panel, spec))
    from hccer.paper.tables import ci_note

    fig.tight_layout()
    return fig, values, [ci_note(stats)] + notes + inp.notes


# -- calibration ---------------------------------------------------------------------------------
def calibration(item: dict, inp: Inputs):
    from hccer.stats.calibration import calibration as calib
    from hccer.stats.figures import draw_calibration
    from hccer.stats.ledger import require_probability

    spec, stats = inp.spec, inp.spec["stats"]
    panels = _panels(item)
    fig, axes = _grid(len(panels))
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
        ax.set_title(_title(panel, spec))
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
    from hccer.stats import dca as D
    from hccer.stats.figures import draw_dca
    from hccer.stats.ledger import require_probability

    spec, stats = inp.spec, inp.spec["stats"]
    start, stop, step = stats["dca_thresholds"]
    th = D.parse_thresholds(f"{start}:{stop}:{step}")
    panels = _panels(item)
    fig, axes = _grid(len(panels), 4.6, 3.6)
    values, notes = [], []
    for ax, panel in zip(axes, panels, strict=True):
        frames, missing = {}, []
        for m in panel["models"]:
            try:
                df = inp.rows(m, panel["cohort"]).set_index("patient_id")
                require_probability(df, what=f"decision curve of {m}")
                frames[label(spec, m)] = df
            except NotRun as exc:
                missing.append(f"{label(spec, m)}: {exc}")
        if not frames:
            message(ax, "; ".join(missing))
            ax.set_title(_title(panel, spec))
            continue
        common = sorted(set.intersection(*(set(f.index) for f in frames.values())))
        y = next(iter(frames.values())).loc[common, "label"].to_numpy()
        table = D.binary_dca(
            {k: f.loc[common, "score"].to_numpy() for k, f in frames.items()}, y, th
        )
        draw_dca(ax, table)
        ax.set_title(_title(panel, spec))
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
    panels = _panels(item)
    plt = _plt()
    nrows, ncols = _layout(len(panels))
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
            ax.set_title(_title(panel, spec))
            continue
        groups = [
            {"name": name, "time": rg["time"][sel], "event": rg["event"][sel]}
            for name, sel in (("High risk", rg["high"]), ("Low risk", ~rg["high"]))
            if sel.any()
        ]
        p = logrank(rg["time"], rg["event"], rg["high"])["p_value"] if len(groups) == 2 else None
        draw_km(ax, tab, groups, logrank_p=p, xlabel=f"Time ({rg['unit']})")
        ax.set_ylabel("Recurrence-free survival")
        ax.set_title(_title(panel, spec))
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
    panels = _panels(item)
    fig, axes = _grid(len(panels), 3.2, 3.0)
    values = []
    for ax, panel in zip(axes, panels, strict=True):
        model = panel["models"][0]
        try:
            df = inp.rows(model, panel["cohort"])
            thr, _ = threshold_for(item, inp, model)
        except NotRun as exc:
            message(ax, f"{label(spec, model)}: {exc}")
            ax.set_title(_title(panel, spec))
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
        ax.set_title(f"{_title(panel, spec)}\ncut-off {thr:.3f}")
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


# -- flow diagram --------------------------------------------------------------------------------
STEP_TEXT = {
    "ingest": "Image data unusable",
    "clinical": "Clinical data invalid",
    "outcome": "Outcome unknown at the horizon",
    "registration": "Registration QC failed",
}


def reason_kind(reason: str) -> str:
    """A reason without file names, numbers and detail after the first clause, for counting."""
    text = re.sub(r"\[[^\]]*\]\s*", "", str(reason).split(" | ")[0]).strip()
    num = r"-?\d+(\.\d+)?"
    text = re.sub(rf"\s*{num}\s*[<>≤≥=]+\s*{num}", "", text)  # "NCC 0.1 < 0.3" -> "NCC"
    text = re.sub(num, "N", text)
    head = text.split(":")[0] if ":" in text and len(text.split(":")[0]) >= 12 else text
    return head if len(head) <= 52 else head[:51] + "…"


def flow_counts(status: pd.DataFrame, split: dict) -> dict:
    """Counts for the flow diagram from patient_status.tsv and folds.json."""
    exc = status[status["status"] == "excluded"]
    steps = []
    for step in ("ingest", "clinical", "outcome", "registration"):
        sub = exc[exc["step"] == step]
        if len(sub):
            kinds = sub["reason"].map(reason_kind).value_counts()
            steps.append(
                {
                    "step": step,
                    "n": int(len(sub)),
                    "reasons": [{"reason": k, "n": int(v)} for k, v in kinds.items()],
                }
            )
    other = exc[~exc["step"].isin(list(STEP_TEXT))]
    if len(other):
        steps.append({"step": "other", "n": int(len(other)), "reasons": []})
    assign = pd.DataFrame(split["assignment"])
    sides = []
    if split["method"] == "kfold":
        sizes = [len(f["test"]) for f in split["folds"]]
        er = dict(zip(assign["patient"], assign["er"], strict=True))
        ers = [sum(er[p] for p in f["test"]) for f in split["folds"]]
        sides.append(
            {
                "name": f"{len(sizes)}-fold cross-validation",
                "text": f"{min(sizes)}–{max(sizes)} test patients per fold\n"
                f"(ER {min(ers)}–{max(ers)} per fold)",
            }
        )
    else:
        for cohort in ("train", "test"):
            sub = assign[assign["cohort"] == cohort]
            sides.append(
                {
                    "name": COHORT_NAMES[cohort] + " cohort",
                    "text": f"n = {len(sub)}\nER {int(sub['er'].sum())}, "
                    f"NER {int((sub['er'] == 0).sum())}",
                }
            )
    return {
        "n_found": int(len(status)),
        "excluded": steps,
        "n_excluded": int(len(exc)),
        "n_analysed": int(len(assign)),
        "n_er": int(assign["er"].sum()),
        "n_included_status": int((status["status"] == "included").sum()),
        "sides": sides,
    }


def flow(item: dict, inp: Inputs):
    from hccer.jsonio import read_json

    status = pd.read_csv(inp.need("status"), sep="\t", dtype=str, keep_default_na=False)
    missing = {"patient", "status", "step", "reason"} - set(status.columns)
    if missing:
        raise InputError(f"patient status table lacks column(s) {sorted(missing)}", file=inp.status)
    counts = flow_counts(status, inp.split)
    notes = []
    if inp.flow:
        fl = read_json(inp.flow)
        counts["n_sheet_rows"] = fl.get("n_sheet_rows")
    if counts["n_included_status"] != counts["n_analysed"]:
        notes.append(
            f"{counts['n_included_status']} patients passed every check but the split "
            f"holds {counts['n_analysed']}"
        )
    plt = _plt()
    lines = sum(2 + len(s["reasons"][:3]) for s in counts["excluded"]) or 1
    fig, ax = plt.subplots(figsize=(7.2, 5.2 + 0.12 * lines))
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 10)
    ax.axis("off")
    box = {"boxstyle": "round,pad=0.5", "fc": "white", "ec": "0.2", "lw": 0.9}
    ebox = dict(box, fc="0.96", ec="0.45")

    def node(x, y, text, style=box, **kw):
        return ax.text(x, y, text, ha="center", va="center", bbox=style, fontsize=8.5, **kw)

    def arrow(x0, y0, x1, y1):
        ax.annotate(
            "", (x1, y1), (x0, y0), arrowprops={"arrowstyle": "-|>", "lw": 0.9, "color": "0.2"}
        )

    found = f"Patients found (images or clinical sheet)\nn = {counts['n_found']}"
    if counts.get("n_sheet_rows") is not None:
        found += f"; clinical sheet rows: {counts['n_sheet_rows']}"
    node(3.2, 9.3, found)
    if counts["excluded"]:
        parts = [f"Excluded (n = {counts['n_excluded']})"]
        for s in counts["excluded"]:
            parts.append(f"{STEP_TEXT.get(s['step'], s['step'])}: {s['n']}")
            parts += [f"   · {r['reason']} ({r['n']})" for r in s["reasons"][:3]]
            if len(s["reasons"]) > 3:
                parts.append(f"   · {len(s['reasons']) - 3} other reason(s)")
        node(7.1, 7.0, "\n".join(parts), ebox, wrap=False, multialignment="left")
        ax.annotate(
            "", (5.0, 7.0), (3.2, 7.0), arrowprops={"arrowstyle": "-|>", "lw": 0.9, "color": "0.2"}
        )
    else:
        node(7.1, 7.0, "Excluded: none", ebox)
        ax.annotate(
            "", (6.0, 7.0), (3.2, 7.0), arrowprops={"arrowstyle": "-|>", "lw": 0.9, "color": "0.2"}
        )
    arrow(3.2, 8.75, 3.2, 5.3)
    node(
        3.2,
        4.75,
        f"Analysed\nn = {counts['n_analysed']} (ER {counts['n_er']}, NER "
        f"{counts['n_analysed'] - counts['n_er']})",
    )
    xs = [3.2] if len(counts["sides"]) == 1 else [1.7, 4.7]
    for x, side in zip(xs, counts["sides"], strict=True):
        arrow(3.2, 4.2, x, 2.3)
        node(x, 1.6, f"{side['name']}\n{side['text']}")
    return fig, [counts], notes


# -- Grad-CAM and example inputs -----------------------------------------------------------------
def _crop_files(inp: Inputs) -> dict[str, str]:
    from hccer.dl.data import patient_of

    return {patient_of(p): p for p in inp.crops if str(p).endswith(".npz")}


def _crop_of(crops: dict[str, str], pid: str) -> str:
    if pid not in crops:
        raise InputError("no crop among the figure's inputs to draw the map on", patient=pid)
    return crops[pid]


def _bare(ax) -> None:
    """An image panel: no ticks, no frame (the y label still names the patient)."""
    ax.set_xticks([])
    ax.set_yticks([])
    for side in ax.spines.values():
        side.set_visible(False)


def _central(a: np.ndarray, axes: str) -> np.ndarray:
    """(phases, H, W) of the central axial slice of a crop array: the middle slice of a
    slices2d stack ("slice,phase,y,x") or the middle z of a VOI ("phase,z,y,x")."""
    return a[a.shape[0] // 2] if axes.startswith("slice") else a[:, a.shape[1] // 2]


def _load_central(path: str, array: str) -> tuple[np.ndarray, dict]:
    from hccer.jsonio import read_json

    meta = read_json(path.replace(".npz", ".json"))
    with np.load(path) as z:
        if array not in z.files:
            raise InputError(f"crop has no array {array!r} (has {z.files})", file=path)
        return _central(np.asarray(z[array], float), meta.get("axes", "phase,z,y,x")), meta


def gradcam(item: dict, inp: Inputs):
    spec = inp.spec
    models = list(item.get("models") or [])
    cohort = item.get("cohort", "test")
    n = int(item.get("n_patients", 3))
    try:
        first = inp.rows(models[0], cohort)
    except NotRun as exc:
        plt = _plt()
        fig, ax = plt.subplots(figsize=(4, 2))
        message(ax, f"{label(spec, models[0])}: {exc}")
        return fig, [], [str(exc)]
    if item.get("select") == "confident_pair":
        # the most confident ER case and the most confident NER case (seed-002 Figure 4)
        er_rows = first[first["label"] == 1].sort_values(["score", "patient_id"],
                                                         ascending=[False, True])
        ner_rows = first[first["label"] == 0].sort_values(["score", "patient_id"])
        patients = er_rows["patient_id"].head(1).tolist() + ner_rows["patient_id"].head(1).tolist()
    else:
        ranked = first.sort_values(["label", "score", "patient_id"],
                                   ascending=[False, False, True])
        patients = ranked["patient_id"].head(n).tolist()
    dirs = _cam_dirs(inp.gradcam)
    crops = _crop_files(inp)
    score = dict(zip(first["patient_id"], first["score"], strict=True))
    er = dict(zip(first["patient_id"], first["label"], strict=True))
    if item.get("phases"):
        return _cam_by_phase(item, inp, models[0], patients, dirs, crops, score, er)
    plt = _plt()
    fig, axes = plt.subplots(
        len(patients), len(models), figsize=(2.6 * len(models), 2.7 * len(patients)), squeeze=False
    )
    values = []
    for j, model in enumerate(models):
        maps = {}
        if model in dirs and (dirs[model] / "gradcam_maps.npz").is_file():
            with np.load(dirs[model] / "gradcam_maps.npz") as z:
                maps = {p: z[p] for p in patients if p in z.files}
        for i, pid in enumerate(patients):
            ax = axes[i, j]
            if pid not in maps:
                why = (
                    spec["models"].get(model)
                    or "no Grad-CAM map for this patient (set gradcam: true for the experiment)"
                )
                message(ax, f"{label(spec, model)}: {why}")
                continue
            img = _cam_image(dirs, model, pid, crops, spec)
            cam = maps[pid]
            ax.imshow(img, cmap="gray", vmin=0, vmax=1)
            ax.imshow(cam, cmap="jet", alpha=0.4, vmin=0, vmax=1)
            _bare(ax)
            if i == 0:
                ax.set_title(label(spec, model))
            if j == 0:
                ax.set_ylabel(
                    f"{pid}\n{'ER' if er[pid] else 'NER'}, P(ER) {score[pid]:.2f}", fontsize=8
                )
            values.append(
                {
                    "model": model,
                    "patient": pid,
                    "label": int(er[pid]),
                    "score_first_model": float(score[pid]),
                    "cam_max_yx": [int(v) for v in np.unravel_index(np.argmax(cam), cam.shape)],
                }
            )
    fig.tight_layout()
    return (
        fig,
        values,
        [
            f"{cohort} patients with the highest P(ER) of "
            f"{label(spec, models[0])} (ER first); Grad-CAM (jet, alpha 0.4) on "
            "the central axial slice of each model's own input"
        ],
    )


def _cam_dirs(folders) -> dict:
    """Ledger model -> its activation-map folder: named in the folder's index.json
    (`ledger_model`, e.g. the ViT's), else the experiment in models/<experiment>/fold-*."""
    from pathlib import Path

    from hccer.jsonio import read_json

    dirs = {}
    for d in folders:
        index = Path(d) / "index.json"
        named = read_json(index).get("ledger_model") if index.is_file() else None
        m = re.search(r"/models/([^/]+)/fold-", Path(d).as_posix())
        if named or m:
            dirs[named or m.group(1)] = Path(d)
    return dirs


def _cam_image(dirs, model, pid, crops, spec):
    """The image a map was drawn on: stored beside the map, else the crop's central slice."""
    stored = dirs[model] / "gradcam_images.npz" if model in dirs else None
    if stored is not None and stored.is_file():
        with np.load(stored) as z:
            if pid in z.files:
                return np.asarray(z[pid], float)
    return _load_central(_crop_of(crops, pid), spec.get("inputs", {}).get(model, "x"))[0][0]


def _cam_by_phase(item, inp, model, patients, dirs, crops, score, er):
    """One model's map over each phase of the input: per patient a row of (phase, overlay)
    pairs, as seed-002 Figure 4 (cropped AP/PVP/DP and their Score-CAM)."""
    spec = inp.spec
    phases = list(item["phases"])
    maps = {}
    if model in dirs and (dirs[model] / "gradcam_maps.npz").is_file():
        with np.load(dirs[model] / "gradcam_maps.npz") as z:
            maps = {p: z[p] for p in patients if p in z.files}
    method = "Score-CAM"
    if model in dirs and (dirs[model] / "index.json").is_file():
        from hccer.jsonio import read_json

        method = read_json(dirs[model] / "index.json").get("method", "Grad-CAM")
    plt = _plt()
    fig, axes = plt.subplots(
        max(len(patients), 1), 2 * len(phases), figsize=(1.9 * 2 * len(phases), 2.3 *
                                                          max(len(patients), 1)), squeeze=False
    )
    values = []
    for i, pid in enumerate(patients):
        row = axes[i]
        if pid not in maps:
            why = spec["models"].get(model) or (
                "no activation map for this patient (set gradcam: true for the experiment)"
            )
            message(row[0], f"{label(spec, model)}: {why}")
            for ax in row[1:]:
                ax.axis("off")
            continue
        img, meta = _load_central(_crop_of(crops, pid), spec.get("inputs", {}).get(model, "x"))
        held = list(meta.get("phases") or phases)
        for j, ph in enumerate(phases):
            if ph not in held:
                raise InputError(f"crop holds phases {held}, not {ph}", patient=pid,
                                 file=crops[pid])
            plane = img[held.index(ph)]
            for k, ax in enumerate(row[2 * j: 2 * j + 2]):
                ax.imshow(plane, cmap="gray", vmin=0, vmax=1)
                if k:
                    ax.imshow(maps[pid], cmap="jet", alpha=0.4, vmin=0, vmax=1)
                _bare(ax)
                if i == 0:
                    ax.set_title(f"{ph}" + (f" {method}" if k else ""), fontsize=9)
        row[0].set_ylabel(f"{pid}\n{'ER' if er[pid] else 'NER'}, P(ER) {score[pid]:.2f}",
                          fontsize=8)
        values.append({"model": model, "patient": pid, "label": int(er[pid]),
                       "score": float(score[pid]),
                       "correct_at_0_5": bool((score[pid] >= 0.5) == bool(er[pid])),
                       "cam_max_yx": [int(v) for v in
                                      np.unravel_index(np.argmax(maps[pid]), maps[pid].shape)]})
    fig.tight_layout()
    cohort = item.get("cohort", "test")
    return fig, values, [
        f"{cohort} cohort: the ER patient with the highest and the NER patient with the lowest "
        f"P(ER) of {label(spec, model)}; {method} (jet, alpha 0.4) of the central slice sample "
        "over each phase of its input"
    ]


def crops(item: dict, inp: Inputs):
    files = _crop_files(inp)
    assign = pd.DataFrame(inp.split["assignment"]).sort_values("patient")
    pool = assign[assign["er"] == 1] if (assign["er"] == 1).any() else assign
    patients = [p for p in pool["patient"] if p in files][: int(item.get("n_patients", 1))]
    if not patients:
        raise InputError("no crop among the inputs belongs to an analysed patient")
    arrays = list(item.get("arrays") or [])
    phases = list(item.get("phases") or [])
    composite = bool(item.get("composite"))
    context = bool(item.get("context"))
    if context and (arrays or composite or not phases):
        raise ConfigError(f"figure {item['id']}: context shows whole slices of `phases` only "
                          "(no arrays or composite beside it)")
    cols = len(arrays) + len(phases) + int(composite)
    if not cols:
        raise ConfigError(f"figure {item['id']}: crops needs arrays or phases")
    plt = _plt()
    fig, axes = plt.subplots(
        len(patients), cols, figsize=(2.5 * cols, 2.7 * len(patients)), squeeze=False
    )
    values = []
    for i, pid in enumerate(patients):
        panels = [(name, _load_central(files[pid], name)[0][0]) for name in arrays]
        if phases or composite:
            x, meta = _load_central(files[pid], "x")
            have = meta.get("phases", [])
            missing = [p for p in phases if p not in have]
            if missing:
                raise InputError(f"crop holds phases {have}, not {missing}", file=files[pid])
            idx = [have.index(p) for p in phases] if phases else list(range(x.shape[0]))
            panels += [(p, x[k]) for p, k in zip(phases, idx, strict=True)]
            if composite:
                rgb = np.stack([x[k] for k in idx[:3]], axis=-1)
                panels.append(("stacked: R G B = " + ", ".join(have[k] for k in idx[:3]), rgb))
        if context:
            panels = _context_panels(files[pid], phases)
        for j, (name, img, *box) in enumerate(panels):
            ax = axes[i, j]
            ax.imshow(np.clip(img, 0, 1), cmap="gray", vmin=0, vmax=1)
            if box:
                (y0, x0), (y1, x1) = box[0]
                ax.add_patch(plt.Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0 + 1, y1 - y0 + 1,
                                           fill=False, edgecolor="red", linewidth=1.2))
            _bare(ax)
            ax.set_title(name, fontsize=8)
        axes[i, 0].set_ylabel(pid, fontsize=8)
        values.append(
            {"patient": pid, "panels": [p[0] for p in panels], "shape": list(panels[0][1].shape)}
        )
    fig.tight_layout()
    what = ("whole central axial slice of each phase on the registered grid (windowed), red: "
            "the tumour box cropped as the model input") if context else \
        "central axial slice of the model inputs (windowed, scaled to [0, 1])"
    return fig, values, [f"{what} of {'an ER' if len(patients) == 1 else 'ER'} patient(s)"]


def _context_panels(path: str, phases: list[str]) -> list[tuple]:
    """(phase, whole central slice, box) per phase from a slices2d crop's `context` array and
    the box of its central slice (offset 0) in the metadata."""
    from hccer.jsonio import read_json

    meta = read_json(path.replace(".npz", ".json"))
    with np.load(path) as z:
        if "context" not in z.files:
            raise InputError("crop has no whole-slice `context` array (a slices2d crop made "
                             "before it was added: delete the crop to remake it)", file=path)
        ctx = np.asarray(z["context"], float) / 255.0
    have = meta.get("phases", [])
    boxes = {r["phase"]: (r["box_yx_lo"], r["box_yx_hi"]) for r in meta.get("slices", [])
             if r.get("offset") == 0}
    missing = [p for p in phases if p not in have or p not in boxes]
    if missing:
        raise InputError(f"crop holds no central slice of phase(s) {missing}", file=path)
    return [(p, ctx[have.index(p)], boxes[p]) for p in phases]


def not_reproduced(item: dict, inp: Inputs):
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.0, 1.6))
    message(ax, f"{item['title']}: not reproduced. {item['reason']}")
    return fig, [], [item["reason"]]


BUILDERS = {
    "roc": roc,
    "calibration": calibration,
    "dca": dca,
    "km": km,
    "confusion": confusion,
    "flow": flow,
    "gradcam": gradcam,
    "crops": crops,
    "not_reproduced": not_reproduced,
}


def build(item: dict, inp: Inputs):
    return BUILDERS[item["kind"]](item, inp)
