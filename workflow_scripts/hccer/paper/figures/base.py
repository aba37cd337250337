"""What every figure builder shares: the styled pyplot, panel grids and titles, and the
message a panel shows in place of a plot."""

from __future__ import annotations

import math
import textwrap

from hccer.errors import ConfigError
from hccer.paper.spec import label
from hccer.paper.tables.format import (
    COHORT_NAMES,
)


def styled_pyplot():
    from hccer.stats.figures import pyplot_styled

    return pyplot_styled()


def panel_layout(n: int) -> tuple[int, int]:
    ncols = 2 if n == 4 else min(n, 3)
    return math.ceil(n / ncols), ncols


def panel_grid(n: int, w: float = 3.6, h: float = 3.6):
    plt = styled_pyplot()
    nrows, ncols = panel_layout(n)
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


def panel_title(panel: dict, spec: dict) -> str:
    if panel.get("title"):
        return panel["title"]
    names = ", ".join(label(spec, m) for m in panel["models"])
    return f"{names}, {COHORT_NAMES[panel['cohort']].lower()}"


def item_panels(item: dict) -> list[dict]:
    panels = item.get("panels") or []
    if not panels:
        raise ConfigError(f"figure {item['id']}: kind {item['kind']} needs panels")
    return panels
