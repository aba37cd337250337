"""Cached crops -> training samples, and augmentation that moves every phase of a sample alike.

A sample is one array (C, ..., H, W): for `slices2d` crops one slice with its phases as C (each
slice a sample carrying its patient's label); for `voi3d` crops one VOI variant (SS or NSS)
with the model phases as C. Augmentation acts on the last two (in-plane) axes only.
"""

from __future__ import annotations

import logging
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hccer.errors import InputError

log = logging.getLogger(__name__)
AUGMENT = ("none", "flips_rot90", "expand7", "affine")
_PID = re.compile(r"sub-([A-Za-z0-9]+)_desc-")


@dataclass
class Samples:
    x: np.ndarray              # (N, C, ...) float32 in [0, 1]
    patient_index: np.ndarray  # (N,) index into `patients`
    patients: list[str]

    def subset(self, patients: list[str]) -> Samples:
        keep = {p: i for i, p in enumerate(patients)}
        old = np.array([keep.get(p, -1) for p in self.patients])
        sel = old[self.patient_index] >= 0
        return Samples(self.x[sel], old[self.patient_index[sel]], list(patients))


def patient_of(path: str | Path) -> str:
    m = _PID.search(Path(path).name)
    if not m:
        raise InputError("crop file name does not carry a patient (sub-<id>_desc-...)",
                         file=path)
    return m.group(1)


def load_samples(paths: list[str | Path], patients: list[str], array: str,
                 channels: list[int] | None, per_slice: bool | None = None) -> Samples:
    """Read the crops of `patients` (found among `paths` by the sub-<id> in their names).

    `array` is the npz key (`x` for slices2d, `SS`/`NSS` for voi3d); `channels` the indices of
    the phases to keep. slices2d arrays (n_slices, P, H, W) give n_slices samples; any other
    array (P, ...) gives one sample. `per_slice` says which kind an array is; None reads a
    4-axis `x` as slices2d (a bbox3d `x` (b, z, y, x) needs per_slice=False).
    """
    by_pid = {patient_of(p): Path(p) for p in paths}
    xs, idx = [], []
    for i, pid in enumerate(patients):
        if pid not in by_pid:
            raise InputError("no crop for this patient among the inputs", patient=pid)
        path = by_pid[pid]
        try:
            with np.load(path) as z:
                if array not in z.files:
                    raise InputError(f"crop has no array {array!r} (has {z.files})",
                                     patient=pid, file=path)
                a = np.asarray(z[array], np.float32)
        except (OSError, ValueError) as exc:
            raise InputError(f"unreadable crop: {exc}", patient=pid, file=path) from None
        if not (per_slice if per_slice is not None else array == "x" and a.ndim == 4):
            a = a[None]
        if channels is not None:
            if max(channels) >= a.shape[1]:
                raise InputError(f"crop has {a.shape[1]} phases; phase index {max(channels)} "
                                 "requested", patient=pid, file=path)
            a = a[:, channels]
        if a.shape[0] == 0:
            raise InputError("crop holds no slice", patient=pid, file=path)
        if not np.isfinite(a).all():
            raise InputError("crop holds NaN or infinite values", patient=pid, file=path)
        xs.append(a)
        idx.append(np.full(len(a), i))
    shapes = {a.shape[1:] for a in xs}
    if len(shapes) > 1:
        raise InputError(f"crops differ in shape {sorted(shapes)}; re-run the crop step")
    return Samples(np.concatenate(xs), np.concatenate(idx), list(patients))


