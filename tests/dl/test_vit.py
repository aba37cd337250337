"""The 3D ViT of ivim_vit (`hccer.dl.vit`): sizes by hand, shapes, token order, CLS features,
one-batch overfit, Grad-CAM on the token grid."""

import numpy as np
import pytest
import torch
from hccer.dl import networks
from hccer.dl.gradcam import display_slice, vit_gradcam
from hccer.errors import ConfigError

TINY = {"size": "tiny", "dropout": 0.0}


def _params(m):
    return sum(p.numel() for p in m.parameters())


def _by_hand(c, patch, n_tokens, hidden, depth, mlp):
    embed = c * patch**3 * hidden + hidden
    block = 2 * 2 * hidden + (hidden * 3 * hidden + 3 * hidden) + (hidden * hidden + hidden) \
        + (hidden * mlp + mlp) + (mlp * hidden + hidden)
    return embed + hidden + (n_tokens + 1) * hidden + depth * block + 2 * hidden + hidden * 2 + 2


@pytest.mark.parametrize("net,c,dims", [({}, 9, (768, 12, 3072)), ({}, 4, (768, 12, 3072)),
                                        ({"size": "small"}, 9, (384, 6, 1536))])
def test_parameter_counts_match_a_hand_count(net, c, dims):
    with torch.device("meta"):          # ViT-B sizes without allocating 89 M weights
        m = networks.build("vit3d", net, input_shape=(c, 64, 64, 64))
    hidden, depth, mlp = dims
    assert _params(m) == _by_hand(c, 8, 512, hidden, depth, mlp)
    assert m.grid == (8, 8, 8)


@pytest.mark.parametrize("channels", [9, 4])
def test_shapes_of_logits_tokens_and_features(channels):
    torch.manual_seed(0)
    m = networks.build("vit3d", TINY, input_shape=(channels, 32, 32, 32)).eval()
    x = torch.rand(3, channels, 32, 32, 32)
    assert tuple(m(x)["logits"].shape) == (3, 2)
    assert tuple(m.tokens(x).shape) == (3, 1 + 4**3, 32)
    assert tuple(m.features(x).shape) == (3, 32)


def test_patch_tokens_are_z_major_over_the_grid():
    """Grad-CAM reshapes tokens to `grid`: a bright patch at (z, y, x) must change exactly the
    token z*gy*gx + y*gx + x of the patch embedding."""
    m = networks.build("vit3d", dict(TINY, patch=4), input_shape=(1, 8, 12, 16))
    assert m.grid == (2, 3, 4)
    x = torch.zeros(1, 1, 8, 12, 16)
    x[0, 0, 4:8, 4:8, 8:12] = 1.0                         # patch (1, 1, 2)
    with torch.no_grad():
        t = m.patch_embed(x).flatten(2).transpose(1, 2)[0]
    changed = (t - m.patch_embed.bias).abs().sum(1) > 1e-6
    assert changed.nonzero().ravel().tolist() == [1 * 12 + 1 * 4 + 2]


def test_cls_features_are_the_last_block_cls_before_the_final_norm():
    torch.manual_seed(1)
    m = networks.build("vit3d", TINY, input_shape=(9, 16, 16, 16)).eval()
    x = torch.rand(5, 9, 16, 16, 16)
    seen = {}
    m.blocks[-1].register_forward_hook(lambda _m, _i, out: seen.update(out=out))
    with torch.no_grad():
        logits = m(x)["logits"]
        f = m.features(x)
    assert torch.allclose(f, seen["out"][:, 0])
    assert torch.allclose(m.head(m.norm(f)), logits, atol=1e-6)


def test_bad_settings_are_config_errors():
    with pytest.raises(ConfigError, match="must divide"):
        networks.build("vit3d", {"size": "tiny"}, input_shape=(9, 30, 32, 32))
    with pytest.raises(ConfigError, match="size must be one of"):
        networks.build("vit3d", {"size": "huge"}, input_shape=(9, 32, 32, 32))
    with pytest.raises(ConfigError, match="multiple of"):
        networks.build("vit3d", {"size": "tiny", "heads": 3}, input_shape=(9, 32, 32, 32))
    with pytest.raises(ConfigError, match="no setting"):
        networks.build("vit3d", {"depht": 2}, input_shape=(9, 32, 32, 32))


def test_one_batch_overfit():
    torch.manual_seed(0)
    x = torch.rand(8, 9, 16, 16, 16)
    y = torch.tensor([0, 1] * 4)
    m = networks.build("vit3d", TINY, input_shape=(9, 16, 16, 16))
    opt = torch.optim.AdamW(m.parameters(), lr=1e-3)
    for _ in range(60):
        m.train()
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(m(x)["logits"], y)
        loss.backward()
        opt.step()
    m.eval()
    with torch.no_grad():
        assert (m(x)["logits"].argmax(1) == y).all()
    assert float(loss.detach()) < 0.2


def test_gradcam_maps_lie_on_the_input_grid_in_unit_range():
    torch.manual_seed(2)
    m = networks.build("vit3d", dict(TINY, patch=4), input_shape=(9, 16, 16, 16))
    cam = vit_gradcam(m, np.random.default_rng(0).random((2, 9, 16, 16, 16), np.float32))
    assert cam.shape == (2, 16, 16, 16)
    assert cam.min() >= 0 and cam.max() == pytest.approx(1.0)
    # no gradient reaches the tokens when the head ignores its input: an all-zero map
    torch.nn.init.zeros_(m.head.weight)
    flat = vit_gradcam(m, np.random.default_rng(1).random((1, 9, 16, 16, 16), np.float32))
    assert not flat.any()


def test_display_slice():
    mask = np.zeros((4, 3, 3))
    mask[1, :2, :2] = 1
    mask[2, :, :] = 1
    assert display_slice(mask) == 2
    assert display_slice(np.zeros((5, 2, 2))) == 2
