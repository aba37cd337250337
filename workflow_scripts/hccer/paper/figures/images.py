"""Image figures: Grad-CAM / Score-CAM maps over the model inputs, and the crops with the model's
input box on the whole central slice of each phase."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from hccer.errors import ConfigError, InputError
from hccer.paper.figures.base import message, styled_pyplot
from hccer.paper.inputs import Inputs, NotRun
from hccer.paper.spec import label


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
        plt = styled_pyplot()
        fig, ax = plt.subplots(figsize=(4, 2))
        message(ax, f"{label(spec, models[0])}: {exc}")
        return fig, [], [str(exc)]
    if item.get("select") == "confident_pair":
        # the most confident ER case and the most confident NER case (seed-002 Figure 4)
        er_rows = first[first["label"] == 1].sort_values(["score", "patient"],
                                                         ascending=[False, True])
        ner_rows = first[first["label"] == 0].sort_values(["score", "patient"])
        patients = er_rows["patient"].head(1).tolist() + ner_rows["patient"].head(1).tolist()
    else:
        ranked = first.sort_values(["label", "score", "patient"],
                                   ascending=[False, False, True])
        patients = ranked["patient"].head(n).tolist()
    dirs = _cam_dirs(inp.gradcam)
    crops = _crop_files(inp)
    score = dict(zip(first["patient"], first["score"], strict=True))
    er = dict(zip(first["patient"], first["label"], strict=True))
    if item.get("phases"):
        return _cam_by_phase(item, inp, models[0], patients, dirs, crops, score, er)
    plt = styled_pyplot()
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
    plt = styled_pyplot()
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
    plt = styled_pyplot()
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
