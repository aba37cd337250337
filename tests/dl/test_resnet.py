"""ResNet trunks and what cemri_dlrcr builds on them (spec seed-002 §5-§6): `hccer.dl.resnet`'s
ResNet-10/18/34 sizes and layer names by hand; the `stack` network of `hccer.dl.networks` (the 3
phases as channels) and its DLRCR head (trunk features ++ tabular inputs -> FC), shapes at the
paper's sizes and one-batch overfits at tiny ones; and the recipe's pieces in `hccer.dl.train`
(SGD, early stopping on validation AUC) and `hccer.dl.data` (the rotation/zoom/flip/shift
augmentation)."""

import numpy as np
import pytest
import torch
from dlcohort import overfit
from hccer.dl import networks
from hccer.dl.data import Samples, affine, affine_params, make_batch, transform
from hccer.dl.resnet import ResNetTrunk
from hccer.dl.train import TrainConfig, fit, make_optimizer, predict
from hccer.errors import InputError


def _params(m):
    return sum(p.numel() for p in m.parameters())


def test_resnet10_is_resnet18_cut_after_two_stages():
    r10, r18 = ResNetTrunk("resnet10"), ResNetTrunk("resnet18")
    # by hand: stem 7x7x3x64 + BN 128; layer1 2 x (2 x 3x3x64x64 + 2 BN 128);
    # layer2 3x3x64x128 + 3x3x128x128 + 1x1 downsample 64x128 + 3 BN 256 + block 2 as layer1
    stem = 7 * 7 * 3 * 64 + 128
    layer1 = 2 * (2 * 9 * 64 * 64 + 2 * 128)
    layer2 = 9 * 64 * 128 + 9 * 128 * 128 + 64 * 128 + 3 * 256 + 2 * (9 * 128 * 128 + 256)
    assert _params(r10) == stem + layer1 + layer2 == 683_072
    assert r10.out_channels == 128 and r10.stages == ["layer1", "layer2"]
    # same names and shapes as ResNet-18's first two stages: its weights transfer one-to-one
    s10, s18 = r10.state_dict(), r18.state_dict()
    assert all(k in s18 and s18[k].shape == v.shape for k, v in s10.items())
    assert tuple(r10(torch.zeros(1, 3, 256, 256)).shape) == (1, 128, 32, 32)   # stride 8


def test_resnet34_matches_torchvision_size_and_names():
    r34 = ResNetTrunk("resnet34")
    # torchvision resnet34: 21,797,672 parameters, of which fc 512 x 1000 + 1000
    assert _params(r34) == 21_797_672 - 513_000
    assert {"layer3.5.conv2.weight", "layer4.2.bn2.running_mean",
            "layer2.0.downsample.0.weight"} <= set(r34.state_dict())
    assert tuple(r34(torch.zeros(1, 3, 64, 64)).shape) == (1, 512, 2, 2)


@pytest.mark.parametrize("backbone,feat", [("resnet10", 128), ("resnet18", 512),
                                           ("resnet34", 512)])
def test_stacked_resnets_at_paper_size(backbone, feat):
    m = networks.build("stack", {"backbone": backbone, "normalise": "none"}, n_phases=3)
    assert m.head.out.in_features == feat
    m.eval()
    with torch.no_grad():
        out = m(torch.rand(2, 3, 256, 256))
    assert tuple(out["logits"].shape) == (2, 2)


def test_dlrcr_head_concatenates_trunk_and_tabular_features():
    # spec §6: [128-d ResNet-10 | 34 radiomics | 2 CR] -> Linear(164 -> 2)
    m = networks.build("stack", {"backbone": "resnet10", "fusion": "A", "normalise": "none"},
                       n_phases=3, clinical_dim=36)
    assert networks.uses_clinical(m)
    assert (m.head.out.in_features, m.head.out.out_features) == (164, 2)
    m.eval()
    x, tab = torch.rand(2, 3, 64, 64), torch.zeros(2, 36)
    with torch.no_grad():
        a = m(x, tab)["logits"]
        tab[:, 35] = 3.0                       # a CR variable moves the logits linearly
        b = m(x, tab)["logits"]
    assert a.shape == (2, 2)
    assert torch.allclose(b - a, 3.0 * m.head.out.weight[:, 128 + 35].expand(2, 2), atol=1e-5)
    with pytest.raises(ValueError, match="clinical"):
        m(torch.rand(2, 3, 64, 64))


