"""Per-job figures: training curves (loss and AUC per epoch)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def curves(history: pd.DataFrame, path: str | Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    for m, h in history.groupby("member"):
        suffix = f" (member {m})" if history["member"].nunique() > 1 else ""
        axes[0].plot(h["epoch"], h["train_loss"], label="train" + suffix)
        axes[1].plot(h["epoch"], h["train_auc"], label="train" + suffix)
        if h["val_loss"].notna().any():
            axes[0].plot(h["epoch"], h["val_loss"], "--", label="validation" + suffix)
            axes[1].plot(h["epoch"], h["val_auc"], "--", label="validation" + suffix)
    axes[0].set_ylabel("loss")
    axes[1].set_ylabel("AUC")
    axes[1].set_ylim(0, 1)
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
