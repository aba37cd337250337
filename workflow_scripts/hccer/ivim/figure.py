"""Figure of one patient's fit: b = 0, highest b and the four maps through the largest VOI slice."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hccer.ivim.maps import REPORT_SCALE, largest_slice

# Display ranges in reported units (×10⁻³ mm²/s; f fraction), the physical ranges of seed-003 §4.
_RANGES = {"ADC": (0.0, 4.0), "D": (0.0, 4.0), "Dstar": (0.0, 200.0), "f": (0.0, 1.0)}
_TITLES = {"ADC": "ADC", "D": "D", "Dstar": "D*", "f": "f"}
_UNITS = {"ADC": "×10⁻³ mm²/s", "D": "×10⁻³ mm²/s", "Dstar": "×10⁻³ mm²/s", "f": "fraction"}


def plot_fit(path: str | Path, dwi: np.ndarray, b: np.ndarray, maps: dict, mask: np.ndarray,
             spacing_xyz, title: str, mask2: np.ndarray | None = None) -> int:
    """Write the PNG; returns the axial slice shown (largest VOI area)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    z = largest_slice(mask)
    aspect = float(spacing_xyz[1]) / float(spacing_xyz[0])
    hi = int(np.argmax(b))
    panels = [("b = 0 s/mm²", dwi[z][..., b == 0].mean(-1) if (b == 0).any() else None,
               None, "gray", "signal (a.u.)"),
              (f"b = {b[hi]:g} s/mm²", dwi[z, :, :, hi], None, "gray", "signal (a.u.)")]
    for name in ("ADC", "D", "Dstar", "f"):
        panels.append((_TITLES[name], maps[name][z] * REPORT_SCALE[name], _RANGES[name],
                       "magma" if name in ("Dstar", "f") else "viridis", _UNITS[name]))
    fig, axes = plt.subplots(2, 3, figsize=(11, 7), constrained_layout=True)
    for ax, (label, img, rng, cmap, unit) in zip(axes.ravel(), panels, strict=True):
        if img is None:
            ax.axis("off")
            continue
        if rng is None:
            finite = img[np.isfinite(img)]
            rng = (0.0, float(np.percentile(finite, 99.5)) if finite.size else 1.0)
        shown = np.ma.masked_invalid(img)
        im = ax.imshow(shown, cmap=cmap, vmin=rng[0], vmax=rng[1], aspect=aspect,
                       interpolation="nearest")
        ax.contour(mask[z].astype(float), levels=[0.5], colors="red", linewidths=0.8)
        if mask2 is not None:
            ax.contour(mask2[z].astype(float), levels=[0.5], colors="cyan", linewidths=0.6,
                       linestyles="dashed")
        ax.set_title(label)
        ax.set_xticks([])
        ax.set_yticks([])
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.02).set_label(unit)
    outline = "VOI reader 1 (red)" + (", reader 2 (cyan, dashed)" if mask2 is not None else "")
    fig.suptitle(f"{title} — axial slice {z} (largest VOI area); {outline}")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(path).with_name(f".{Path(path).name}.tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)
    return z