@pytest.mark.parametrize("backbone,fusion", [("resnet10", "none"), ("resnet18", "none"),
                                             ("resnet34", "none"), ("resnet10", "A")])
def test_one_batchoverfit(backbone, fusion):
    torch.manual_seed(0)
    x = torch.rand(8, 3, 32, 32)
    model = networks.build("stack", {"backbone": backbone, "width": 4, "fusion": fusion,
                                     "normalise": "none"}, n_phases=3, clinical_dim=5)
    clinical = torch.randn(8, 5) if fusion != "none" else None
    loss, acc = overfit(model, x, clinical)
    assert acc == 1.0 and loss < 0.2


def test_sgd_optimizer_carries_the_papers_settings():
    model = torch.nn.Linear(3, 2)
    opt = make_optimizer(model, TrainConfig(optimizer="sgd", lr=1e-4, momentum=0.9,
                                            weight_decay=1e-4))
    assert isinstance(opt, torch.optim.SGD)
    g = opt.param_groups[0]
    assert (g["lr"], g["momentum"], g["weight_decay"]) == (1e-4, 0.9, 1e-4)
    with pytest.raises(ValueError, match="optimizer"):
        make_optimizer(model, TrainConfig(optimizer="lbfgs"))


def _toy(n, seed):
    rng = np.random.default_rng(seed)
    y = np.array([0, 1] * (n // 2))
    x = rng.random((n, 3, 16, 16), dtype=np.float32) * 0.3
    x[y == 1, :, 4:12, 4:12] += 0.5 * rng.random((int(y.sum()), 1, 1, 1), dtype=np.float32)
    return Samples(x, np.arange(n), [f"p{i}" for i in range(n)]), y


def test_early_stopping_on_validation_auc_keeps_the_best_auc_weights():
    torch.manual_seed(0)
    train, y = _toy(8, 0)
    val, vy = _toy(6, 1)
    model = networks.build("stack", {"backbone": "resnet10", "width": 4, "normalise": "none"},
                           n_phases=3)
    cfg = TrainConfig(epochs=12, batch_size=4, optimizer="sgd", lr=0.05, augment="affine",
                      class_weights="balanced",
                      early_stopping={"patience": 3, "monitor": "val_auc"})
    hist = fit(model, train, y, cfg, seed=0, device=torch.device("cpu"), val=val,
               val_labels=vy)
    keys = [(-h["val_auc"], h["val_loss"]) for h in hist]
    best = min(range(len(keys)), key=keys.__getitem__)
    assert len(hist) == 12 or len(hist) - 1 - best == 3
    p = predict(model, val, None, torch.device("cpu"))
    from hccer.dl.train import auc

    assert auc(p, vy) == pytest.approx(hist[best]["val_auc"])
    with pytest.raises(InputError, match="both classes"):
        fit(model, train, y, cfg, seed=0, device=torch.device("cpu"), val=val,
            val_labels=np.zeros(6, int))


def test_affine_augmentation_moves_every_phase_alike():
    rng = np.random.default_rng(0)
    x = rng.random((3, 16, 20), dtype=np.float32)
    assert np.allclose(affine(x), x, atol=1e-5)
    assert np.allclose(affine(x, flip_lr=True, flip_ud=True), x[..., ::-1, ::-1], atol=1e-5)
    assert np.allclose(affine(x, dy=2, dx=-3), transform(x, dy=2, dx=-3), atol=1e-5)
    sq = rng.random((3, 16, 16), dtype=np.float32)
    assert np.allclose(affine(sq, angle_deg=90), np.rot90(sq, 1, axes=(-2, -1)), atol=1e-5)
    dot = np.zeros((1, 21, 21), np.float32)
    dot[0, 10, 14] = 1.0                       # 4 px right of the centre pixel
    assert np.unravel_index(affine(dot, zoom=2.0)[0].argmax(), (21, 21)) == (10, 18)
    # the same random map on all 3 phases: identical phases stay identical
    same = np.repeat(rng.random((1, 1, 24, 24), dtype=np.float32), 3, axis=1)
    batch = make_batch(Samples(same, np.array([0]), ["p"]), [(0, 0)], "affine",
                       np.random.default_rng(3))
    assert np.array_equal(batch[0, 0], batch[0, 2]) and not np.allclose(batch[0, 0], same[0, 0])
    p = affine_params(np.random.default_rng(1))
    assert abs(p["angle_deg"]) <= 15 and 0.9 <= p["zoom"] <= 1.1 and abs(p["dx"]) <= 10