def shift(x: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Integer in-plane translation with zero fill (the window minimum of the crops)."""
    out = np.zeros_like(x)
    h, w = x.shape[-2:]
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    out[..., yd, xd] = x[..., ys, xs]
    return out


def transform(x: np.ndarray, flip_ud: bool = False, flip_lr: bool = False, rot: int = 0,
              dy: int = 0, dx: int = 0) -> np.ndarray:
    """One in-plane transform applied to every channel (phase) and slice of a sample."""
    if flip_ud:
        x = x[..., ::-1, :]
    if flip_lr:
        x = x[..., ::-1]
    if rot % 4:
        if x.shape[-1] != x.shape[-2] and rot % 2:
            raise ValueError("90-degree rotations need square slices")
        x = np.rot90(x, rot, axes=(-2, -1))
    if dy or dx:
        x = shift(x, dy, dx)
    return np.ascontiguousarray(x)


def expand7_params(t: int, patient: str, max_shift: int = 10) -> dict:
    """The t-th of 7 copies (seed-004 §3.8): original, up-down flip, left-right flip, random
    translation (fixed per patient), rotations of 90, 180 and 270 degrees."""
    if t == 3:
        rng = np.random.default_rng(zlib.crc32(patient.encode()))
        dy, dx = (int(v) for v in rng.integers(-max_shift, max_shift + 1, 2))
        return {"dy": dy, "dx": dx}
    return [{}, {"flip_ud": True}, {"flip_lr": True}, None, {"rot": 1}, {"rot": 2},
            {"rot": 3}][t]


def random_params(rng: np.random.Generator, square: bool) -> dict:
    """Random flips and 90-degree rotation (rotations only where slices are square)."""
    flips = rng.random(2) < 0.5
    rot = int(rng.integers(0, 4)) if square else 0
    return {"flip_ud": bool(flips[0]), "flip_lr": bool(flips[1]), "rot": rot}


def affine_params(rng: np.random.Generator, max_rot_deg: float = 15.0,
                  zoom: tuple = (0.9, 1.1), max_shift: int = 10) -> dict:
    """Random rotation, zoom, flips (each axis p = 0.5) and translation in pixels: the
    "rotation, scaling, flipping and shifting" of seed-002 §3.9 with its recommended ranges."""
    flips = rng.random(2) < 0.5
    return {"angle_deg": float(rng.uniform(-max_rot_deg, max_rot_deg)),
            "zoom": float(rng.uniform(*zoom)), "flip_ud": bool(flips[0]),
            "flip_lr": bool(flips[1]),
            "dy": float(rng.uniform(-max_shift, max_shift)),
            "dx": float(rng.uniform(-max_shift, max_shift))}


def affine(x: np.ndarray, angle_deg: float = 0.0, zoom: float = 1.0, flip_ud: bool = False,
           flip_lr: bool = False, dy: float = 0.0, dx: float = 0.0) -> np.ndarray:
    """One in-plane affine map (about the centre, bilinear, zero fill) applied alike to every
    channel of a sample (C, ..., H, W); zoom > 1 magnifies, dy/dx move the content in pixels."""
    import torch

    h, w = x.shape[-2:]
    a = np.deg2rad(angle_deg)
    # output pixel (x, y) about the centre -> input pixel: flip, un-shift, rotate, un-zoom
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]) / zoom
    flip = np.diag([-1.0 if flip_lr else 1.0, -1.0 if flip_ud else 1.0])
    m = rot @ flip
    t = -m @ np.array([dx, dy])
    half = np.diag([w / 2.0, h / 2.0])          # pixels <-> affine_grid's [-1, 1] units
    theta = np.hstack([np.linalg.inv(half) @ m @ half, (np.linalg.inv(half) @ t)[:, None]])
    flat = torch.from_numpy(np.ascontiguousarray(x, np.float32).reshape(1, -1, h, w))
    grid = torch.nn.functional.affine_grid(torch.tensor(theta[None], dtype=torch.float32),
                                           list(flat.shape), align_corners=False)
    out = torch.nn.functional.grid_sample(flat, grid, mode="bilinear", padding_mode="zeros",
                                          align_corners=False)
    return out.numpy().reshape(x.shape)


def epoch_plan(n: int, mode: str, rng: np.random.Generator) -> list[tuple[int, int]]:
    """(sample, copy) pairs of one training epoch, shuffled; copy is 0..6 for expand7."""
    if mode not in AUGMENT:
        raise ValueError(f"augment must be one of {AUGMENT}, not {mode!r}")
    copies = 7 if mode == "expand7" else 1
    pairs = [(i, t) for i in range(n) for t in range(copies)]
    order = rng.permutation(len(pairs))
    return [pairs[k] for k in order]


def make_batch(samples: Samples, plan: list[tuple[int, int]], mode: str,
               rng: np.random.Generator | None) -> np.ndarray:
    square = samples.x.shape[-1] == samples.x.shape[-2]
    out = []
    for i, t in plan:
        x = samples.x[i]
        if mode == "expand7":
            x = transform(x, **expand7_params(t, samples.patients[samples.patient_index[i]]))
        elif mode == "flips_rot90":
            x = transform(x, **random_params(rng, square))
        elif mode == "affine":
            x = affine(x, **affine_params(rng))
        out.append(x)
    return np.stack(out)


def balanced_weights(labels: np.ndarray) -> np.ndarray:
    """Keras/sklearn 'balanced' class weights N / (2 N_c) for classes 0 and 1."""
    labels = np.asarray(labels).astype(int)
    counts = np.bincount(labels, minlength=2).astype(float)
    if (counts == 0).any():
        raise InputError("the training set holds only one class; cannot train a classifier")
    return len(labels) / (2.0 * counts)
