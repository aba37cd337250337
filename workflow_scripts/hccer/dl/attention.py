"""Attention blocks of the phase-attention model (spec seed-000-001 §4.2-4.3, §7 items 9, 12).

Each gate returns its weights (`weights`) separately from applying them, because inter-phase
attention averages the weights of the three phases before applying them to every phase.
"""

from __future__ import annotations

import torch
from torch import nn


class SEGate(nn.Module):
    """Squeeze-and-excitation channel weights a = sigmoid(W2 relu(W1 GAP(F))), shape (B, C)."""

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        hidden = max(channels // reduction, 1)
        self.fc1 = nn.Linear(channels, hidden)
        self.fc2 = nn.Linear(hidden, channels)

    def weights(self, f):
        z = f.mean(dim=(2, 3))
        return torch.sigmoid(self.fc2(torch.relu(self.fc1(z))))

    def forward(self, f):
        return self.weights(f)[:, :, None, None] * f


class SpatialGate(nn.Module):
    """CBAM spatial weights m = sigmoid(conv7x7([mean_c F; max_c F])), shape (B, 1, H, W)."""

    def __init__(self, kernel: int = 7):
        super().__init__()
        self.conv = nn.Conv2d(2, 1, kernel, padding=kernel // 2)

    def weights(self, f):
        pooled = torch.cat([f.mean(dim=1, keepdim=True), f.amax(dim=1, keepdim=True)], dim=1)
        return torch.sigmoid(self.conv(pooled))

    def forward(self, f):
        return self.weights(f) * f


class CBAMChannelGate(nn.Module):
    """CBAM channel weights: shared MLP on average- and max-pooled descriptors, summed."""

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        hidden = max(channels // reduction, 1)
        self.mlp = nn.Sequential(nn.Linear(channels, hidden), nn.ReLU(),
                                 nn.Linear(hidden, channels))

    def forward(self, f):
        w = torch.sigmoid(self.mlp(f.mean(dim=(2, 3))) + self.mlp(f.amax(dim=(2, 3))))
        return w[:, :, None, None] * f


class CBAM(nn.Module):
    """CBAM-like baseline: channel gate then spatial gate, in series."""

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        self.channel = CBAMChannelGate(channels, reduction)
        self.spatial = SpatialGate()

    def forward(self, f):
        return self.spatial(self.channel(f))


class IntraPhase(nn.Module):
    """F' = a * F + m * F: SE channel and spatial branches in parallel, summed (no identity)."""

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        self.se = SEGate(channels, reduction)
        self.spatial = SpatialGate()

    def forward(self, f):
        return self.se.weights(f)[:, :, None, None] * f + self.spatial.weights(f) * f


class InterPhase(nn.Module):
    """Y = sum_p mean_q(a_q) * G_p + sum_p mean_q(m_q) * G_p, one gate set per phase."""

    def __init__(self, channels: int, n_phases: int, reduction: int = 16):
        super().__init__()
        self.se = nn.ModuleList(SEGate(channels, reduction) for _ in range(n_phases))
        self.spatial = nn.ModuleList(SpatialGate() for _ in range(n_phases))

    def forward(self, maps: list[torch.Tensor]) -> torch.Tensor:
        a = torch.stack([g.weights(f) for g, f in zip(self.se, maps, strict=True)]).mean(0)
        m = torch.stack([g.weights(f) for g, f in zip(self.spatial, maps, strict=True)]).mean(0)
        total = torch.stack(maps).sum(0)
        return a[:, :, None, None] * total + m * total


def branch_attention(kind: str, channels: int, reduction: int = 16) -> nn.Module:
    """The per-branch module for an `attention` setting (identity where none is applied)."""
    if kind in ("intra", "intra+inter"):
        return IntraPhase(channels, reduction)
    if kind == "se":
        return SEGate(channels, reduction)
    if kind == "cbam":
        return CBAM(channels, reduction)
    return nn.Identity()
