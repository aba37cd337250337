"""ICC(2,1) against Shrout & Fleiss (1979) and a hand computation; the feature table."""

import math

import numpy as np
import pytest
from hccer.errors import InputError
from hccer.ivim.gather import feature_rows, reader_icc, to_tsv
from hccer.ivim.icc import anova_two_way, icc_2_1

# Shrout & Fleiss (1979) Table 2: 6 targets rated by 4 judges.
SF = [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]]


def test_shrout_fleiss_example():
    a = anova_two_way(SF)
    # Their Table 3 mean squares: BMS 11.24, JMS 32.49, EMS 1.02, WMS 6.26.
    assert a["ms_rows"] == pytest.approx(11.24, abs=0.005)
    assert a["ms_cols"] == pytest.approx(32.49, abs=0.005)
    assert a["ms_err"] == pytest.approx(1.02, abs=0.005)
    assert a["ms_within"] == pytest.approx(6.26, abs=0.005)
    assert icc_2_1(SF) == pytest.approx(0.29, abs=0.005)       # their ICC(2,1) = .29


def test_two_readers_by_hand():
    x = np.array([[1.0, 2.0], [3.0, 3.0], [5.0, 7.0]])
    # Grand mean 3.5; row means 1.5, 3, 6; column means 3, 4.
    ss_r = 2 * ((1.5 - 3.5) ** 2 + (3 - 3.5) ** 2 + (6 - 3.5) ** 2)   # 21
    ss_c = 3 * ((3 - 3.5) ** 2 + (4 - 3.5) ** 2)                      # 1.5
    ss_t = sum((v - 3.5) ** 2 for v in x.ravel())                     # 23.5
    msr, msc, mse = ss_r / 2, ss_c / 1, (ss_t - ss_r - ss_c) / 2
    hand = (msr - mse) / (msr + mse + 2 * (msc - mse) / 3)
    assert icc_2_1(x) == pytest.approx(hand)
    assert icc_2_1(np.c_[x[:, 0], x[:, 0]]) == pytest.approx(1.0)
    # NaN rows are dropped; fewer than two complete subjects give NaN.
    assert icc_2_1(np.vstack([x, [np.nan, 1.0]])) == pytest.approx(hand)
    assert math.isnan(icc_2_1([[1.0, 2.0], [np.nan, 1.0]]))


def _stats(pid, d, d2=None):
    r = {"D": d, "Dstar": 50.0, "f": 0.15, "ADC": 1.4, "n_voxels": 10, "n_failed": 0}
    readers = {"r1": r}
    if d2 is not None:
        readers["r2"] = dict(r, D=d2)
    return {"patient": pid, "readers": readers}


def test_feature_rows_tsv_and_icc():
    stats = [_stats("pb", 0.9, 0.95), _stats("pa", 0.7, 0.72), _stats("pc", 1.1, 1.0)]
    rows = feature_rows(stats)
    assert [r["patient"] for r in rows] == ["pa", "pb", "pc"]
    text = to_tsv(rows).splitlines()
    assert text[0].split("\t")[:5] == ["patient", "D", "Dstar", "f", "ADC"]
    assert "D_r2" in text[0] and text[1].split("\t")[1] == "0.7"
    icc = reader_icc(rows)
    assert icc["D"]["n"] == 3
    assert icc["D"]["icc_2_1"] == pytest.approx(icc_2_1([[0.7, 0.72], [0.9, 0.95], [1.1, 1.0]]))
    assert reader_icc(rows, {"pa", "pb"})["D"]["n"] == 2
    with pytest.raises(InputError, match="twice"):
        feature_rows([_stats("pa", 1.0), _stats("pa", 1.0)])
