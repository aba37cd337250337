"""The network registry: a network is a builder function named in config (`network:`) whose
keyword arguments are the experiment's `net:` block.

Every network maps (x, clinical) to a dict with `logits` (B, 2) and, for joint-loss fusion,
`aux_image` and `aux_clinical` (B, 2). Further tracks add builders with `register`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

import torch
from torch import nn

from hccer.dl.attention import InterPhase, branch_attention
from hccer.dl.resnet import ResNetTrunk
from hccer.errors import ConfigError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
ATTENTION = ("none", "se", "cbam", "intra", "inter", "intra+inter")
FUSION = ("none", "A", "B", "C", "D")
REGISTRY: dict[str, Callable[..., nn.Module]] = {}


def register(name: str):
    def deco(fn):
        REGISTRY[name] = fn
        return fn
    return deco


def build(name: str, net: dict | None = None, **data_shape) -> nn.Module:
    """Build network `name` with config kwargs `net` plus data-derived kwargs (input shape,
    number of phases, clinical size); unknown config keys raise ConfigError naming them."""
    if name not in REGISTRY:
        raise ConfigError(f"deep: unknown network {name!r}; known: {sorted(REGISTRY)}")
    fn = REGISTRY[name]
    params = inspect.signature(fn).parameters
    net = dict(net or {})
    unknown = sorted(set(net) - set(params))
    if unknown:
        raise ConfigError(f"deep: network {name!r} has no setting(s) {unknown}; "
                          f"settings: {sorted(k for k in params if k not in data_shape)}")
    kwargs = {k: v for k, v in data_shape.items() if k in params}
    kwargs.update({k: _typed(v) for k, v in net.items()})
    return fn(**kwargs)


def build_for(cfg: dict, x_shape, clinical_dim: int | None = None) -> nn.Module:
    """Experiment `cfg`'s network for samples of shape `x_shape` (channels or phases first),
    the one call used both to train a network and to rebuild it from a checkpoint;
    `clinical_dim` is the width of a data-derived tabular input."""
    shape = {"n_phases": int(x_shape[0]), "input_shape": tuple(int(s) for s in x_shape)}
    if clinical_dim is not None:
        shape["clinical_dim"] = int(clinical_dim)
    return build(cfg["network"], cfg.get("net"), **shape)


def _typed(value):
    """`net` is free-form in the schema, so `--config` overrides arrive as strings there:
    read numbers and booleans back (YAML scalars), element-wise in lists."""
    if isinstance(value, list):
        return [_typed(v) for v in value]
    if isinstance(value, str):
        import yaml

        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError:
            return value
        return parsed if isinstance(parsed, (bool, int, float)) else value
    return value


class FusionHead(nn.Module):
    """Image features (+ clinical vector) -> 2 logits (spec seed-000-001 §4.5-4.6, 001 §4.2).

    none: FC(2) on the image features. A: concat(image, raw clinical) -> FC(2). B: image FC->fc_dim
    + raw clinical. C: as B with clinical Conv1D(fc_dim, k=3, same, ReLU) + GAP. D: image and
    clinical FC->fc_dim (ReLU). Joint loss adds FC(2) heads on both fc_dim pathway features.
    """

    def __init__(self, in_features: int, fusion: str = "none", clinical_dim: int = 9,
                 fc_dim: int = 30, joint_loss: bool = False):
        super().__init__()
        if fusion not in FUSION:
            raise ConfigError(f"deep: fusion must be one of {FUSION}, not {fusion!r}")
        if joint_loss and fusion not in ("C", "D"):
            raise ConfigError("deep: joint_loss needs a trainable clinical pathway (fusion C "
                              "or D)")
        self.fusion, self.joint = fusion, joint_loss
        self.image_fc = (nn.Sequential(nn.Linear(in_features, fc_dim), nn.ReLU())
                         if fusion in ("B", "C", "D") else nn.Identity())
        img_dim = fc_dim if fusion in ("B", "C", "D") else in_features
        if fusion == "C":
            self.clin_conv = nn.Conv1d(1, fc_dim, 3, padding=1)
        elif fusion == "D":
            self.clin_fc = nn.Sequential(nn.Linear(clinical_dim, fc_dim), nn.ReLU())
        clin_dim = {"none": 0, "A": clinical_dim, "B": clinical_dim}.get(fusion, fc_dim)
        self.out = nn.Linear(img_dim + clin_dim, 2)
        if joint_loss:
            self.aux_image = nn.Linear(img_dim, 2)
            self.aux_clinical = nn.Linear(clin_dim, 2)

    def forward(self, feats, clinical=None) -> dict:
        img = self.image_fc(feats)
        if self.fusion == "none":
            return {"logits": self.out(img)}
        if clinical is None:
            raise ValueError("a fusion model needs the clinical vector")
        if self.fusion == "C":
            clin = torch.relu(self.clin_conv(clinical[:, None, :])).mean(dim=2)
        elif self.fusion == "D":
            clin = self.clin_fc(clinical)
        else:
            clin = clinical
        out = {"logits": self.out(torch.cat([img, clin], dim=1))}
        if self.joint:
            out["aux_image"] = self.aux_image(img)
            out["aux_clinical"] = self.aux_clinical(clin)
        return out


class _Normalise(nn.Module):
    """[0, 1] input -> ImageNet mean/std per channel (or unchanged)."""

    def __init__(self, channels: int, kind: str):
        super().__init__()
        if kind not in ("imagenet", "none"):
            raise ConfigError(f"deep: normalise must be imagenet or none, not {kind!r}")
        mean = torch.tensor(IMAGENET_MEAN if kind == "imagenet" else (0.0,) * 3)
        std = torch.tensor(IMAGENET_STD if kind == "imagenet" else (1.0,) * 3)
        self.register_buffer("mean", mean[:channels, None, None].clone(), persistent=False)
        self.register_buffer("std", std[:channels, None, None].clone(), persistent=False)

    def forward(self, x):
        return (x - self.mean) / self.std


class PhaseBranchNet(nn.Module):
    """One ResNet branch per phase (grey image repeated to 3 channels), per-branch attention,
    optional inter-phase attention, feature vector, fusion head (DPA and its ablations)."""

    def __init__(self, n_phases: int, backbone: str = "resnet18", width: int = 64,
                 attention: str = "none", feature_head: str = "concat_all",
                 reduction: int = 16, fusion: str = "none", fc_dim: int = 30,
                 joint_loss: bool = False, clinical_dim: int = 9, normalise: str = "imagenet"):
        super().__init__()
        if attention not in ATTENTION:
            raise ConfigError(f"deep: attention must be one of {ATTENTION}, not {attention!r}")
        if feature_head not in ("concat_all", "inter_only"):
            raise ConfigError("deep: feature_head must be concat_all or inter_only")
        self.norm = _Normalise(3, normalise)
        self.branches = nn.ModuleList(ResNetTrunk(backbone, width) for _ in range(n_phases))
        c = self.branches[0].out_channels
        self.intra = nn.ModuleList(branch_attention(attention, c, reduction)
                                   for _ in range(n_phases))
        self.inter = InterPhase(c, n_phases, reduction) if "inter" in attention else None
        if self.inter is None and feature_head == "inter_only":
            raise ConfigError("deep: feature_head inter_only needs inter-phase attention")
        self.inter_only = feature_head == "inter_only"
        n_feat = c if self.inter_only else c * (n_phases + (self.inter is not None))
        self.head = FusionHead(n_feat, fusion, clinical_dim, fc_dim, joint_loss)

    def trunks(self):
        return list(self.branches)

    def forward(self, x, clinical=None):
        maps = [att(trunk(self.norm(x[:, p:p + 1].expand(-1, 3, -1, -1))))
                for p, (trunk, att) in enumerate(zip(self.branches, self.intra, strict=True))]
        pooled = [m.mean(dim=(2, 3)) for m in maps]
        if self.inter is not None:
            y = self.inter(maps).mean(dim=(2, 3))
            pooled = [y] if self.inter_only else pooled + [y]
        return self.head(torch.cat(pooled, dim=1), clinical)


class StackNet(nn.Module):
    """One ResNet on the phases stacked as channels (early fusion), GAP, fusion head."""

    def __init__(self, n_phases: int, backbone: str = "resnet50", width: int = 64,
                 fusion: str = "none", fc_dim: int = 30, joint_loss: bool = False,
                 clinical_dim: int = 9, normalise: str = "imagenet"):
        super().__init__()
        if n_phases != 3:
            raise ConfigError(f"deep: the stacked network needs 3 phases, got {n_phases}")
        self.norm = _Normalise(3, normalise)
        self.trunk = ResNetTrunk(backbone, width)
        self.head = FusionHead(self.trunk.out_channels, fusion, clinical_dim, fc_dim, joint_loss)

    def trunks(self):
        return [self.trunk]

    def forward(self, x, clinical=None):
        return self.head(self.trunk(self.norm(x)).mean(dim=(2, 3)), clinical)


class CNN3D(nn.Module):
    """The 3D CNN of seed-004 §4: six 3D convolutions (ReLU, stride 1, same), four max-pools
    (stride 2, TF-'same' sizes), dense 512/256/128 with dropout 0.5, 2 outputs; no batch norm.
    `width` is the first layer's filters (32 published); `dense` the hidden sizes."""

    def __init__(self, input_shape=(1, 10, 150, 150), width: int = 32,
                 dense=(512, 256, 128), dropout: float = 0.5):
        super().__init__()
        c_in = input_shape[0]
        w = [width, 2 * width, 4 * width, 4 * width, 8 * width, 8 * width]
        k = [(3, 3, 3)] * 4 + [(2, 3, 3)] * 2
        convs = [nn.Conv3d(a, b, kk, padding="same")
                 for a, b, kk in zip([c_in] + w[:-1], w, k, strict=True)]
        self.conv1, self.conv2, self.conv3, self.conv4, self.conv5, self.conv6 = convs
        self.pool1 = nn.MaxPool3d(3, 2, 1)
        self.pool2 = nn.MaxPool3d(3, 2, 1)
        self.pool3 = nn.MaxPool3d(3, 2, 1)
        self.pool4 = nn.MaxPool3d((2, 3, 3), 2, (0, 1, 1), ceil_mode=True)
        with torch.no_grad():
            n_flat = self.features(torch.zeros(1, *input_shape)).numel()
        layers, prev = [], n_flat
        for h in dense:
            layers += [nn.Linear(prev, h), nn.ReLU(), nn.Dropout(dropout)]
            prev = h
        self.dense = nn.Sequential(*layers)
        self.out = nn.Linear(prev, 2)
        # Keras defaults: Glorot-uniform kernels, zero biases
        for m in self.modules():
            if isinstance(m, (nn.Conv3d, nn.Linear)):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def features(self, x):
        r = torch.relu
        x = self.pool1(r(self.conv1(x)))
        x = self.pool2(r(self.conv2(x)))
        x = self.pool3(r(self.conv4(r(self.conv3(x)))))
        return self.pool4(r(self.conv6(r(self.conv5(x)))))

    def trunks(self):
        return []

    def forward(self, x, clinical=None):
        return {"logits": self.out(self.dense(torch.flatten(self.features(x), 1)))}


