"""Layer tables from the network registry: the paper-size 3D CNN has seed-004 Suppl. Table
S2's output shapes and its verified 15,762,242 parameters; stage rows of a ResNet branch."""

from __future__ import annotations

import json

import pytest
import torch
import yaml
from hccer.paper.inputs import Inputs
from hccer.paper.netsummary import model_summary, summarise_network
from hccer.paper.spec import STATS_DEFAULTS

pytestmark = pytest.mark.filterwarnings("ignore")


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_cnn3d_paper_size_matches_table_s2():
    from hccer.dl.networks import build

    model = build("cnn3d", {}, input_shape=(1, 10, 150, 150))
    rows = summarise_network(model, (1, 10, 150, 150), None)
    by = {r["Layer"]: r for r in rows}
    order = [r["Layer"] for r in rows]
    # execution order, not attribute order: conv3 and conv4 run before pool3
    assert order[:10] == [
        "conv1",
        "pool1",
        "conv2",
        "pool2",
        "conv3",
        "conv4",
        "pool3",
        "conv5",
        "conv6",
        "pool4",
    ]
    # Table S2 output shapes (channels last there): 10,150,150,32 ... 1,10,10,256
    assert by["conv1"]["Output shape"] == "32 × 10 × 150 × 150"
    assert by["pool1"]["Output shape"] == "32 × 5 × 75 × 75"
    assert by["pool2"]["Output shape"] == "64 × 3 × 38 × 38"
    assert by["pool3"]["Output shape"] == "128 × 2 × 19 × 19"
    assert by["conv5"]["Kernel"] == "2×3×3" and by["conv5"]["Filters / units"] == "256"
    assert by["pool4"]["Output shape"] == "256 × 1 × 10 × 10"
    assert by["dense.0"]["Filters / units"] == "512" and by["out"]["Output shape"] == "2"
    assert rows[-1]["Parameters"] == "15,762,242"  # seed-004 §4 [verified]


def test_model_summary_item_reads_study_and_crop_shape(tmp_path):
    study = {
        "key": "demo",
        "modality": "CT",
        "phases": ["NC", "ART", "PV"],
        "crop": {"mode": "slices2d"},
        "deep": {
            "defaults": {"input": {"array": "x", "phases": ["NC", "ART", "PV"]}},
            "experiments": {
                "r18": {"network": "branches", "net": {"backbone": "resnet18", "width": 4}},
                "fusd": {"base": "r18", "net": {"fusion": "D"}},
            },
        },
    }
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(study))
    meta = tmp_path / "sub-p1_desc-slices2d.json"
    meta.write_text(json.dumps({"mode": "slices2d", "arrays": {"x": [5, 3, 32, 32]}}))
    inp = Inputs(
        spec={"stats": STATS_DEFAULTS}, study=str(tmp_path / "study.yaml"), crops=[str(meta)]
    )
    t = model_summary(
        {
            "id": "t2",
            "title": "T2",
            "kind": "model_summary",
            "experiments": ["r18", "fusd"],
            "within": "branches.0",
            "depth": 1,
        },
        inp,
    )
    layers = t.frame["Layer"].tolist()
    assert layers[:8] == ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"]
    assert t.frame.loc[4, "Type"] == "Sequential (2 × BasicBlock)"
    assert t.frame.loc[7, "Output shape"] == "32 × 1 × 1"  # width 4 -> 32 channels
    assert t.frame.loc[0, "Experiment"] == "r18"
    assert t.values[0]["input_shape"] == [3, 32, 32] and t.values[1]["clinical_dim"] == 9
    assert t.values[1]["parameters"] > t.values[0]["parameters"]
