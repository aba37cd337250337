"""Per-case CSVs -> wide table, count check, and the ICC subcommand on two readers' tables."""

import numpy as np
import pandas as pd
import pytest
from hccer.errors import InputError
from hccer.radiomics.rules import outer_folds, second_read_pids
from hccer.radiomics.select import icc_2_1
from hccer.radiomics.table import case_frame, read_features, wide_table


def _write_cases(tmp_path, reader, values, slices=None):
    files = []
    for pid, by_phase in values.items():
        for phase, feats in by_phase.items():
            df = case_frame(feats, pid, phase, reader, slices)
            f = tmp_path / f"{pid}_{phase}_{reader}.csv"
            df.to_csv(f, index=False)
            files.append(f)
    return files


def test_wide_table_names_and_order(tmp_path):
    vals = {"pb": {"AP": [{"f1": 1.0, "f2": 2.0}], "PVP": [{"f1": 3.0, "f2": 4.0}]},
            "pa": {"AP": [{"f1": 5.0, "f2": 6.0}], "PVP": [{"f1": 7.0, "f2": 8.0}]}}
    wide = wide_table(_write_cases(tmp_path, "r1", vals))
    assert list(wide.columns) == ["AP_f1", "AP_f2", "PVP_f1", "PVP_f2"]
    assert list(wide.index) == ["pa", "pb"]
    assert wide.loc["pb", "PVP_f2"] == 4.0
    with pytest.raises(InputError, match="2 features extracted, expected 1037"):
        wide_table(_write_cases(tmp_path, "r1", vals), expected_per_phase=1037)


def test_wide_table_slices_and_missing_phase(tmp_path):
    vals = {"pa": {"NC": [{"f": 1.0}, {"f": 2.0}], "ART": [{"f": 3.0}, {"f": 4.0}]}}
    wide = wide_table(_write_cases(tmp_path, "r1", vals, slices=[-1, 0]))
    assert wide.index.names == ["patient", "slice"] and wide.loc[("pa", 0), "ART_f"] == 4.0
    bad = {"pa": {"NC": [{"f": 1.0}], "ART": [{"f": 3.0}]}, "pb": {"NC": [{"f": 1.0}]}}
    with pytest.raises(InputError, match="features missing for some phase of pb"):
        wide_table(_write_cases(tmp_path, "r1", bad))


def test_icc_cli(tmp_path):
    from hccer.cli import main

    rng = np.random.default_rng(0)
    a = {f"p{i}": {"AP": [{"x": float(v), "y": float(rng.normal())}]}
         for i, v in enumerate(rng.normal(size=8))}
    b = {p: {"AP": [{"x": d["AP"][0]["x"] + 0.01, "y": float(rng.normal())}]}
         for p, d in list(a.items())[:6]}
    t1, t2 = tmp_path / "r1.tsv", tmp_path / "r2.tsv"
    wide_table(_write_cases(tmp_path, "r1", a)).to_csv(t1, sep="\t")
    wide_table(_write_cases(tmp_path, "r2", b)).to_csv(t2, sep="\t")
    out = tmp_path / "icc.tsv"
    assert main(["radiomics", "icc", "--first", str(t1), "--second", str(t2),
                 "--out", str(out)]) == 0
    icc = pd.read_csv(out, sep="\t").set_index("feature")["icc"]
    f1, f2 = read_features(t1), read_features(t2)
    common = f2.index
    assert icc["AP_x"] == pytest.approx(icc_2_1(np.column_stack(
        [f1.loc[common, "AP_x"], f2.loc[common, "AP_x"]])))
    assert icc["AP_x"] > 0.99 and icc["AP_y"] < 0.9


def test_rule_helpers(tmp_path):
    assert outer_folds({"method": "kfold", "n_folds": 3}) == [0, 1, 2]
    assert outer_folds({"method": "holdout_random"}) == [0]
    (tmp_path / "a_AP.nii.gz").write_text("")
    (tmp_path / "a_PVP.nii.gz").write_text("")
    (tmp_path / "b_AP.nii.gz").write_text("")

    def mask_path(pid, ph, reader):
        if pid == "c":
            raise ValueError("no row")
        return str(tmp_path / f"{pid}_{ph}.nii.gz")

    assert second_read_pids(["a", "b", "c"], mask_path, "r2", ["AP", "PVP"]) == ["a"]


def test_second_read_subset_is_seeded(tmp_path):
    pids = [f"p{i:02d}" for i in range(40)]

    def mask_path(pid, ph, reader):
        f = tmp_path / f"{pid}_{ph}.nii.gz"
        f.touch()
        return str(f)

    a = second_read_pids(pids, mask_path, "r2", ["AP"], subset=30, seed=1)
    assert len(a) == 30 and a == sorted(a) and set(a) <= set(pids)
    assert a == second_read_pids(pids, mask_path, "r2", ["AP"], subset=30, seed=1)
    assert a != second_read_pids(pids, mask_path, "r2", ["AP"], subset=30, seed=2)
