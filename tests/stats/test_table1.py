"""Table 1 test rules: the papers' printed p-values re-derived from their printed counts;
declared levels keep their order and zero rows, and cells print counts only on request."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hccer.stats import table1 as t1
from scipy.stats import chi2, hypergeom

# paper 000/001 Table 1: per level (NER, ER) counts; Pearson chi-square without correction
SEED000 = {
    "Sex": ([[17, 10], [85, 55]], "0.826"),
    "Age": ([[55, 47], [47, 18]], "0.018"),
    "Size": ([[74, 28], [28, 37]], "<0.001"),
    "Number": ([[97, 58], [5, 7]], "0.152"),
    "PVI": ([[95, 48], [7, 17]], "0.001"),
    "Cirrhosis": ([[31, 21], [71, 44]], "0.794"),
    "HBV": ([[25, 8], [77, 57]], "0.054"),
    "NLR": ([[71, 35], [31, 30]], "0.039"),
    "ALT": ([[66, 38], [36, 27]], "0.417"),
    "AST": ([[77, 46], [25, 19]], "0.500"),
    "AKP": ([[85, 46], [17, 19]], "0.054"),
    "GGT": ([[46, 20], [56, 45]], "0.065"),
    "ALB": ([[100, 65], [2, 0]], "0.256"),
    "TB": ([[81, 41], [21, 24]], "0.020"),
    "AFP": ([[39, 11], [63, 54]], "0.003"),
    "CP": ([[89, 51], [13, 14]], "0.132"),
    "BCLC": ([[17, 5], [78, 39], [1, 3], [6, 18]], "<0.001"),
}

# paper 002 Table 1: first-category counts (Tr ER, Tr NER, Va ER, Va NER) of n = 78/54/18/15
# and the printed p (ER vs NER training, ER vs NER validation, training vs validation)
SEED002_N = (78, 54, 18, 15)
SEED002 = {
    "Male": ((68, 43, 15, 12), ("0.355", "1.000", "0.958")),
    "Hepatitis": ((61, 40, 11, 10), ("0.733", "1.000", "0.199")),
    "AFP": ((57, 48, 15, 14), ("0.046", "0.607", "0.397")),
    "ALT": ((52, 42, 13, 11), ("0.234", "1.000", "1.000")),
    "AST": ((42, 41, 14, 12), ("0.016", "1.000", "0.128")),
    "GGT": ((36, 34, 11, 8), ("0.084", "0.923", "0.785")),
    "TBIL": ((53, 41, 14, 15), ("0.424", "0.108", "0.081")),
    "ALB": ((29, 17, 4, 7), ("0.624", "0.266", "1.000")),
    "Child-Pugh": ((71, 49, 18, 15), ("1.000", "—", "0.127")),
    "Diameter": ((48, 44, 8, 14), ("0.024", "0.009", "0.899")),
    "Unifocal": ((66, 49, 14, 14), ("0.442", "0.346", "0.776")),
    "Margin": ((44, 34, 10, 12), ("0.567", "0.266", "0.550")),
    "Necrosis": ((30, 17, 8, 7), ("0.523", "1.000", "0.399")),
    "Haemorrhage": ((24, 11, 9, 2), ("0.258", "0.064", "0.573")),
    "Capsule": ((56, 44, 15, 11), ("0.284", "0.674", "0.891")),
    "APHE": ((25, 13, 5, 7), ("0.424", "0.447", "0.525")),
    "Cirrhosis": ((54, 35, 9, 8), ("0.731", "1.000", "0.133")),
}

# paper 003 Tables 1-3 (categorical rows): (group A a/b, group B a/b) -> printed p
SEED003 = {
    "T1 sex": ((73, 12), (35, 2), "0.281"), "T1 AFP": ((48, 37), (20, 17), "0.805"),
    "T1 ES": ((67, 18), (26, 11), "0.308"), "T1 MVI": ((34, 51), (12, 25), "0.428"),
    "T1 BCLC": ((27, 58), (9, 28), "0.408"), "T1 CP": ((81, 4), (36, 1), "0.987"),
    "T1 HBV": ((83, 2), (36, 1), "1.000"), "T1 liver": ((82, 3), (36, 1), "1.000"),
    "T2 sex": ((28, 6), (45, 6), "0.656"), "T2 AFP": ((17, 17), (31, 20), "0.326"),
    "T2 ES": ((26, 8), (41, 10), "0.665"), "T2 MVI": ((18, 16), (16, 35), "0.047"),
    "T2 BCLC": ((7, 27), (20, 31), "0.071"), "T2 CP": ((31, 3), (50, 1), "0.347"),
    "T2 HBV": ((33, 1), (50, 1), "1.000"), "T2 liver": ((33, 1), (49, 2), "1.000"),
    "T3 sex": ((15, 0), (20, 2), "0.505"), "T3 AFP": ((5, 10), (15, 7), "0.050"),
    "T3 ES": ((10, 5), (16, 6), "0.728"), "T3 MVI": ((8, 7), (4, 18), "0.036"),
    "T3 BCLC": ((2, 13), (7, 15), "0.262"), "T3 CP": ((14, 1), (22, 0), "0.405"),
    "T3 HBV": ((15, 0), (21, 1), "1.000"), "T3 liver": ((15, 0), (21, 1), "1.000"),
}

# paper 004 Tables S3 (training vs test) and S4 (NER vs ER in training): rows = levels
SEED004 = {
    "S3 age": ([[139, 29], [39, 13]], ".215"), "S3 sex": ([[157, 36], [21, 6]], ".658"),
    "S3 HBsAg": ([[160, 35], [18, 7]], ".277"), "S3 CP": ([[162, 37], [16, 5]], ".563"),
    "S3 cirrhosis": ([[111, 25], [67, 17]], ".734"), "S3 size": ([[86, 19], [92, 23]], ".720"),
    "S3 grade": ([[28, 6], [127, 35], [23, 1]], ".124"),
    "S3 ALT": ([[132, 27], [46, 15]], ".199"), "S3 AST": ([[157, 33], [21, 9]], ".102"),
    "S3 AFP": ([[80, 18], [98, 24]], ".807"), "S3 class": ([[73, 21], [105, 21]], ".289"),
    "S4 age": ([[81, 58], [24, 15]], ".714"), "S4 sex": ([[93, 64], [12, 9]], ".855"),
    "S4 HBsAg": ([[93, 67], [12, 6]], ".485"), "S4 CP": ([[100, 62], [5, 11]], ".018"),
    "S4 cirrhosis": ([[62, 49], [43, 24]], ".274"), "S4 size": ([[64, 22], [41, 51]], "<.001"),
    "S4 grade": ([[16, 3], [69, 58], [20, 12]], ".043"),
    "S4 ALT": ([[80, 52], [25, 21]], ".457"), "S4 AST": ([[95, 62], [10, 11]], ".259"),
    "S4 AFP": ([[56, 24], [49, 49]], ".007"),
}


def _fmt(p: float, style: str = "0.") -> str:
    s = t1.format_p(p)
    return s.replace("0.", ".") if style == "." else s


@pytest.mark.parametrize("name", sorted(SEED000))
def test_seed000_pearson(name):
    table, printed = SEED000[name]
    res = t1.contingency_test(table, "pearson")
    assert res["test"] == "pearson"
    assert _fmt(res["p_value"]) == printed


def _seed002_tables(counts):
    (a, b, c, d), (na, nb, nc, nd) = counts, SEED002_N
    tr = [[a, b], [na - a, nb - b]]
    va = [[c, d], [nc - c, nd - d]]
    tv = [[a + b, c + d], [na + nb - a - b, nc + nd - c - d]]
    return tr, va, tv


@pytest.mark.parametrize("name", sorted(SEED002))
def test_seed002_yates_fisher5(name):
    counts, printed = SEED002[name]
    for table, p in zip(_seed002_tables(counts), printed, strict=True):
        assert _fmt(t1.contingency_test(table, "yates_fisher5")["p_value"]) == p, (name, table)


@pytest.mark.parametrize("name", sorted(SEED003))
def test_seed003_spss(name):
    a, b, printed = SEED003[name]
    assert _fmt(t1.contingency_test([a, b], "spss")["p_value"]) == printed


@pytest.mark.parametrize("name", sorted(SEED004))
def test_seed004_pearson_fisher5_2x2(name):
    table, printed = SEED004[name]
    assert _fmt(t1.contingency_test(table, "pearson_fisher5_2x2")["p_value"], ".") == printed


def test_rules_pick_the_documented_test():
    small = [[3, 10], [12, 15]]  # n = 40, min expected 3 * ... < 5
    e = t1.expected_counts(small).min()
    assert 1 <= e < 5
    assert t1.contingency_test(small, "spss")["test"] == "yates"
    assert t1.contingency_test(small, "yates_fisher5")["test"] == "fisher"
    assert t1.contingency_test(small, "pearson_fisher5_2x2")["test"] == "fisher"
    assert t1.contingency_test(small, "pearson")["test"] == "pearson"
    assert t1.contingency_test([[3, 10], [12, 14]], "spss")["test"] == "fisher"  # n < 40


def test_pearson_by_hand():
    t = np.array([[10, 20], [30, 40]], float)
    e = np.outer(t.sum(1), t.sum(0)) / t.sum()
    stat = ((t - e) ** 2 / e).sum()
    res = t1.contingency_test(t, "pearson")
    assert res["statistic"] == pytest.approx(stat, rel=1e-12)
    assert res["p_value"] == pytest.approx(chi2.sf(stat, 1), rel=1e-12)


def test_fisher_rx2_matches_2x2_and_hand_enumeration():
    # a 2x2 table through the r x 2 enumeration equals the hypergeometric two-sided p
    t = np.array([[3, 7], [9, 2]])
    rows, c1, n = t.sum(1), t[:, 0].sum(), t.sum()
    pmf = hypergeom(n, rows[0], c1).pmf(np.arange(0, min(rows[0], c1) + 1))
    p_obs = hypergeom(n, rows[0], c1).pmf(t[0, 0])
    ref = pmf[pmf <= p_obs * (1 + 1e-7)].sum()
    assert t1._fisher_rx2(t) == pytest.approx(ref, rel=1e-10)
    # 3x2 by brute force over all tables with the same margins
    t3 = np.array([[2, 5], [6, 1], [3, 4]])
    rows3, col0 = t3.sum(1), t3[:, 0].sum()
    from math import comb
    probs = []
    for x0 in range(rows3[0] + 1):
        for x1 in range(rows3[1] + 1):
            x2 = col0 - x0 - x1
            if 0 <= x2 <= rows3[2]:
                probs.append(comb(rows3[0], x0) * comb(rows3[1], x1) * comb(rows3[2], x2))
    probs = np.array(probs, float) / comb(rows3.sum(), col0)
    obs = comb(7, 2) * comb(7, 6) * comb(7, 3) / comb(21, 11)
    assert t1.fisher(t3) == pytest.approx(probs[probs <= obs * (1 + 1e-7)].sum(), rel=1e-10)


def test_empty_level_gives_no_test():
    assert np.isnan(t1.contingency_test([[18, 15], [0, 0]], "yates_fisher5")["p_value"])
    assert t1.format_p(float("nan")) == "—"
    assert t1.format_p(0.0004) == "<0.001"


def test_build_table1_counts_and_tests():
    df = pd.DataFrame({
        "grp": ["ER"] * 6 + ["NER"] * 6,
        "sex": ["M", "M", "F", "M", "F", "M", "F", "F", "M", "F", "F", "M"],
        "age": [50.0, 61, 58, 47, 66, 52, 44, 39, 58, 61, 41, 45],
    })
    tab = t1.build_table1(df, "grp", ["sex", "age"], rule="pearson", continuous="ttest")
    sex = tab[tab.variable == "sex"]
    assert list(sex.level) == ["F", "M"]
    assert sex.iloc[0]["ER"] == "2 (33.3)" and sex.iloc[0]["NER"] == "4 (66.7)"
    from scipy.stats import ttest_ind
    age = tab[tab.variable == "age"].iloc[0]
    er, ner = df.age[df.grp == "ER"], df.age[df.grp == "NER"]
    assert age["p_value"] == pytest.approx(ttest_ind(er, ner).pvalue)
    assert age["ER"] == f"{er.mean():.2f} ± {er.std():.2f}"
    assert sex.iloc[0]["p_value"] == pytest.approx(
        t1.contingency_test([[2, 4], [4, 2]], "pearson")["p_value"])


def test_numeric_keeps_a_few_valued_variable_continuous():
    # three whole-number ages: levels by the automatic rule, one summary row when listed numeric
    df = pd.DataFrame({"grp": ["ER", "ER", "NER", "NER"], "age": [50.0, 60, 50, 70]})
    assert list(t1.build_table1(df, "grp", ["age"]).level) == ["50.0", "60.0", "70.0"]
    tab = t1.build_table1(df, "grp", ["age"], continuous="mwu", numeric=["age"])
    assert list(tab.level) == ["median (IQR)"] and tab.iloc[0]["ER"] == "55.00 (52.50–57.50)"
    assert t1.is_categorical(df.age) and not t1.is_categorical(pd.Series([1.5, 2, 3]))


def test_one_observed_group_gives_no_continuous_test():
    df = pd.DataFrame({"grp": ["ER"] * 4, "age": [41.0, 52, 63, 74]})
    row = t1.build_table1(df, "grp", ["age"], continuous="auto", numeric=["age"]).iloc[0]
    assert row["test"] == "none" and np.isnan(row["p_value"]) and row["p"] == "—"
    assert row["ER"] == "57.50 (49.25–65.75)"


def test_continuous_auto_uses_mwu_for_skewed_data():
    rng = np.random.default_rng(1)
    a, b = rng.lognormal(0, 1.5, 60), rng.lognormal(0.5, 1.5, 60)
    from scipy.stats import mannwhitneyu
    res = t1.continuous_test(a, b, "auto")
    assert res["test"] == "mwu"
    assert res["p_value"] == pytest.approx(mannwhitneyu(a, b).pvalue)


def _frame(counts: dict[str, tuple[int, int]], levels: list[str]) -> pd.DataFrame:
    """Patients from per-level (NER, ER) counts, the variable as a Categorical."""
    rows = [
        (lv, g)
        for lv, (ner, er) in counts.items()
        for g, n in (("NER", ner), ("ER", er))
        for _ in range(n)
    ]
    df = pd.DataFrame(rows, columns=["v", "grp"])
    df["v"] = pd.Categorical(df["v"], categories=levels)
    return df


def test_declared_levels_keep_order_and_zero_rows_paper000_alb():
    # seed-000-001 Table 1, ALB: >=40 100/65, <40 2/0 (NER/ER); printed p 0.256
    df = _frame({"≥40": (100, 65), "<40": (2, 0)}, ["≥40", "<40", "not measured"])
    tab = t1.build_table1(df, "grp", ["v"], rule="pearson")
    assert list(tab["level"]) == ["≥40", "<40", "not measured"]
    assert list(tab["ER"]) == ["65 (100.0)", "0 (0.0)", "0 (0.0)"]
    assert tab.loc[0, "p"] == "0.256"


def test_bclc_with_an_empty_level_gives_the_4x2_p():
    # seed-000-001 Table 1, BCLC 0/A/B/C (printed <0.001); a declared level D nobody has
    counts = {"0": (17, 5), "A": (78, 39), "B": (1, 3), "C": (6, 18)}
    tab = t1.build_table1(_frame(counts, ["0", "A", "B", "C", "D"]), "grp", ["v"], "pearson")
    ref = t1.contingency_test([[17, 5], [78, 39], [1, 3], [6, 18]], "pearson")
    assert tab.loc[0, "p_value"] == pytest.approx(ref["p_value"])
    assert tab.loc[0, "p"] == "<0.001" and list(tab["NER"])[-1] == "0 (0.0)"


def test_counts_only_cells():
    df = _frame({"M": (93, 64), "F": (12, 9)}, ["M", "F"])  # seed-004 Table S4, sex
    tab = t1.build_table1(df, "grp", ["v"], "pearson_fisher5_2x2", percent=False)
    assert list(tab["NER"]) == ["93", "12"] and list(tab["Total"]) == ["157", "21"]
    assert tab.loc[0, "p"] == "0.855"  # printed .855
