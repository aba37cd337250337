"""Grad-CAM of the b-value ViT (seed-003 §5, Fig. 5) on the b = 1000 image.

Target layer: the patch-token outputs of the last block's first LayerNorm (CLS excluded).
Channel weights are the mean over tokens of d(ER logit)/d(activation); the map is
ReLU(sum_c w_c A_c) on the token grid (8³ for a 64³ crop at patch 8), upsampled trilinearly to
the crop and scaled to [0, 1]. The PNG per patient shows the axial slice of the crop with the
largest VOI area: the b = 1000 channel, the map, and the map over the image.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


def vit_gradcam(model, x) -> np.ndarray:
    """(B, D, H, W) maps in [0, 1] for inputs x (B, C, D, H, W) of a ViT3D."""
    import torch

    model.eval()
    acts = {}

    def hook(_module, _inp, out):
        out.retain_grad()
        acts["a"] = out

    handle = model.blocks[-1].norm1.register_forward_hook(hook)
    try:
        x = torch.as_tensor(np.asarray(x), dtype=torch.float32)
        logits = model(x)["logits"]
        model.zero_grad(set_to_none=True)
        logits[:, 1].sum().backward()
    finally:
        handle.remove()
    a, g = acts["a"][:, 1:].detach(), acts["a"].grad[:, 1:].detach()   # (B, N, C)
    w = g.mean(dim=1, keepdim=True)
    cam = torch.relu((w * a).sum(dim=2)).reshape(len(x), 1, *model.grid)
    up = torch.nn.functional.interpolate(cam, size=tuple(x.shape[2:]), mode="trilinear",
                                         align_corners=False)[:, 0]
    lo = up.amin(dim=(1, 2, 3), keepdim=True)
    hi = up.amax(dim=(1, 2, 3), keepdim=True)
    span = hi - lo
    return torch.where(span > 0, (up - lo) / span.clamp_min(1e-12), torch.zeros_like(up)).numpy()


def display_slice(mask: np.ndarray) -> int:
    """Axial index with the largest VOI area (the central slice when the VOI is empty)."""
    area = np.asarray(mask).reshape(mask.shape[0], -1).sum(axis=1)
    return int(np.argmax(area)) if area.any() else mask.shape[0] // 2


def panel_png(image: np.ndarray, cam: np.ndarray, path: str | Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(7.5, 2.9))
    hi = float(image.max()) or 1.0
    for ax, label in zip(axes, ("b = 1000 crop", "Grad-CAM", "overlay"), strict=True):
        ax.axis("off")
        ax.set_title(label, fontsize=8)
    axes[0].imshow(image, cmap="gray", vmin=0, vmax=hi)
    axes[1].imshow(cam, cmap="jet", vmin=0, vmax=1)
    axes[2].imshow(image, cmap="gray", vmin=0, vmax=hi)
    axes[2].imshow(cam, cmap="jet", alpha=0.4, vmin=0, vmax=1)
    fig.suptitle(title, fontsize=8)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run_explain(study: dict, extractor_json: str, crops: list[str], map_crops: list[str],
                folds_path: str, out_dir: str, threads: int | None = None) -> int:
    """Grad-CAM PNGs and maps for the explain cohort, from the chosen bDL fold model."""
    import torch

    from hccer.dl import ivim_config
    from hccer.dl.data import load_samples
    from hccer.dl.ivim_train import load_model
    from hccer.errors import ConfigError, InputError
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
                  f"{pid} ({cohort}, ER {er[pid]}) ViT P(ER) {p:.2f}, slice {z}")
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
