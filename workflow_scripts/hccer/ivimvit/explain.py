"""Grad-CAM of the b-value ViT (seed-003 §5, Fig. 5) on the b = 1000 image, from the fold model
that extracted the bDL features; the map is `hccer.dl.gradcam.vit_gradcam`. The PNG per patient
shows the axial slice of the crop with the largest VOI area: the b = 1000 channel, the map, and
the map over the image.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


def run_explain(study: dict, extractor_json: str, crops: list[str], map_crops: list[str],
                folds_path: str, out_dir: str, threads: int | None = None) -> int:
    """Grad-CAM PNGs and maps for the explain cohort, from the chosen bDL fold model."""
    import torch

    from hccer.dl.checkpoint import load_model
    from hccer.dl.data import load_samples
    from hccer.dl.gradcam import display_slice, panel_png, vit_gradcam
    from hccer.errors import ConfigError, InputError
    from hccer.ivimvit import config as ivim_config
    from hccer.jsonio import read_json, write_json

    if threads:
        torch.set_num_threads(int(threads))
    cfg = ivim_config.block(study)
    b_value = float(cfg["explain"]["b_value"])
    b_values = sorted(float(b) for b in study.get("b_values") or [])
    if b_value not in b_values:
        raise ConfigError(f"vit.explain.b_value {b_value:g} is not among the study's b-values "
                          f"{b_values}")
    channel = b_values.index(b_value)          # the bbox3d crop orders b ascending
    chosen = read_json(extractor_json)
    model, ck = load_model(chosen["checkpoint"])
    if ck["array"] != "x":
        raise ConfigError("vit: Grad-CAM is drawn for the b-value ViT (array x)")
    split = read_json(folds_path)
    train, test = ivim_config.outer_sides(split)
    cohort = cfg["explain"]["cohort"]
    patients = {"test": test, "train": train, "all": sorted(train + test)}.get(cohort)
    if patients is None:
        raise ConfigError("vit.explain.cohort must be test, train or all")
    samples = load_samples(crops, patients, "x", None, per_slice=False)
    if samples.x.shape[1] != len(b_values):
        raise InputError(f"crops hold {samples.x.shape[1]} b-values; the study has "
                         f"{len(b_values)}")
    voi = load_samples(map_crops, patients, "mask", None, per_slice=False)
    er = {r["patient"]: int(r["er"]) for r in split["assignment"]}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    maps, images, index = {}, {}, {}
    for i, pid in enumerate(samples.patients):
        x = samples.x[i:i + 1]
        cam = vit_gradcam(model, x)[0]
        with torch.no_grad():
            p = float(torch.softmax(model(torch.from_numpy(x))["logits"], 1)[0, 1])
        z = display_slice(voi.x[i, 0])
        panel_png(x[0, channel, z], cam[z], out / f"sub-{pid}_gradcam.png",
                  f"{pid} ({cohort}, ER {er[pid]}) ViT P(ER) {p:.2f}, slice {z}",
                  f"b = {b_value:g} crop")
        maps[pid] = cam[z].astype(np.float32)
        images[pid] = x[0, channel, z].astype(np.float32)
        index[pid] = {"er": er[pid], "vit_probability": p, "slice": z}
    np.savez_compressed(out / "gradcam_maps.npz", **maps)
    np.savez_compressed(out / "gradcam_images.npz", **images)   # the b-value slice under it
    write_json(out / "index.json", {"experiment": ck["experiment"], "method": "Grad-CAM",
                                    "ledger_model": ivim_config.MODEL_NAMES["bdl"],
                                    "inner_fold": ck["inner_fold"], "seed": ck["seed"],
                                    "layer": "blocks[-1].norm1 (patch tokens)",
                                    "target": "ER logit", "b_value": b_value,
                                    "cohort": cohort, "patients": index})
    log.info("Grad-CAM of %d %s patients written to %s", len(maps), cohort, out)
    return len(maps)
