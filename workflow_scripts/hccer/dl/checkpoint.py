"""The one checkpoint format of the training jobs, and the one way back to a network.

checkpoint.pt holds `experiment`, `config` (the resolved experiment), `fold` (outer fold),
`seed`, `run_seed`, `input_shape` (one sample), `tabular` (the tabular inputs' record, or
None) and `members` (one state dict per trained network: inner-fold ensembles have several),
plus what a job adds (the IVIM ViT jobs: `inner_fold`, `array`, `val_auc`). A network is
rebuilt from its config and input shape with the call that built it for training
(`networks.build_for`), so every reader gets the trained architecture.
"""

from __future__ import annotations

from pathlib import Path

from hccer.errors import InputError


def save_checkpoint(path: str | Path, *, experiment: str, config: dict, fold: int, seed: int,
                    run_seed: int, input_shape, members: list[dict], tabular: dict | None = None,
                    **extra) -> dict:
    """Write the checkpoint (weights moved to the CPU); returns what was written."""
    import torch

    ck = {"experiment": experiment, "config": config, "fold": int(fold), "seed": int(seed),
          "run_seed": int(run_seed), "input_shape": [int(s) for s in input_shape],
          "tabular": tabular,
          "members": [{k: v.cpu() for k, v in state.items()} for state in members], **extra}
    torch.save(ck, path)
    return ck


def read_checkpoint(path: str | Path) -> dict:
    import torch

    path = Path(path)
    if not path.is_file():
        raise InputError("checkpoint not found", file=path)
    ck = torch.load(path, map_location="cpu", weights_only=False)
    if not isinstance(ck, dict) or not ck.get("members"):
        raise InputError("not a training job's checkpoint (no `members`); re-run the training "
                         "job", file=path)
    return ck


def load_model(checkpoint: str | Path | dict, member: int = 0, device=None):
    """(network of member `member` in eval mode, checkpoint dict), from a checkpoint file or
    one already read."""
    from hccer.dl import networks

    ck = checkpoint if isinstance(checkpoint, dict) else read_checkpoint(checkpoint)
    if not 0 <= member < len(ck["members"]):
        raise InputError(f"{ck['experiment']} has {len(ck['members'])} member(s), not a member "
                         f"{member}", file=None if isinstance(checkpoint, dict) else checkpoint)
    tab = ck.get("tabular")
    model = networks.build_for(ck["config"], ck["input_shape"],
                               None if tab is None else len(tab["columns"]))
    model.load_state_dict(ck["members"][member])
    if device is not None:
        model.to(device)
    return model.eval(), ck
