"""Figure builders: `build(item, inputs) -> (figure, values, notes)`, one per kind.

Multi-panel figures follow the papers' panel layout (a-d); each panel draws with the axes-level
functions of `hccer.stats.figures`, so every figure of the workflow shares one style. A panel
whose model the run did not write says so in place of the plot. Modules by kind: curves
(model figures), flow, images; base holds what they share.
"""

from __future__ import annotations

from hccer.paper.figures.base import message, styled_pyplot
from hccer.paper.figures.curves import calibration, confusion, dca, km, roc
from hccer.paper.figures.flow import flow
from hccer.paper.figures.images import crops, gradcam
from hccer.paper.inputs import Inputs


def not_reproduced(item: dict, inp: Inputs):
    plt = styled_pyplot()
    fig, ax = plt.subplots(figsize=(5.0, 1.6))
    message(ax, f"{item['title']}: not reproduced. {item['reason']}")
    return fig, [], [item["reason"]]


BUILDERS = {
    "roc": roc,
    "calibration": calibration,
    "dca": dca,
    "km": km,
    "confusion": confusion,
    "flow": flow,
    "gradcam": gradcam,
    "crops": crops,
    "not_reproduced": not_reproduced,
}


def build(item: dict, inp: Inputs):
    return BUILDERS[item["kind"]](item, inp)
