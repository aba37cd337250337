"""Class activation maps: Grad-CAM at the last pooling layer of the 3D CNN (seed-004 §5,
keras-vis `visualize_cam`), Score-CAM at the last stage of the 2D stacked ResNets
(seed-002 §7, Figure 4) and Grad-CAM of the 3D ViT on its token grid (seed-003 §5, Fig. 5).

Grad-CAM:

Gradient of the ER logit (index 1, pre-softmax) with respect to the pool-4 activations,
divided by its maximum magnitude; channel weights = spatial mean of the gradient; map =
ReLU(sum_c w_c A_c); cubic upsampling to the input size (pool 4 has depth 1 for a 10-slice
VOI, so the map is the same on every slice); min-max normalised. Ensembles average their
members' maps. The overlay is drawn on the central axial slice of the model input.

Score-CAM (Wang et al. 2020, as `pytorch-grad-cam`'s ScoreCAM): each channel of the trunk's
output, bilinearly upsampled and min-max normalised, masks the input; the ER logit of each
masked input, softmaxed over channels, weights the channels; map = ReLU(sum_k w_k A_k),
upsampled and min-max normalised. Gradient-free, so it needs no hook on the backward pass.

ViT Grad-CAM: target layer the patch-token outputs of the last block's first LayerNorm (CLS
excluded). Channel weights are the mean over tokens of d(ER logit)/d(activation); the map is
ReLU(sum_c w_c A_c) on the token grid (8³ for a 64³ crop at patch 8), upsampled trilinearly to
the crop and scaled to [0, 1].
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


def gradcam(model, x) -> np.ndarray:
    """Normalised Grad-CAM (B, D, H, W) for a CNN3D `model` and input x (B, C, D, H, W)."""
    import torch
    from scipy.ndimage import zoom

    model.eval()
    acts = {}

    def hook(_module, _inp, out):
        out.retain_grad()
        acts["a"] = out

    handle = model.pool4.register_forward_hook(hook)
    try:
        x = torch.as_tensor(x, dtype=torch.float32)
        logits = model(x)["logits"]
        model.zero_grad(set_to_none=True)
        logits[:, 1].sum().backward()
    finally:
        handle.remove()
    a, g = acts["a"].detach(), acts["a"].grad.detach()
    g = g / g.abs().amax(dim=(1, 2, 3, 4), keepdim=True).clamp_min(1e-12)
    w = g.mean(dim=(2, 3, 4), keepdim=True)
    cam = torch.relu((w * a).sum(dim=1)).numpy()           # (B, d, h, w)
    size = x.shape[2:]
    out = np.zeros((cam.shape[0], *size), np.float32)
    for i, c in enumerate(cam):
        up = zoom(c, [s / n for s, n in zip(size, c.shape, strict=True)], order=3,
                  grid_mode=True, mode="nearest")
        up = up[: size[0], : size[1], : size[2]]
        lo, hi = float(up.min()), float(up.max())
        out[i] = (up - lo) / (hi - lo) if hi > lo else 0.0
    return out


def scorecam(model, x, target: int = 1, batch: int = 32) -> np.ndarray:
    """Normalised Score-CAM (B, H, W) for a StackNet `model` (image-only head) and x (B, C, H, W)."""
    import torch
    import torch.nn.functional as F

    model.eval()
    x = torch.as_tensor(x, dtype=torch.float32)
    size = tuple(x.shape[2:])
    out = np.zeros((x.shape[0], *size), np.float32)
    with torch.no_grad():
        acts = model.trunk(model.norm(x))                          # (B, K, h, w)
        up = F.interpolate(acts, size=size, mode="bilinear", align_corners=False)
        lo = up.amin(dim=(2, 3), keepdim=True)
        hi = up.amax(dim=(2, 3), keepdim=True)
        masks = torch.where(hi > lo, (up - lo) / (hi - lo).clamp_min(1e-12), 0.0)
        for b in range(x.shape[0]):
            scores = torch.cat([
                model(x[b:b + 1] * masks[b, k:k + batch, None])["logits"][:, target]
                for k in range(0, masks.shape[1], batch)])
            w = torch.softmax(scores, 0)
            cam = torch.relu((w[:, None, None] * acts[b]).sum(0))
            cam = F.interpolate(cam[None, None], size=size, mode="bilinear",
                                align_corners=False)[0, 0]
            c_lo, c_hi = float(cam.min()), float(cam.max())
            out[b] = ((cam - c_lo) / (c_hi - c_lo)).numpy() if c_hi > c_lo else 0.0
    return out


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


def panel_png(image: np.ndarray, cam: np.ndarray, path: str | Path, title: str,
              image_label: str = "image") -> None:
    """One slice in three panels: the image, the map, the map over the image."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(7.5, 2.9))
    hi = float(image.max()) or 1.0
    for ax, label in zip(axes, (image_label, "Grad-CAM", "overlay"), strict=True):
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


