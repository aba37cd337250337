"""Class-activation maps of `hccer.dl.gradcam`: Grad-CAM of a 3D CNN against a hand
computation, Score-CAM of a stacked ResNet against a channel-by-channel computation, and the
Score-CAM job that maps every patient and refuses networks with tabular inputs."""

import json

import numpy as np
import pytest
import torch
from dlcohort import dlrcr_cohort, tiny_cnn3d


def test_gradcam_matches_a_hand_computation():
    from hccer.dl.gradcam import gradcam

    model = tiny_cnn3d(0).eval()
    x = torch.rand(1, 1, 10, 12, 12)
    cam = gradcam(model, x.numpy())
    acts = model.features(x).detach().requires_grad_(True)
    logit = model.out(model.dense(torch.flatten(acts, 1)))[0, 1]
    g, = torch.autograd.grad(logit, acts)
    raw = torch.relu((g.mean(dim=(2, 3, 4), keepdim=True) * acts).sum(1))[0, 0].detach()
    # pool 4 of a 10-slice input has depth 1: the map is the same on all slices
    assert cam.shape == (1, 10, 12, 12) and np.allclose(cam[0, 0], cam[0, 9])
    # the 2x2 pool-4 grid upsampled to 12x12: the larger raw cell is the brighter quadrant
    if raw.max() > raw.min():
        i, j = np.unravel_index(int(raw.argmax()), raw.shape)
        quad = cam[0, 0, 6 * i:6 * i + 6, 6 * j:6 * j + 6].mean()
        assert quad == pytest.approx(cam[0, 0].reshape(2, 6, 2, 6).mean(axis=(1, 3)).max())


def test_scorecam_matches_a_channel_by_channel_computation():
    import torch.nn.functional as F
    from hccer.dl import networks
    from hccer.dl.gradcam import scorecam

    torch.manual_seed(0)
    model = networks.build("stack", {"backbone": "resnet10", "width": 4, "normalise": "none"},
                           n_phases=3, input_shape=(3, 32, 32)).eval()
    x = torch.rand(2, 3, 32, 32)
    cam = scorecam(model, x.numpy(), batch=3)          # batches of 3 of the 8 channels
    assert cam.shape == (2, 32, 32) and cam.min() >= 0 and cam.max() <= 1
    with torch.no_grad():
        a = model.trunk(x[1:])[0]                        # (8, 4, 4)
        scores = []
        for k in range(a.shape[0]):
            up = F.interpolate(a[k][None, None], size=(32, 32), mode="bilinear",
                               align_corners=False)[0, 0]
            m = (up - up.min()) / (up.max() - up.min()) if up.max() > up.min() else up * 0
            scores.append(model(x[1:] * m)["logits"][0, 1])
        w = torch.softmax(torch.stack(scores), 0)
        raw = torch.relu((w[:, None, None] * a).sum(0))
        ref = F.interpolate(raw[None, None], size=(32, 32), mode="bilinear",
                            align_corners=False)[0, 0]
        ref = (ref - ref.min()) / (ref.max() - ref.min())
    assert np.allclose(cam[1], ref.numpy(), atol=1e-5)


def test_scorecam_job_maps_every_patient_and_refuses_tabular_models(tmp_path):
    from hccer.dl.gradcam import run_gradcam
    from hccer.dl.job import run_job
    from hccer.errors import ConfigError

    crops, pids, train, test = dlrcr_cohort(tmp_path)
    cfg = {"network": "stack", "epochs": 1, "batch_size": 8, "lr": 0.01,
           "input": {"array": "x", "phases": ["AP", "PVP", "DP"]},
           "net": {"backbone": "resnet10", "width": 4, "normalise": "none"}}
    study = {"key": "t", "phases": ["AP", "PVP", "DP"], "crop": {"mode": "slices2d"},
             "deep": {"device": "cpu", "experiments": {"r10": cfg}}}
    out = tmp_path / "models" / "r10" / "fold-0_seed-0"
    run_job(study, "r10", 0, 0, crops, str(tmp_path / "folds.json"),
            str(tmp_path / "outcome.tsv"), str(out), str(tmp_path / "r10.csv"))
    n = run_gradcam(str(out / "checkpoint.pt"), crops, str(out / "gradcam"),
                    str(tmp_path / "folds.json"))
    assert n == len(pids) and len(list((out / "gradcam").glob("sub-*_scorecam.png"))) == n
    index = json.loads((out / "gradcam" / "index.json").read_text())
    assert index["method"] == "Score-CAM" and set(index["patients"]) == set(pids)
    with np.load(out / "gradcam" / "gradcam_maps.npz") as z:
        assert z["p03"].shape == (16, 16)
    ck = torch.load(out / "checkpoint.pt", weights_only=False)
    ck["config"]["tabular"] = ["radiomics"]
    torch.save(ck, tmp_path / "tab.pt")
    with pytest.raises(ConfigError, match="image-only"):
        run_gradcam(str(tmp_path / "tab.pt"), crops, str(tmp_path / "cam2"),
                    str(tmp_path / "folds.json"))