@register("branches")
def build_branches(n_phases: int, backbone: str = "resnet18", width: int = 64,
                   attention: str = "none", feature_head: str = "concat_all",
                   reduction: int = 16, fusion: str = "none", fc_dim: int = 30,
                   joint_loss: bool = False, clinical_dim: int = 9,
                   normalise: str = "imagenet") -> nn.Module:
    return PhaseBranchNet(n_phases, backbone, width, attention, feature_head, reduction,
                          fusion, fc_dim, joint_loss, clinical_dim, normalise)


@register("stack")
def build_stack(n_phases: int, backbone: str = "resnet50", width: int = 64,
                fusion: str = "none", fc_dim: int = 30, joint_loss: bool = False,
                clinical_dim: int = 9, normalise: str = "imagenet") -> nn.Module:
    return StackNet(n_phases, backbone, width, fusion, fc_dim, joint_loss, clinical_dim,
                    normalise)


@register("cnn3d")
def build_cnn3d(input_shape, width: int = 32, dense=(512, 256, 128),
                dropout: float = 0.5) -> nn.Module:
    return CNN3D(tuple(input_shape), width, tuple(dense), dropout)


@register("vit3d")
def build_vit3d(input_shape, patch: int = 8, size: str = "base", hidden: int | None = None,
                depth: int | None = None, heads: int | None = None, mlp_dim: int | None = None,
                dropout: float = 0.1) -> nn.Module:
    from hccer.dl import vit

    return vit.build(input_shape, patch, size, hidden, depth, heads, mlp_dim, dropout)


def uses_clinical(model: nn.Module) -> bool:
    head = getattr(model, "head", None)
    return isinstance(head, FusionHead) and head.fusion != "none"
