"""Helpers of rules/paper.smk: targets per item, per-kind inputs and the command-line options
built from a job's named inputs."""

from __future__ import annotations

from hccer.paper import rules
from hccer.paths import Layout
from paperdata import spec

L = Layout("results", "demo")
SPEC = spec(
    {"a": None},
    tables=[{"id": "t1", "kind": "table1"}, {"id": "t3", "kind": "fold_distribution"}],
    figures=[
        {"id": "cam", "kind": "gradcam", "models": ["a", "b"]},
        {"id": "voi", "kind": "crops"},
    ],
)


def test_targets_and_ids():
    t = rules.targets(L, SPEC)
    assert t[:4] == [f"results/demo/tables/t1.{e}" for e in ("csv", "md", "tex", "json")]
    assert t[-3:] == [f"results/demo/figures/voi.{e}" for e in ("png", "pdf", "json")]
    assert len(t) == 2 * 4 + 2 * 3
    assert rules.ids(SPEC, "figures", "images") == ["cam", "voi"]


def test_inputs_per_kind():
    pids = ["p1", "p2"]
    assert rules.cohort_inputs(SPEC, "t1", L, "voi3d", pids) == {}
    assert rules.cohort_inputs(SPEC, "t1", L, "voi3d", pids, "ivim.tsv") == {"ivim": "ivim.tsv"}
    crops = rules.cohort_inputs(SPEC, "t3", L, "slices2d", pids)["crops"]
    assert crops == [L.crop("p1", "slices2d", "json"), L.crop("p2", "slices2d", "json")]
    dirs = rules.gradcam_dirs("results/demo", [("a", 0, 0), ("c", 0, 0)])
    cam = rules.image_inputs(SPEC, "cam", L, "voi3d", pids, dirs, ["ledger.csv"])
    assert cam["gradcam"] == ["results/demo/models/a/fold-0_seed-0/gradcam"]
    assert cam["ledger"] == ["ledger.csv"] and len(cam["crops"]) == 4
    assert "gradcam" not in rules.image_inputs(SPEC, "voi", L, "voi3d", pids, dirs, [])


class _Named(dict):
    """Stands in for Snakemake's named input list (keys() and item access)."""


def test_flags_in_fixed_order_and_empty_lists_left_out():
    inputs = _Named(spec="s.yaml", crops=["a.npz", "a.json"], ledger=[], folds="f.json")
    assert rules.flags(inputs) == "--folds f.json --crops a.npz a.json"
