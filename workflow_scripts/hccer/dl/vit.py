"""A 3D vision transformer for multi-channel volumes (seed-003 §5, gap §8.1).

The paper names a "ViT framework" and nothing else, so the design mirrors
`monai.networks.nets.ViT` in plain torch: a Conv3d patch embedding (kernel = stride = `patch`),
a learnable CLS token and 1D learned position embedding, pre-norm transformer blocks, a final
LayerNorm and a linear head to 2 classes on the CLS token. Random initialisation (no
pretraining is mentioned).

Sizes: `base` is ViT-B (hidden 768, 12 blocks, 12 heads, MLP 3072); `small` (384 / 6 / 6 /
1536) and `tiny` (32 / 2 / 2 / 64) run on a CPU. Any of hidden/depth/heads/mlp_dim given
explicitly overrides the size preset.

Deep features (the bDL / mDL vectors): the CLS token output of the last transformer block,
before the final LayerNorm (`features`). Patch 8 on a 64³ crop gives an 8³ token grid, the
grid the ViT Grad-CAM (`hccer.dl.gradcam.vit_gradcam`) lives on.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from hccer.errors import ConfigError

# hidden, depth, heads, mlp_dim
SIZES = {"base": (768, 12, 12, 3072), "small": (384, 6, 6, 1536), "tiny": (32, 2, 2, 64)}


class Attention(nn.Module):
    """Multi-head self-attention; dropout on the attention weights and on the output."""

    def __init__(self, dim: int, heads: int, dropout: float):
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        out = nn.functional.scaled_dot_product_attention(
            q, k, v, dropout_p=self.dropout if self.training else 0.0)
        return self.drop(self.proj(out.transpose(1, 2).reshape(b, n, c)))


class Block(nn.Module):
    """Pre-norm transformer block: x + MHSA(LN(x)), then x + MLP(LN(x)) with GELU."""

    def __init__(self, dim: int, heads: int, mlp_dim: int, dropout: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads, dropout)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_dim), nn.GELU(), nn.Dropout(dropout),
                                 nn.Linear(mlp_dim, dim), nn.Dropout(dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class ViT3D(nn.Module):
    """(B, C, D, H, W) -> {"logits": (B, 2)}; `features` gives the last block's CLS token."""

    def __init__(self, input_shape, patch: int = 8, hidden: int = 768, depth: int = 12,
                 heads: int = 12, mlp_dim: int = 3072, dropout: float = 0.1):
        super().__init__()
        channels, *spatial = (int(s) for s in input_shape)
        if len(spatial) != 3:
            raise ConfigError(f"deep: vit3d needs (channels, z, y, x) inputs, got {input_shape}")
        if patch < 1 or any(s % patch for s in spatial):
            raise ConfigError(f"deep: vit3d patch {patch} must divide the crop size {spatial}")
        if hidden % heads:
            raise ConfigError(f"deep: vit3d hidden size {hidden} is not a multiple of the "
                              f"{heads} heads")
        if not 0.0 <= dropout < 1.0:
            raise ConfigError(f"deep: vit3d dropout must be in [0, 1), not {dropout}")
        self.grid = tuple(s // patch for s in spatial)
        self.patch, self.hidden = patch, hidden
        n_tokens = math.prod(self.grid)
        self.patch_embed = nn.Conv3d(channels, hidden, patch, stride=patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, hidden))
        self.pos_embed = nn.Parameter(torch.zeros(1, n_tokens + 1, hidden))
        self.pos_drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(Block(hidden, heads, mlp_dim, dropout) for _ in range(depth))
        self.norm = nn.LayerNorm(hidden)
        self.head = nn.Linear(hidden, 2)
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1 + n_patches, hidden): the last block's output, CLS first, before the final
        LayerNorm. Patch tokens are in z-major order over the `grid`."""
        t = self.patch_embed(x).flatten(2).transpose(1, 2)
        t = torch.cat([self.cls_token.expand(len(t), -1, -1), t], dim=1)
        t = self.pos_drop(t + self.pos_embed)
        for block in self.blocks:
            t = block(t)
        return t

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The deep-feature vector (B, hidden): CLS token of the last block, pre-LayerNorm."""
        return self.tokens(x)[:, 0]

    def trunks(self) -> list:
        return []

    def forward(self, x: torch.Tensor, clinical=None) -> dict:
        return {"logits": self.head(self.norm(self.features(x)))}


def build(input_shape, patch: int = 8, size: str = "base", hidden: int | None = None,
          depth: int | None = None, heads: int | None = None, mlp_dim: int | None = None,
          dropout: float = 0.1) -> ViT3D:
    """A ViT3D of a named `size`, with any explicitly given dimension overriding it."""
    if size not in SIZES:
        raise ConfigError(f"deep: vit3d size must be one of {sorted(SIZES)}, not {size!r}")
    dims = [v if v is not None else d
            for v, d in zip((hidden, depth, heads, mlp_dim), SIZES[size], strict=True)]
    return ViT3D(tuple(input_shape), int(patch), *(int(v) for v in dims), float(dropout))
