"""The training loop of `hccer.dl.train` on tiny crops: an interrupted run resumed from its
file is bit-identical to an uninterrupted one, and early stopping restores the best weights."""

import numpy as np
import pytest
import torch
from dlcohort import tiny_cnn3d
from hccer.dl.data import Samples
from hccer.dl.train import TrainConfig, fit, set_determinism


def _samples(n=6, shape=(1, 10, 12, 12), seed=0):
    rng = np.random.default_rng(seed)
    labels = np.array([0, 1] * (n // 2))
    x = rng.random((n, *shape), dtype=np.float32) * 0.2
    x[labels == 1, ..., 3:7, 3:7] += 0.6                 # a bright "tumour" for label 1
    return Samples(x, np.arange(n), [f"p{i}" for i in range(n)]), labels


@pytest.mark.parametrize("augment", ["expand7", "flips_rot90"])
def test_resume_is_bit_identical(tmp_path, augment):
    set_determinism(torch.device("cpu"))
    s, y = _samples()
    cfg = TrainConfig(epochs=3, batch_size=4, lr=1e-3, augment=augment,
                      class_weights="balanced")
    full = tiny_cnn3d(0)
    h_full = fit(full, s, y, cfg, seed=5, device=torch.device("cpu"),
                 resume=tmp_path / "a.pt")
    # interrupted after one epoch, then a fresh process would rebuild the model and resume
    part = tiny_cnn3d(0)
    fit(part, s, y, TrainConfig(**{**cfg.__dict__, "epochs": 1}), seed=5,
        device=torch.device("cpu"), resume=tmp_path / "b.pt")
    torch.manual_seed(123)                               # RNG state must come from the file
    resumed = tiny_cnn3d(99)
    h_res = fit(resumed, s, y, cfg, seed=5, device=torch.device("cpu"),
                resume=tmp_path / "b.pt")
    for (k, a), b in zip(full.state_dict().items(), resumed.state_dict().values(),
                         strict=True):
        assert torch.equal(a, b), k
    assert [h["train_loss"] for h in h_full] == [h["train_loss"] for h in h_res]


def test_early_stopping_restores_best_weights(tmp_path):
    s, y = _samples(8)
    val, vy = _samples(4, seed=1)
    model = tiny_cnn3d(0)
    cfg = TrainConfig(epochs=40, batch_size=8, lr=3e-2, early_stopping={"patience": 2})
    hist = fit(model, s, y, cfg, seed=0, device=torch.device("cpu"), val=val, val_labels=vy)
    losses = [h["val_loss"] for h in hist]
    best = int(np.argmin(losses))
    assert len(hist) <= 40 and len(hist) - 1 - best <= 2
    if len(hist) < 40:
        assert len(hist) - 1 - best == 2                 # stopped after `patience` bad epochs
    from hccer.dl.train import predict
    p = predict(model, val, None, torch.device("cpu"))
    got = float(-np.mean(vy * np.log(p + 1e-7) + (1 - vy) * np.log(1 - p + 1e-7)))
    assert got == pytest.approx(losses[best], rel=1e-5)
