"""Tabular inputs of `hccer.dl.tabular` (spec seed-002 §6): the radiomics features and clinical
variables the classical track's records selected, z-scored on training patients only, and the
errors for missing patients, features, records or unknown kinds."""

import json

import numpy as np
import pandas as pd
import pytest
from dlcohort import CR_VARS, dlrcr_cohort, dlrcr_files
from hccer.dl import tabular
from hccer.errors import ConfigError, InputError


def _outcome(tmp_path):
    return pd.read_csv(tmp_path / "outcome.tsv", sep="\t", dtype={"patient": str},
                       keep_default_na=False).set_index("patient")


def test_tabular_inputs_are_zscored_on_training_patients_only(tmp_path):
    _, pids, train, test = dlrcr_cohort(tmp_path)
    study = {"clinical": {"variables": CR_VARS}}
    cfg = {"name": "dlrcr", "tabular": ["radiomics", "clinical"]}
    tab = tabular.build(study, cfg, _outcome(tmp_path), pids, train, dlrcr_files(tmp_path))
    assert tab.columns == ["DP_original_shape_Sphericity", "AP_original_firstorder_Mean",
                           "ast_gt40", "diameter_gt5cm"]
    tr = tab.values[:12]
    assert np.allclose(tr.mean(0), 0, atol=1e-6) and np.allclose(tr.std(0), 1, atol=1e-5)
    # AP mean of patient i is 100 + 10 i; training patients 0..11: mean 155, SD sqrt(1430/12)
    sd = np.sqrt(np.mean((10 * np.arange(12) - 55.0) ** 2))
    assert tab.values[15, 1] == pytest.approx((250 - 155) / sd, rel=1e-5)
    assert tab.record()["mean"][1] == pytest.approx(155.0)
    # AST > 40 is the label here: coded 1 for ER, as the CR model codes it
    assert (tab.values[:, 2] > 0).tolist() == [bool(i % 2) for i in range(16)]
    assert tabular.build(study, {"name": "r"}, _outcome(tmp_path), pids, train,
                         dlrcr_files(tmp_path)) is None


def test_tabular_inputs_fail_loudly(tmp_path):
    _, pids, train, _ = dlrcr_cohort(tmp_path)
    study = {"clinical": {"variables": CR_VARS}}
    out = _outcome(tmp_path)
    with pytest.raises(InputError, match="no radiomics features for patient.*p99"):
        tabular.build(study, {"tabular": ["radiomics"]}, out, pids + ["p99"], train,
                      dlrcr_files(tmp_path))
    (tmp_path / "cr.json").write_text(json.dumps({"selected": ["albi_grade"]}))
    with pytest.raises(ConfigError, match="albi_grade"):
        tabular.build(study, {"tabular": ["clinical"]}, out, pids, train, dlrcr_files(tmp_path))
    with pytest.raises(ConfigError, match="no clinical model record"):
        tabular.build(study, {"tabular": ["clinical"]}, out, pids, train,
                      tabular.TabularFiles())
    with pytest.raises(ConfigError, match="unknown tabular"):
        tabular.build(study, {"tabular": ["genomics"]}, out, pids, train, dlrcr_files(tmp_path))
    (tmp_path / "rad.json").write_text(json.dumps({"selected": ["AP_wavelet-LLH_glcm_Idm"]}))
    with pytest.raises(InputError, match="not columns of the feature table"):
        tabular.build(study, {"tabular": ["radiomics"]}, out, pids, train, dlrcr_files(tmp_path))
    feats = pd.read_csv(tmp_path / "features.tsv", sep="\t").assign(slice=0)
    feats.to_csv(tmp_path / "features.tsv", sep="\t", index=False)
    (tmp_path / "rad.json").write_text(json.dumps({"selected": ["PVP_original_glcm_Idm"]}))
    with pytest.raises(ConfigError, match="one feature row per patient"):
        tabular.build(study, {"tabular": ["radiomics"]}, out, pids, train, dlrcr_files(tmp_path))
