"""Figure builders on the synthetic hold-out ledger: the numbers behind each figure (its JSON)
match hccer.stats or hand counts, not-run panels say why, and PNG + PDF are written."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hccer.errors import InputError
from hccer.paper import figures
from hccer.paper.output import write_figure
from hccer.stats import roc
from paperdata import TEST

pytestmark = pytest.mark.filterwarnings("ignore")

PANELS = [
    {"title": "(a) A, training", "models": ["a"], "cohort": "train"},
    {"title": "(b) A, test", "models": ["a"], "cohort": "test"},
    {"title": "(c) C, test", "models": ["c"], "cohort": "test"},
]


def _write(tmp_path, item, inp):
    fig, values, notes = figures.build(item, inp)
    paths = write_figure(fig, values, notes, item, tmp_path / item["id"], inp.spec["stats"])
    assert [p.suffix for p in paths] == [".png", ".pdf", ".json"]
    assert all(p.stat().st_size > 500 for p in paths)
    return json.loads(paths[2].read_text())


def _texts(fig) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def test_roc_panels_and_not_run_panel(tmp_path, holdout):
    item = {"id": "roc", "title": "ROC", "kind": "roc", "panels": PANELS}
    fig, values, notes = figures.build(item, holdout)
    assert len(values) == 2  # panel (c) has no model rows
    test = next(v for v in values if v["cohort"] == "test")
    assert test["auc"] == pytest.approx(roc.auc([p[2] for p in TEST], [p[1] for p in TEST]))
    assert any("not run (add c to" in t.replace("\n", " ") for t in _texts(fig))
    out = _write(tmp_path, item, holdout)
    assert out["values"][1]["ci_low"] == pytest.approx(test["ci_low"])


def test_roc_fold_mean_legend(tmp_path, cv):
    item = {
        "id": "roc",
        "title": "ROC",
        "kind": "roc",
        "legend": "fold_mean",
        "panels": [{"models": ["cv", "x"], "cohort": "test"}],
    }
    fig, values, notes = figures.build(item, cv)
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend[0].startswith("cv: 0.750 ± 0.25 (pooled")
    assert values[0]["fold_auc_mean"] == pytest.approx(0.75)
    assert any("x: not run" in n for n in notes)


def test_confusion_counts_at_training_youden(holdout):
    item = {
        "id": "cm",
        "title": "CM",
        "kind": "confusion",
        "youden_from": "train",
        "panels": PANELS,
    }
    _, values, _ = figures.build(item, holdout)
    test = next(v for v in values if v["cohort"] == "test")
    assert (test["tp"], test["fn"], test["fp"], test["tn"]) == (2, 1, 1, 1)
    assert test["threshold"] == pytest.approx(0.55)


def test_km_calibration_dca(tmp_path, holdout):
    km = _write(
        tmp_path,
        {
            "id": "km",
            "title": "KM",
            "kind": "km",
            "youden_from": "train",
            "time_unit": "months",
            "panels": PANELS,
        },
        holdout,
    )
    train = next(v for v in km["values"] if v["cohort"] == "train")
    assert (train["n_high"], train["n_low"]) == (3, 3) and 0 < train["logrank_p"] < 1
    cal = _write(
        tmp_path,
        {"id": "cal", "title": "Cal", "kind": "calibration", "panels": [dict(PANELS[1], groups=2)]},
        holdout,
    )
    v = cal["values"][0]
    assert v["groups"] == 2 and v["n"] == 5 and v["events"] == 3
    assert sum(c["n"] for c in v["curve"]) == 5
    d = _write(
        tmp_path,
        {
            "id": "dca",
            "title": "DCA",
            "kind": "dca",
            "panels": [{"models": ["a", "b"], "cohort": "test"}],
        },
        holdout,
    )
    tab = pd.DataFrame(d["values"][0]["table"])
    # treat-all net benefit at pt: prevalence - (1 - prevalence) * pt / (1 - pt)
    row = tab[(tab.variable == "all") & np.isclose(tab.threshold, 0.2)].iloc[0]
    assert row["net_benefit"] == pytest.approx(0.6 - 0.4 * 0.25)


def test_flow_counts_from_status_and_split(tmp_path, holdout):
    status = pd.DataFrame(
        {
            "patient": [f"x{i}" for i in range(4)] + [p for p, *_ in TEST],
            "status": ["excluded"] * 4 + ["included"] * len(TEST),
            "step": ["ingest", "outcome", "outcome", "registration"] + [""] * len(TEST),
            "reason": [
                "[a/b.dcm] no arterial series",
                "censored before the horizon: no "
                "recurrence and 200 days of follow-up < 730 required",
                "censored before the horizon: no recurrence and 300 days of follow-up "
                "< 730 required",
                "phase PV: NCC 0.1 < 0.3",
            ]
            + [""] * len(TEST),
            "warnings": "",
        }
    )
    path = tmp_path / "status.tsv"
    status.to_csv(path, sep="\t", index=False)
    holdout.status = str(path)
    out = _write(tmp_path, {"id": "flow", "title": "Flow", "kind": "flow"}, holdout)
    c = out["values"][0]
    assert (c["n_found"], c["n_excluded"], c["n_analysed"], c["n_er"]) == (9, 4, 11, 6)
    outcome = next(s for s in c["excluded"] if s["step"] == "outcome")
    assert outcome["reasons"] == [{"reason": "censored before the horizon", "n": 2}]
    assert [s["name"] for s in c["sides"]] == ["Training cohort", "Test cohort"]
    assert "n = 6" in c["sides"][0]["text"]
    # 5 patients passed every check here but the split holds 11: said, not hidden
    assert "split holds 11" in out["notes"][0]


def _crop(tmp_path, pid, rng):
    a = rng.random((1, 10, 16, 16)).astype("float32")
    np.savez(tmp_path / f"sub-{pid}_desc-voi3d.npz", SS=a * 0.5, NSS=a)
    (tmp_path / f"sub-{pid}_desc-voi3d.json").write_text(
        json.dumps({"mode": "voi3d", "axes": "phase,z,y,x", "phases": ["ART"]})
    )
    return [str(tmp_path / f"sub-{pid}_desc-voi3d.{e}") for e in ("npz", "json")]


def test_gradcam_and_crops_panels(tmp_path, holdout):
    rng = np.random.default_rng(0)
    crops = [f for p, *_ in TEST for f in _crop(tmp_path, p, rng)]
    cams = tmp_path / "models" / "a" / "fold-0_seed-0" / "gradcam"
    cams.mkdir(parents=True)
    maps = {p: np.outer(np.arange(16), np.ones(16)) / 15 for p, *_ in TEST}
    np.savez(cams / "gradcam_maps.npz", **maps)
    holdout.crops = crops
    holdout.gradcam = [str(cams)]
    holdout.spec["inputs"] = {"a": "SS", "b": "NSS"}
    item = {"id": "cam", "title": "CAM", "kind": "gradcam", "models": ["a", "b"], "n_patients": 2}
    fig, values, _ = figures.build(item, holdout)
    # test patients ranked ER first by P(ER) of model a: s1 (0.7) then s5 (0.56)
    assert [v["patient"] for v in values] == ["s1", "s5"]
    assert values[0]["cam_max_yx"][0] == 15
    assert any("Grad-CAM map" in t.replace("\n", " ") for t in _texts(fig))  # model b
    out = _write(
        tmp_path, {"id": "voi", "title": "VOI", "kind": "crops", "arrays": ["SS", "NSS"]}, holdout
    )
    assert out["values"][0]["patient"] == "s1" and out["values"][0]["shape"] == [16, 16]


def test_scorecam_pair_over_each_phase(tmp_path, holdout):
    rng = np.random.default_rng(1)
    crops = []
    for pid, *_ in TEST:
        np.savez(tmp_path / f"sub-{pid}_desc-slices2d.npz",
                 x=rng.random((3, 3, 16, 16)).astype("float32"))
        (tmp_path / f"sub-{pid}_desc-slices2d.json").write_text(json.dumps(
            {"mode": "slices2d", "axes": "slice,phase,y,x", "phases": ["AP", "PVP", "DP"]}))
        crops.append(str(tmp_path / f"sub-{pid}_desc-slices2d.npz"))
    cams = tmp_path / "models" / "a" / "fold-0_seed-0" / "gradcam"
    cams.mkdir(parents=True)
    np.savez(cams / "gradcam_maps.npz",
             **{p: np.outer(np.ones(16), np.arange(16)) / 15 for p, *_ in TEST})
    (cams / "index.json").write_text(json.dumps({"method": "Score-CAM"}))
    holdout.crops, holdout.gradcam = crops, [str(cams)]
    item = {"id": "f4", "title": "Fig 4", "kind": "gradcam", "models": ["a"],
            "select": "confident_pair", "phases": ["AP", "PVP", "DP"]}
    fig, values, notes = figures.build(item, holdout)
    # test cohort: ER with the highest P(ER) is s1 (0.7), NER with the lowest is s4 (0.1)
    assert [v["patient"] for v in values] == ["s1", "s4"]
    assert [v["correct_at_0_5"] for v in values] == [True, True]
    assert values[0]["cam_max_yx"][1] == 15
    assert len(fig.axes) == 2 * 6
    assert "PVP Score-CAM" in [ax.get_title() for ax in fig.axes] and "Score-CAM" in notes[0]
    item["phases"] = ["AP", "HBP"]
    with pytest.raises(InputError, match="HBP"):
        figures.build(item, holdout)


def test_not_reproduced_figure(tmp_path, holdout):
    out = _write(
        tmp_path,
        {
            "id": "s1",
            "title": "Fig S1",
            "kind": "not_reproduced",
            "reason": "needs second-reader scoring",
        },
        holdout,
    )
    assert out["notes"] == ["needs second-reader scoring"]


def test_vit_gradcam_folder_is_found_by_its_index_and_draws_its_own_image(tmp_path, holdout):
    """The ViT writes models/<extractor>/seed-<s>_gradcam with the ledger model named in
    index.json and the b-value slice it drew on beside the maps (no crop needed)."""
    cams = tmp_path / "models" / "vit_b" / "seed-0_gradcam"
    cams.mkdir(parents=True)
    np.savez(cams / "gradcam_maps.npz", **{p: np.eye(16) for p, *_ in TEST})
    np.savez(cams / "gradcam_images.npz", **{p: np.full((16, 16), 0.5) for p, *_ in TEST})
    (cams / "index.json").write_text(json.dumps({"ledger_model": "a", "method": "Grad-CAM"}))
    holdout.gradcam = [str(cams)]
    holdout.crops = []
    item = {"id": "f5", "title": "Fig 5", "kind": "gradcam", "models": ["a"],
            "select": "confident_pair"}
    fig, values, _ = figures.build(item, holdout)
    assert [v["patient"] for v in values] == ["s1", "s4"]
    assert values[0]["cam_max_yx"] == [0, 0]
    assert fig.axes[0].images[0].get_array().mean() == pytest.approx(0.5)


def test_map_without_its_crop_names_the_patient(tmp_path, holdout):
    cams = tmp_path / "models" / "a" / "fold-0_seed-0" / "gradcam"
    cams.mkdir(parents=True)
    np.savez(cams / "gradcam_maps.npz", **{p: np.eye(16) for p, *_ in TEST})
    holdout.gradcam, holdout.crops = [str(cams)], []
    item = {"id": "c", "title": "C", "kind": "gradcam", "models": ["a"], "n_patients": 1}
    with pytest.raises(InputError, match="no crop") as exc:
        figures.build(item, holdout)
    assert "s1" in str(exc.value)


def test_crops_context_draws_the_crop_box_on_the_whole_slice(tmp_path, holdout):
    from hccer.preprocess.crop import crop_slices2d

    rng = np.random.default_rng(2)
    arrs = {p: rng.normal(0, 30, (5, 40, 48)).astype("float32") for p in ("NC", "ART", "PV")}
    mask = np.zeros((5, 40, 48), bool)
    mask[1:4, 10:21, 30:37] = True
    mask[2, 9:22, 29:38] = True                       # largest slice: z 2, y 9-21, x 29-37
    crops = []
    for pid, *_ in TEST:
        arrays, meta = crop_slices2d(arrs, {"PV": mask}, np.ones(3), {
            "size": [16, 16], "neighbours": 1, "slice_source": "reference",
            "intensity": {"kind": "ct_window", "level": 40, "width": 400}},
            ["NC", "ART", "PV"], "PV", pid)
        np.savez(tmp_path / f"sub-{pid}_desc-slices2d.npz", **arrays)
        (tmp_path / f"sub-{pid}_desc-slices2d.json").write_text(json.dumps(meta))
        crops.append(str(tmp_path / f"sub-{pid}_desc-slices2d.npz"))
    holdout.crops = crops
    item = {"id": "fig1", "title": "Fig 1", "kind": "crops", "phases": ["NC", "ART", "PV"],
            "context": True}
    fig, values, notes = figures.build(item, holdout)
    assert values[0]["panels"] == ["NC", "ART", "PV"] and values[0]["shape"] == [40, 48]
    rects = [p for p in fig.axes[0].patches]
    assert len(rects) == 1 and rects[0].get_edgecolor()[:3] == (1.0, 0.0, 0.0)
    assert rects[0].get_xy() == (28.5, 8.5)
    assert (rects[0].get_width(), rects[0].get_height()) == (9, 13)
    assert "red: the tumour box" in notes[0]
    with pytest.raises(Exception, match="context shows whole slices"):
        figures.build({**item, "composite": True}, holdout)
