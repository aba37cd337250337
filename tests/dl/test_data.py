"""Augmentation, sample loading, class weights, aggregation and the clinical 9-vector."""

import numpy as np
import pandas as pd
import pytest
from hccer.dl import data
from hccer.dl.job import clinical_inputs
from hccer.dl.train import patient_scores
from hccer.errors import InputError


def test_same_transform_for_every_phase():
    rng = np.random.default_rng(0)
    base = rng.random((5, 6)).astype(np.float32)
    x = np.stack([base, base * 2, base * 3])           # three phases of one slice
    for params in [{"flip_ud": True}, {"flip_lr": True}, {"rot": 1}, {"rot": 3},
                   {"dy": 2, "dx": -1}, {"flip_ud": True, "rot": 2}]:
        sq = x[:, :5, :5]
        out = data.transform(sq, **params)
        assert np.allclose(out[1], 2 * out[0]) and np.allclose(out[2], 3 * out[0])
    # rot90 by hand: np.rot90 turns counter-clockwise: out[i, j] = a[j, n-1-i]
    a = x[0, :5, :5]
    out = data.transform(a[None], rot=1)[0]
    assert all(out[i, j] == a[j, 4 - i] for i in range(5) for j in range(5))
    shifted = data.shift(a[None], 2, -1)[0]
    assert shifted[2, 0] == a[0, 1] and (shifted[:2] == 0).all() and (shifted[:, -1] == 0).all()


def test_expand7_gives_the_papers_seven_copies():
    x = np.arange(16, dtype=np.float32).reshape(1, 4, 4)
    copies = [data.transform(x, **data.expand7_params(t, "p1")) for t in range(7)]
    assert np.array_equal(copies[0], x)
    assert np.array_equal(copies[1], x[:, ::-1])
    assert np.array_equal(copies[5], np.rot90(x, 2, axes=(1, 2)))
    # translation fixed per patient, within +-10 px
    assert data.expand7_params(3, "p1") == data.expand7_params(3, "p1")
    assert all(abs(v) <= 10 for v in data.expand7_params(3, "p1").values())
    plan = data.epoch_plan(3, "expand7", np.random.default_rng(0))
    assert sorted(plan) == [(i, t) for i in range(3) for t in range(7)]


def test_balanced_weights_match_keras_formula():
    # seed-004: 178 training patients, 105 NER / 73 ER -> NER 0.848, ER 1.219
    y = np.array([0] * 105 + [1] * 73)
    w = data.balanced_weights(y)
    assert w == pytest.approx([178 / 210, 178 / 146])
    assert round(w[0], 3) == 0.848 and round(w[1], 3) == 1.219
    with pytest.raises(InputError):
        data.balanced_weights(np.zeros(4))


def test_patient_score_is_mean_of_slice_probabilities():
    p = np.array([0.2, 0.4, 0.9, 0.5, 0.7, 0.0])
    idx = np.array([0, 0, 1, 2, 2, 2])
    assert patient_scores(p, idx, 3) == pytest.approx([0.3, 0.9, 0.4])


def _crop(tmp_path, pid, n_slices, value):
    path = tmp_path / f"sub-{pid}_desc-slices2d.npz"
    np.savez(path, x=np.full((n_slices, 3, 4, 4), value, np.float32))
    return path


def test_load_samples_slices_phases_and_subset(tmp_path):
    paths = [_crop(tmp_path, "pa", 3, 0.1), _crop(tmp_path, "pb", 2, 0.2)]
    s = data.load_samples(paths, ["pb", "pa"], "x", [1])
    assert s.x.shape == (5, 1, 4, 4)
    assert s.patient_index.tolist() == [0, 0, 1, 1, 1]
    assert s.x[0, 0, 0, 0] == np.float32(0.2)
    sub = s.subset(["pa"])
    assert sub.x.shape[0] == 3 and sub.patient_index.tolist() == [0, 0, 0]
    with pytest.raises(InputError, match="no crop"):
        data.load_samples(paths, ["pc"], "x", None)
    with pytest.raises(InputError, match="has no array"):
        data.load_samples(paths, ["pa"], "SS", None)


def test_load_samples_volume(tmp_path):
    path = tmp_path / "sub-pv_desc-voi3d.npz"
    np.savez(path, SS=np.ones((1, 10, 6, 6), np.float32), NSS=np.zeros((1, 10, 6, 6)))
    s = data.load_samples([path], ["pv"], "SS", None)
    assert s.x.shape == (1, 1, 10, 6, 6)


def test_clinical_vector_cut_offs_and_bclc_coding(project_root):
    import yaml

    study = yaml.safe_load((project_root / "config" / "studies" / "phase_attention.yaml")
                           .read_text())
    df = pd.DataFrame({
        "patient": ["a", "b", "c"], "age_years": ["60", "59.9", "70"],
        "tumor_size_mm": ["50", "49", "120"], "portal_vein_invasion": ["yes", "no", "no"],
        "nlr": ["2.8", "2.79", "3"], "tbil_umol_l": ["20.5", "20.4", "8"],
        "afp_ug_l": ["9", "8.9", "400"], "bclc_stage": ["0", "A", "C"]})
    # seed-000-001 §2: c1..c6 cut-offs (>=), then BCLC 0 -> 000, A -> 001, B -> 010, C -> 100
    v = clinical_inputs(study, df, ["c", "a", "b"], "outcome.tsv")
    assert v.tolist() == [[1, 1, 0, 1, 0, 1, 1, 0, 0],
                          [1, 1, 1, 1, 1, 1, 0, 0, 0],
                          [0, 0, 0, 0, 0, 0, 0, 0, 1]]
    df.loc[1, "afp_ug_l"] = ""
    with pytest.raises(InputError, match="afp_ug_l.*patient.*b"):
        clinical_inputs(study, df, ["b"], "outcome.tsv")
    with pytest.raises(InputError, match="not in the outcome table"):
        clinical_inputs(study, df, ["zz"], "outcome.tsv")
