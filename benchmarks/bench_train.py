"""Training throughput of every CT, CE-MRI and IVIM network at the papers' input sizes: samples/s
and seconds per epoch (at the papers' training-set sizes) on CPU, and on CUDA with AMP when
present (plus GPU utilisation sampled while training).

Run: .venv/bin/python benchmarks/bench_train.py [--steps 3] [--threads 2] [--small]
[--only cemri]
`--small` uses 64 px slices / 10x64x64 VOIs for a quick look; `--only` keeps the networks
whose name contains the given text.
"""

from __future__ import annotations

import argparse
import subprocess
import time

import numpy as np
import torch
from hccer.dl import networks
from hccer.dl.train import autocast, compute_loss

# name, builder, net kwargs, sample shape, batch, training samples per epoch in the paper
# (765 slices x 9/10 folds; ct_3dcnn: 178 VOIs x 7 copies x 4/5 inner folds; cemri_dlrcr:
# 3 slices x 106 patients = the 132-patient training cohort less its 20 % early-stopping set)
NETWORKS = [
    ("phase_attention r18_br3_dpa_fusD_joint", "branches",
     {"attention": "intra+inter", "fusion": "D", "joint_loss": True}, (3, 224, 224), 8, 689),
    ("phase_attention r18_br3", "branches", {}, (3, 224, 224), 8, 689),
    ("deep_fusion r50_stack3_fusD_joint", "stack", {"fusion": "D", "joint_loss": True},
     (3, 224, 224), 16, 689),
    ("ct_3dcnn cnn3d", "cnn3d", {}, (1, 10, 150, 150), 8, 997),
    ("cemri_dlrcr resnet10", "stack", {"backbone": "resnet10", "normalise": "none"},
     (3, 256, 256), 64, 318),
    ("cemri_dlrcr resnet18", "stack", {"backbone": "resnet18", "normalise": "none"},
     (3, 256, 256), 64, 318),
    ("cemri_dlrcr resnet34", "stack", {"backbone": "resnet34", "normalise": "none"},
     (3, 256, 256), 64, 318),
    # 34 radiomics features + 2 CR variables at the FC layer (spec seed-002 §6)
    ("cemri_dlrcr dlrcr", "stack", {"backbone": "resnet10", "normalise": "none",
                                    "fusion": "A", "clinical_dim": 36}, (3, 256, 256), 64, 318),
    # ivim_vit: 3D ViTs on 64^3 crops, patch 8 (512 tokens); 85 training patients x 4/5 inner
    # folds = 68 samples per epoch (spec seed-003 §5). The paper's batch 25 needs > 22 GB in
    # float32 on a CPU (attention maps of 12 layers kept for backward): batch 4 here.
    ("ivim_vit vit_b (ViT-B, 9 b-values)", "vit3d", {"size": "base"}, (9, 64, 64, 64), 4, 68),
    ("ivim_vit vit_m (ViT-B, 4 maps)", "vit3d", {"size": "base"}, (4, 64, 64, 64), 4, 68),
    ("ivim_vit vit_b small (384/6/6)", "vit3d", {"size": "small"}, (9, 64, 64, 64), 25, 68),
]


def gpu_utilisation() -> float | None:
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=utilization.gpu",
                              "--format=csv,noheader,nounits"], capture_output=True,
                             text=True, timeout=5, check=True).stdout
        return float(out.split()[0])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None


def bench(name, builder, net, shape, batch, device, steps):
    torch.manual_seed(0)
    model = networks.build(builder, net, n_phases=shape[0], input_shape=shape).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    x = torch.rand(batch, *shape, device=device)
    c = (torch.rand(batch, net.get("clinical_dim", 9), device=device)
         if networks.uses_clinical(model) else None)
    y = torch.arange(batch, device=device) % 2          # odd batches too (ViT: 25)
    scaler = torch.amp.GradScaler("cuda", enabled=device.type == "cuda"
                                  and not torch.cuda.is_bf16_supported())
    utils = []

    def step():
        opt.zero_grad(set_to_none=True)
        with autocast(device, True):
            out = model(x, c)
        scaler.scale(compute_loss(out, y, None, (0.25, 0.25, 0.5))).backward()
        scaler.step(opt)
        scaler.update()

    model.train()
    step()                                           # warm-up (allocations, cuDNN plans)
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
        if device.type == "cuda":
            u = gpu_utilisation()
            if u is not None:
                utils.append(u)
    if device.type == "cuda":
        torch.cuda.synchronize()
    dt = (time.perf_counter() - t0) / steps
    return batch / dt, (np.mean(utils) if utils else None)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--small", action="store_true")
    ap.add_argument("--only", default="", help="networks whose name contains this text")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available()
                                       else [])
    print(f"torch {torch.__version__}, CPU threads {args.threads}, steps {args.steps}"
          + ("" if len(devices) > 1 else "; no CUDA device: GPU rows skipped"))
    print(f"{'network':42s} {'device':6s} {'input':>14s} {'batch':>5s} {'samples/s':>10s} "
          f"{'s/epoch':>9s} {'GPU util %':>10s}")
    for name, builder, net, shape, batch, n_epoch in NETWORKS:
        if args.only not in name:
            continue
        if args.small:
            shape = shape[:-2] + (64, 64)
        for dev in devices:
            sps, util = bench(name, builder, net, shape, batch, dev, args.steps)
            u = "" if util is None else f"{util:.0f}"
            print(f"{name:42s} {dev.type:6s} {'x'.join(map(str, shape)):>14s} {batch:5d} "
                  f"{sps:10.2f} {n_epoch / sps:9.1f} {u:>10s}", flush=True)


if __name__ == "__main__":
    main()
