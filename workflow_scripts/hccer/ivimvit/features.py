"""Deep features of the IVIM ViTs (seed-003 §5): pick the inner-fold model with the best
validation AUC (training cohort only), run every patient of the split through it without
augmentation and keep the CLS token of the last transformer block (before the final
LayerNorm), one row per patient.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)


def choose_fold(summaries: list[dict]) -> dict:
    """The summary with the highest validation AUC; an undefined AUC ranks last and ties go
    to the lowest inner fold, so the choice is reproducible."""
    if not summaries:
        raise ValueError("no inner-fold model to choose from")

    def key(s):
        a = s.get("val_auc")
        return (-(a if a is not None and math.isfinite(a) else -math.inf), int(s["inner_fold"]))

    return min(summaries, key=key)


def cls_features(model, x: np.ndarray, device, batch_size: int = 8) -> np.ndarray:
    """(N, hidden) CLS features of samples x (N, C, D, H, W), model in eval mode."""
    import torch

    model.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            xb = torch.from_numpy(np.ascontiguousarray(x[start:start + batch_size])).to(device)
            out.append(model.features(xb).float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, model.hidden), np.float32)


def feature_names(n: int) -> list[str]:
    return [f"f{i:04d}" for i in range(n)]


def run_extract(experiment: str, seed: int, job_dirs: list[str], crops: list[str],
                folds_path: str, out_tsv: str, out_json: str, device: str | None = None,
                threads: int | None = None) -> dict:
    import torch

    from hccer.dl.checkpoint import load_model
    from hccer.dl.data import load_samples
    from hccer.dl.train import resolve_device
    from hccer.errors import InputError
    from hccer.ivimvit import config as ivim_config
    from hccer.jsonio import read_json, write_json, write_text

    if threads:
        torch.set_num_threads(int(threads))
    summaries = []
    for d in job_dirs:
        s_path = Path(d) / "summary.json"
        if not s_path.is_file():
            raise InputError("inner-fold job has no summary.json", file=s_path)
        s = read_json(s_path)
        if s["experiment"] != experiment or int(s["seed"]) != int(seed):
            raise InputError(f"job folder holds {s['experiment']} seed {s['seed']}, not "
                             f"{experiment} seed {seed}", file=s_path)
        summaries.append(dict(s, dir=str(d)))
    chosen = choose_fold(summaries)
    dev = resolve_device(device or "auto")
    model, ck = load_model(Path(chosen["dir"]) / "checkpoint.pt", device=dev)
    split = read_json(folds_path)
    train, test = ivim_config.outer_sides(split)
    patients = sorted(train + test)
    samples = load_samples(crops, patients, ck["array"], None, per_slice=False)
    if list(samples.x.shape[1:]) != list(ck["input_shape"]):
        raise InputError(f"crops of shape {list(samples.x.shape[1:])} differ from the shape "
                         f"{ck['input_shape']} the model was trained on; re-run training")
    feats = cls_features(model, samples.x, dev, int(ck["config"]["batch_size"]))
    if not np.isfinite(feats).all():
        raise InputError(f"{experiment}: the fold {chosen['inner_fold']} model gives "
                         "non-finite features (diverged training?)")
    cohort = {p: "train" for p in train} | {p: "test" for p in test}
    table = pd.DataFrame(feats, columns=feature_names(feats.shape[1]))
    table.insert(0, "cohort", [cohort[p] for p in samples.patients])
    table.insert(0, "patient", samples.patients)
    write_text(out_tsv, table.to_csv(sep="\t", index=False, float_format="%.7g"))
    record = {"experiment": experiment, "seed": int(seed), "chosen_inner_fold":
              int(chosen["inner_fold"]), "chosen_val_auc": chosen["val_auc"],
              "checkpoint": str(Path(chosen["dir"]) / "checkpoint.pt"),
              "criterion": "highest validation AUC of the inner-fold model (training cohort)",
              "val_auc_by_fold": {int(s["inner_fold"]): s["val_auc"] for s in summaries},
              "n_features": int(feats.shape[1]), "n_patients": len(patients),
              "feature": "CLS token of the last transformer block, before the final LayerNorm"}
    write_json(out_json, record)
    log.info("%s seed %d: features of %d patients from inner fold %d (validation AUC %s)",
             experiment, seed, len(patients), record["chosen_inner_fold"], chosen["val_auc"])
    return record


def read_features(path: str | Path) -> pd.DataFrame:
    """A features TSV indexed by patient (columns cohort, f0000, ...)."""
    from hccer.errors import InputError

    path = Path(path)
    if not path.is_file():
        raise InputError("deep-feature table not found", file=path)
    df = pd.read_csv(path, sep="\t", dtype={"patient": str, "cohort": str})
    if "patient" not in df.columns or "cohort" not in df.columns:
        raise InputError("deep-feature table needs columns patient and cohort", file=path)
    return df.set_index("patient")