def phases_png(images: np.ndarray, cam: np.ndarray, phases: list[str], path: str | Path,
               title: str) -> None:
    """Each phase of one slice sample, plain and with the map overlaid (2 rows)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(phases), figsize=(2.2 * len(phases), 4.6), squeeze=False)
    for j, name in enumerate(phases):
        for i in range(2):
            axes[i, j].imshow(images[j], cmap="gray")
            if i:
                axes[i, j].imshow(cam, cmap="jet", alpha=0.4, vmin=0, vmax=1)
            axes[i, j].axis("off")
        axes[0, j].set_title(name, fontsize=9)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def overlay_png(image: np.ndarray, cam: np.ndarray, path: str | Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3.2, 3.4))
    ax.imshow(image, cmap="gray", vmin=0, vmax=1)
    ax.imshow(cam, cmap="jet", alpha=0.4, vmin=0, vmax=1)
    ax.set_title(title, fontsize=8)
    ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run_gradcam(checkpoint: str, crops: list[str], out_dir: str, folds: str,
                threads: int | None = None) -> int:
    """Overlays (PNG) and maps (one npz) for every patient of the checkpoint's fold."""
    import torch

    from hccer.cohort.split import outer_fold
    from hccer.dl.checkpoint import load_model, read_checkpoint
    from hccer.dl.data import load_samples
    from hccer.dl.job import channels_for
    from hccer.errors import ConfigError, InputError
    from hccer.jsonio import read_json, write_json

    if threads:
        torch.set_num_threads(int(threads))
    ck = read_checkpoint(checkpoint)
    cfg = ck["config"]
    if cfg["network"] not in ("cnn3d", "stack"):
        raise ConfigError(f"class activation maps are defined here for the 3D CNN (Grad-CAM) "
                          f"and the stacked ResNets (Score-CAM), not {cfg['network']}")
    if cfg["network"] == "stack" and cfg.get("tabular"):
        raise ConfigError(f"Score-CAM needs an image-only network; {cfg['name']} also reads "
                          "tabular inputs")
    split = read_json(folds)
    outer = outer_fold(split, ck["fold"], folds)
    patients = sorted(set(outer["train"]) | set(outer["test"]))
    cohort = {p: "test" for p in outer["test"]} | {p: "train" for p in outer["train"]}
    array = (cfg.get("input") or {}).get("array", "x")
    wanted = (cfg.get("input") or {}).get("phases") or []
    if not crops:
        raise InputError("no crops given to draw activation maps on", file=checkpoint)
    if cfg["network"] == "stack":
        meta = Path(str(crops[0]).replace(".npz", ".json"))
        held = read_json(meta).get("phases", wanted) if meta.is_file() else wanted
        study_like = {"crop": {"mode": "slices2d"}, "phases": held}
    else:
        study_like = {"crop": {"mode": "voi3d"}, "model_phases": wanted}
    channels = channels_for(study_like, cfg) if wanted else None
    samples = load_samples(crops, patients, array, channels)
    models = [load_model(ck, m)[0] for m in range(len(ck["members"]))]
    if cfg["network"] == "stack":
        return _scorecam_patients(models, samples, cohort, wanted or held, ck, out_dir)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    maps = {}
    for i, pid in enumerate(samples.patients):
        x = samples.x[samples.patient_index == i]
        cam = np.mean([gradcam(m, x) for m in models], axis=0)[0]
        with torch.no_grad():
            p = float(np.mean([torch.softmax(m(torch.from_numpy(x))["logits"], 1)[0, 1]
                               for m in models]))
        zc = x.shape[2] // 2
        overlay_png(x[0, 0, zc], cam[zc], out / f"sub-{pid}_gradcam.png",
                    f"{pid} ({cohort[pid]}) P(ER) {p:.2f}")
        maps[pid] = cam[zc]
    np.savez_compressed(out / "gradcam_maps.npz", **maps)
    write_json(out / "index.json", {"experiment": ck["experiment"], "fold": ck["fold"],
                                    "layer": "pool4", "target": "ER logit",
                                    "patients": {p: cohort[p] for p in maps}})
    log.info("Grad-CAM overlays for %d patients written to %s", len(maps), out)
    return len(maps)


def _scorecam_patients(models, samples, cohort, phases, ck, out_dir) -> int:
    """Score-CAM of every patient's central slice sample (of its 3 largest-area slices)."""
    import torch

    from hccer.jsonio import write_json

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    maps = {}
    for i, pid in enumerate(samples.patients):
        x = samples.x[samples.patient_index == i]
        mid = x[len(x) // 2: len(x) // 2 + 1]
        cam = np.mean([scorecam(m, mid) for m in models], axis=0)[0]
        with torch.no_grad():
            p = float(np.mean([torch.softmax(m(torch.from_numpy(x))["logits"], 1)[:, 1].mean()
                               for m in models]))
        phases_png(mid[0], cam, list(phases), out / f"sub-{pid}_scorecam.png",
                   f"{pid} ({cohort[pid]}) P(ER) {p:.2f}")
        maps[pid] = cam
    np.savez_compressed(out / "gradcam_maps.npz", **maps)
    write_json(out / "index.json", {"experiment": ck["experiment"], "fold": ck["fold"],
                                    "method": "Score-CAM", "layer": "trunk (last stage)",
                                    "target": "ER logit", "slice": "central of the 3",
                                    "patients": {p: cohort[p] for p in maps}})
    log.info("Score-CAM overlays for %d patients written to %s", len(maps), out)
    return len(maps)
