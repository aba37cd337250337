"""Deep features of the IVIM ViTs: the fold choice and the batched CLS features."""

import numpy as np
import torch
from hccer.dl import networks
from hccer.ivimvit.features import choose_fold, cls_features


def test_batching_does_not_change_the_cls_features():
    torch.manual_seed(1)
    m = networks.build("vit3d", {"size": "tiny", "dropout": 0.0},
                       input_shape=(9, 16, 16, 16)).eval()
    x = torch.rand(5, 9, 16, 16, 16)
    with torch.no_grad():
        f = m.features(x)
    # eval mode, no dropout
    batched = cls_features(m, x.numpy(), torch.device("cpu"), batch_size=2)
    np.testing.assert_allclose(batched, f.numpy(), rtol=1e-5, atol=1e-6)


def test_fold_choice():
    s = [{"inner_fold": 0, "val_auc": 0.7}, {"inner_fold": 1, "val_auc": None},
         {"inner_fold": 2, "val_auc": 0.9}, {"inner_fold": 3, "val_auc": 0.9}]
    assert choose_fold(s)["inner_fold"] == 2
    assert choose_fold([s[1], {"inner_fold": 4, "val_auc": float("nan")}])["inner_fold"] == 1
