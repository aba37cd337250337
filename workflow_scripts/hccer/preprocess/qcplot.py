"""Small QC figures (matplotlib Agg). Titles carry the pseudonym and phase only."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _checker(a: np.ndarray, b: np.ndarray, tile: int = 16) -> np.ndarray:
    yy, xx = np.indices(a.shape)
    return np.where(((yy // tile) + (xx // tile)) % 2 == 0, a, b)


def _window(a: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return np.clip((a - lo) / max(hi - lo, 1e-6), 0, 1)


def registration_png(path: str | Path, fixed: np.ndarray, before: np.ndarray,
                     after: np.ndarray, centre_zyx, title: str,
                     mask: np.ndarray | None = None) -> None:
    """Checkerboards fixed/moving before and after, on the axial and coronal planes through
    `centre_zyx`; the fixed tumour outline in red when a mask is given."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lo, hi = np.percentile(fixed, [1, 99])
    z, y, _ = (int(c) for c in centre_zyx)
    planes = {"axial": lambda v: v[z], "coronal": lambda v: v[:, y][::-1]}
    fig, axes = plt.subplots(2, 2, figsize=(6, 6), dpi=80)
    for r, (pname, cut) in enumerate(planes.items()):
        for c, (label, mov) in enumerate((("before", before), ("after", after))):
            ax = axes[r, c]
            ax.imshow(_checker(_window(cut(fixed), lo, hi), _window(cut(mov), lo, hi)),
                      cmap="gray", vmin=0, vmax=1)
            if mask is not None and cut(mask).any():
                ax.contour(cut(mask), levels=[0.5], colors="r", linewidths=0.6)
            ax.set_title(f"{pname}, {label}", fontsize=8)
            ax.axis("off")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)


def montage_png(path: str | Path, tiles: list[np.ndarray], labels: list[str], title: str,
                ncols: int = 6) -> None:
    """A grid of 2D crops in [0, 1]."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = max(len(tiles), 1)
    ncols = min(ncols, n)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.6 * ncols, 1.7 * nrows + 0.3), dpi=72,
                             squeeze=False)
    for i, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if i < len(tiles):
            ax.imshow(tiles[i], cmap="gray", vmin=0, vmax=1)
            ax.set_title(labels[i], fontsize=7)
    fig.suptitle(title, fontsize=8)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)


def _save(fig, path) -> None:
    import os

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp.png")
    fig.savefig(tmp, format="png")
    os.replace(tmp, path)
