"""Shapes of every network family (paper sizes and tiny test sizes) and one-batch overfits."""

import pytest
import torch
from dlcohort import overfit
from hccer.dl import networks
from hccer.dl.attention import InterPhase, IntraPhase, SEGate, SpatialGate
from hccer.errors import ConfigError

TINY = {"width": 8}


def _params(m):
    return sum(p.numel() for p in m.parameters())


def test_cnn3d_matches_the_papers_table_s2():
    m = networks.build("cnn3d", {}, input_shape=(1, 10, 150, 150))
    # seed-004 §4: 2,490,048 convolutional + 13,272,194 dense parameters
    assert _params(m) == 15_762_242
    feats = m.features(torch.zeros(1, 1, 10, 150, 150))
    assert tuple(feats.shape) == (1, 256, 1, 10, 10)
    conv = sum(p.numel() for n, p in m.named_parameters() if n.startswith("conv"))
    assert conv == 2_490_048


def test_resnet_trunks_have_torchvision_sizes():
    from hccer.dl.resnet import ResNetTrunk

    # torchvision resnet18 / resnet50 without the fc layer: 11,689,512 - 513,000 and
    # 25,557,032 - 2,049,000 parameters
    assert _params(ResNetTrunk("resnet18")) == 11_689_512 - 513_000
    r50 = ResNetTrunk("resnet50")
    assert _params(r50) == 25_557_032 - 2_049_000
    assert tuple(r50(torch.zeros(1, 3, 64, 64)).shape) == (1, 2048, 2, 2)   # stride 32
    names = set(r50.state_dict())
    assert {"layer1.0.downsample.0.weight", "layer4.2.bn3.running_var", "conv1.weight"} <= names


@pytest.mark.parametrize("attention,feature_head,n_feat", [
    ("none", "concat_all", 3 * 64), ("se", "concat_all", 3 * 64), ("cbam", "concat_all", 3 * 64),
    ("intra", "concat_all", 3 * 64), ("inter", "concat_all", 4 * 64),
    ("intra+inter", "concat_all", 4 * 64), ("intra+inter", "inter_only", 64)])
def test_branch_network_feature_sizes(attention, feature_head, n_feat):
    m = networks.build("branches", dict(TINY, attention=attention, feature_head=feature_head),
                       n_phases=3)
    assert m.head.out.in_features == n_feat          # 8 * 8 channels per branch
    out = m(torch.rand(2, 3, 32, 32))
    assert tuple(out["logits"].shape) == (2, 2)


@pytest.mark.parametrize("fusion,in_feat", [("A", 2048 + 9), ("B", 30 + 9), ("C", 60),
                                            ("D", 60)])
def test_fusion_heads(fusion, in_feat):
    head = networks.FusionHead(2048, fusion, 9, 30, joint_loss=fusion in "CD")
    assert head.out.in_features == in_feat
    out = head(torch.rand(4, 2048), torch.rand(4, 9))
    assert tuple(out["logits"].shape) == (4, 2)
    if fusion in "CD":
        assert tuple(out["aux_image"].shape) == tuple(out["aux_clinical"].shape) == (4, 2)


def test_dpa_full_size_feature_vector_is_2048():
    m = networks.build("branches", {"attention": "intra+inter", "fusion": "D",
                                    "joint_loss": True}, n_phases=3)
    assert m.head.image_fc[0].in_features == 2048
    assert m.head.clin_fc[0].in_features == 9


def test_command_line_strings_in_net_are_read_back():
    m = networks.build("cnn3d", {"width": "2", "dense": ["8", "4", "4"], "dropout": "0.5"},
                       input_shape=(1, 10, 16, 16))
    assert m.conv1.out_channels == 2 and m.out.in_features == 4


def test_bad_settings_are_config_errors():
    with pytest.raises(ConfigError, match="no setting"):
        networks.build("branches", {"widht": 8}, n_phases=3)
    with pytest.raises(ConfigError, match="joint_loss"):
        networks.build("stack", {"fusion": "A", "joint_loss": True}, n_phases=3)
    with pytest.raises(ConfigError, match="unknown network"):
        networks.build("vit9", {}, n_phases=3)


def test_attention_equations_by_hand():
    torch.manual_seed(0)
    f = torch.rand(2, 32, 4, 4)
    intra = IntraPhase(32)
    a = torch.sigmoid(intra.se.fc2(torch.relu(intra.se.fc1(f.mean(dim=(2, 3))))))
    pooled = torch.cat([f.mean(1, keepdim=True), f.amax(1, keepdim=True)], 1)
    m = torch.sigmoid(intra.spatial.conv(pooled))
    assert torch.allclose(intra(f), a[:, :, None, None] * f + m * f, atol=1e-6)
    maps = [torch.rand(2, 32, 4, 4) for _ in range(3)]
    inter = InterPhase(32, 3)
    a_bar = sum(SEGate.weights(g, x) for g, x in zip(inter.se, maps, strict=True)) / 3
    m_bar = sum(SpatialGate.weights(g, x) for g, x in zip(inter.spatial, maps,
                                                           strict=True)) / 3
    want = sum(a_bar[:, :, None, None] * x + m_bar * x for x in maps)
    assert torch.allclose(inter(maps), want, atol=1e-5)


@pytest.mark.parametrize("name,net,shape", [
    ("branches", dict(TINY, attention="intra+inter", fusion="D", joint_loss=True), (8, 3, 32, 32)),
    ("branches", dict(TINY, attention="none"), (8, 1, 32, 32)),
    ("stack", dict(TINY, backbone="resnet50", fusion="C"), (8, 3, 32, 32)),
    ("cnn3d", {"width": 4, "dense": (32, 16, 8), "dropout": 0.0}, (8, 1, 10, 24, 24)),
])
def test_one_batchoverfit(name, net, shape):
    # The 3D CNN's loss spikes at lr 3e-3 (thread-count dependent); 1e-3 converges on any.
    lr, steps = (1e-3, 100) if name == "cnn3d" else (3e-3, 60)
    torch.manual_seed(0)
    x = torch.rand(*shape)
    model = networks.build(name, net, n_phases=shape[1], input_shape=shape[1:])
    clinical = torch.rand(shape[0], 9) if networks.uses_clinical(model) else None
    loss, acc = overfit(model, x, clinical, steps=steps, lr=lr)
    assert acc == 1.0
    assert loss < 0.2
