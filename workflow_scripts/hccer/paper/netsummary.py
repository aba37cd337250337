"""Layer tables of the trained networks, built from the registry with the run's experiment
settings and the crops' input shape: the stand-in for the papers' architecture figures and
layer tables (e.g. seed-004 Suppl. Table S2, seed-000 Table 2).

The network is built as the training job builds it and run once on zeros; forward hooks
record each listed module's output shape in execution order.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping

import pandas as pd

from hccer.errors import ConfigError
from hccer.paper.inputs import Inputs
from hccer.paper.output import Table
from hccer.paper.spec import label


def _size(v, dims: int = 1) -> str:
    """3 -> "3×3×3" for a 3D layer: torch keeps a cubic kernel, stride or padding as one int."""
    if isinstance(v, str):
        return v
    v = tuple(v) if isinstance(v, (tuple, list)) else (v,) * dims
    return "×".join(str(int(x)) for x in v)


def sample_shape(study: Mapping, cfg: dict, meta: dict) -> tuple[int, ...]:
    """One training sample's shape (C, ...) for experiment `cfg` from a crop's metadata."""
    from hccer.dl.job import channels_for

    array = (cfg.get("input") or {}).get("array", "x")
    shapes = meta.get("arrays", {})
    if array not in shapes:
        raise ConfigError(
            f"experiment {cfg['name']} reads crop array {array!r}; the crops hold {sorted(shapes)}"
        )
    shape = list(shapes[array])
    if array == "x" and len(shape) == 4:  # slices2d: (slices, phases, H, W)
        shape = shape[1:]
    channels = channels_for(study, cfg)
    if channels is not None:
        shape[0] = len(channels)
    return tuple(int(s) for s in shape)


def _selected(model, within: str | None, depth: int | None) -> list[tuple[str, object]]:
    prefix = f"{within}." if within else ""
    out = []
    for name, mod in model.named_modules():
        if not name or not name.startswith(prefix):
            continue
        rel = name[len(prefix) :]
        level = rel.count(".") + 1
        leaf = not any(True for _ in mod.children())
        if (depth is None and leaf) or (
            depth is not None and (level == depth or (leaf and level < depth))
        ):
            out.append((rel, mod))
    if not out:
        raise ConfigError(f"model_summary: no module under {within!r}")
    return out


def _row(name: str, mod, shape) -> dict:
    kind = type(mod).__name__
    kids = list(mod.children())
    if kids:
        types = {type(k).__name__ for k in kids}
        kind += f" ({len(kids)} × {types.pop()})" if len(types) == 1 else f" ({len(kids)})"
    units = getattr(mod, "out_channels", None) or getattr(mod, "out_features", None)
    dims = 3 if "3d" in kind else 2 if "2d" in kind else 1
    return {
        "Layer": name,
        "Type": kind,
        "Filters / units": "" if units is None else str(units),
        "Kernel": _size(mod.kernel_size, dims) if hasattr(mod, "kernel_size") else "",
        "Stride": _size(mod.stride, dims) if hasattr(mod, "stride") else "",
        "Padding": _size(mod.padding, dims) if hasattr(mod, "padding") else "",
        "Output shape": " × ".join(str(s) for s in shape[1:]) if shape else "",
        "Parameters": f"{sum(p.numel() for p in mod.parameters()):,}",
    }


def summarise_network(
    model,
    x_shape: tuple[int, ...],
    clinical_dim: int | None,
    within: str | None = None,
    depth: int | None = None,
) -> list[dict]:
    """Rows (execution order) for the modules of `model` under `within` at `depth` below it
    (leaves when None), then a total row."""
    import torch

    rows, seen, hooks = [], set(), []
    for name, mod in _selected(model, within, depth):

        def hook(m, _inp, out, name=name):
            if name in seen:
                return
            seen.add(name)
            t = out if torch.is_tensor(out) else None
            rows.append(_row(name, m, tuple(t.shape) if t is not None else None))

        hooks.append(mod.register_forward_hook(hook))
    model.eval()
    try:
        with torch.no_grad():
            x = torch.zeros(1, *x_shape)
            clin = torch.zeros(1, clinical_dim) if clinical_dim else None
            model(x, clin)
    finally:
        for h in hooks:
            h.remove()
    total = sum(p.numel() for p in model.parameters())
    rows.append(
        {
            "Layer": "Total",
            "Type": "",
            "Filters / units": "",
            "Kernel": "",
            "Stride": "",
            "Padding": "",
            "Output shape": "",
            "Parameters": f"{total:,}",
        }
    )
    return rows


def model_summary(item: dict, inp: Inputs) -> Table:
    import torch

    from hccer.dl import experiments as dlx
    from hccer.dl import networks
    from hccer.jsonio import read_json
    from hccer.study import load_view

    torch.set_num_threads(1)
    study = load_view(inp.need("study"), "deep")
    metas = [p for p in inp.crops if str(p).endswith(".json")]
    if not metas:
        raise ConfigError(
            "model_summary needs one crop's metadata JSON (--crops) for the input shape"
        )
    meta = read_json(metas[0])
    frames, values = [], []
    for exp in item["experiments"]:
        cfg = dlx.resolve(study.get("deep") or {}, exp)
        shape = sample_shape(study, cfg, meta)
        model = networks.build(cfg["network"], cfg.get("net"), n_phases=shape[0], input_shape=shape)
        dim = None
        if networks.uses_clinical(model):
            params = inspect.signature(networks.REGISTRY[cfg["network"]]).parameters
            dim = int((cfg.get("net") or {}).get("clinical_dim", params["clinical_dim"].default))
        rows = summarise_network(model, shape, dim, item.get("within"), item.get("depth"))
        frame = pd.DataFrame(rows)
        if len(item["experiments"]) > 1:
            frame.insert(0, "Experiment", [label(inp.spec, exp)] + [""] * (len(frame) - 1))
        frames.append(frame)
        values.append(
            {
                "experiment": exp,
                "network": cfg["network"],
                "net": cfg.get("net"),
                "input_shape": list(shape),
                "clinical_dim": dim,
                "parameters": sum(p.numel() for p in model.parameters()),
            }
        )
    notes = [
        "built from the network registry with this run's experiment settings "
        "(config and study_overrides) and the crops' input shape; shapes are channels "
        "first (C × [D ×] H × W), batch axis left out"
    ]
    if item.get("within"):
        notes.append(f"modules under '{item['within']}'; Total counts the whole network")
    return Table(pd.concat(frames, ignore_index=True), values, notes)
