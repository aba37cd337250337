"""Helpers shared by the dl unit tests (imported by name, like tests/paper/paperdata.py): the
one-batch overfit check, a tiny seeded 3D CNN, and the cemri_dlrcr test cohort (3-phase slice crops, outcome, hold-out
split with 2 inner folds, a radiomics feature table and the classical track's two records)."""

import json

import numpy as np
import pandas as pd
import torch
from hccer.dl import networks, tabular


def tiny_cnn3d(seed):
    """A tiny 3D CNN for (1, 10, 12, 12) crops, its weights seeded by `seed`."""
    torch.manual_seed(seed)
    return networks.build("cnn3d", {"width": 2, "dense": (8, 8, 4), "dropout": 0.5},
                          input_shape=(1, 10, 12, 12))


CR_VARS = [{"name": "ast_gt40", "column": "ast_u_l", "gt": 40},
           {"name": "diameter_gt5cm", "column": "tumor_size_mm", "gt": 50},
           {"name": "male", "column": "sex", "equals": "M"}]


def dlrcr_cohort(tmp_path, n=16):
    """Crops (3 slices x AP/PVP/DP), outcome, hold-out split with 2 inner folds, a radiomics
    feature table and the classical track's two records."""
    rng = np.random.default_rng(4)
    pids = [f"p{i:02d}" for i in range(n)]
    er = [i % 2 for i in range(n)]
    crops = []
    for pid, e in zip(pids, er, strict=True):
        x = rng.random((3, 3, 16, 16), dtype=np.float32) * 0.2
        x[..., 5:11, 5:11] += 0.6 * e
        path = tmp_path / "crops" / f"sub-{pid}_desc-slices2d.npz"
        path.parent.mkdir(exist_ok=True)
        np.savez(path, x=x)
        crops.append(str(path))
    outcome = pd.DataFrame({"patient": pids, "er": er, "time_days": 500, "event": er,
                            "included": True, "ast_u_l": [30 + 20 * e for e in er],
                            "tumor_size_mm": [40 + (i % 3) * 10 for i in range(n)],
                            "sex": "M"})
    outcome.to_csv(tmp_path / "outcome.tsv", sep="\t", index=False)
    train, test = pids[:12], pids[12:]
    inner = [{"fold": k, "train": [p for i, p in enumerate(train) if i // 2 % 2 != k],
              "validation": [p for i, p in enumerate(train) if i // 2 % 2 == k]}
             for k in (0, 1)]
    assignment = [{"patient": p, "er": e, "cohort": "train" if p in train else "test",
                   "fold": -1} for p, e in zip(pids, er, strict=True)]
    folds = {"method": "holdout_random", "folds": [{"fold": 0, "train": train, "test": test}],
             "inner_folds": inner, "assignment": assignment}
    (tmp_path / "folds.json").write_text(json.dumps(folds))
    feats = pd.DataFrame({"patient": pids,
                          "AP_original_firstorder_Mean": 100.0 + 10 * np.arange(n),
                          "PVP_original_glcm_Idm": rng.random(n),
                          "DP_original_shape_Sphericity": 0.5 + 0.01 * np.arange(n)})
    feats.to_csv(tmp_path / "features.tsv", sep="\t", index=False)
    (tmp_path / "rad.json").write_text(json.dumps(
        {"fold": 0, "selected": ["DP_original_shape_Sphericity",
                                 "AP_original_firstorder_Mean"]}))
    (tmp_path / "cr.json").write_text(json.dumps({"fold": 0,
                                                  "selected": ["ast_gt40", "diameter_gt5cm"]}))
    return crops, pids, train, test


def dlrcr_files(tmp_path):
    return tabular.TabularFiles(str(tmp_path / "features.tsv"), str(tmp_path / "rad.json"),
                                str(tmp_path / "cr.json"))


def overfit(model, x, clinical=None, steps=60, lr=3e-3):
    """Train on one batch; (final loss, training accuracy)."""
    torch.manual_seed(1)
    y = torch.tensor([0, 1] * (len(x) // 2))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        model.train()
        opt.zero_grad()
        out = model(x, clinical)
        loss = torch.nn.functional.cross_entropy(out["logits"], y)
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        pred = model(x, clinical)["logits"].argmax(1)
    return float(loss.detach()), (pred == y).float().mean().item()
