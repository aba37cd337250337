import pandas as pd
import pytest
from hccer.cohort.split import LeakageError, check_leakage, fold_table, make_split


def cohort(n_er, n_ner, prefix="p"):
    ids = [f"{prefix}{i:04d}" for i in range(n_er + n_ner)]
    return pd.DataFrame({"patient": ids, "er": [1] * n_er + [0] * n_ner})


def test_tenfold_reproduces_the_papers_fold_structure():
    # seed-000-001 spec: StratifiedKFold(10) on 65 ER + 102 NER gives 17 test patients in
    # folds 1-7 and 16 in folds 8-10, with ER/NER (6/11)x2, (7/10)x5, (6/10)x3.
    split = make_split(cohort(65, 102), {"method": "kfold", "n_folds": 10}, seed=7)
    ft = fold_table(split)
    test = ft[ft["side"] == "test"]
    assert test["n"].tolist() == [17] * 7 + [16] * 3
    er = test["n_er"].tolist()
    ner = (test["n"] - test["n_er"]).tolist()
    # Which fold gets which make-up depends on the label order of the sorted IDs; the
    # multiset of make-ups does not.
    assert sorted(zip(er, ner, strict=True)) == sorted([(6, 11)] * 2 + [(7, 10)] * 5
                                                       + [(6, 10)] * 3)
    assert (ft[ft["side"] == "train"]["n"] == 167 - test["n"].to_numpy()).all()


def test_split_is_seeded_and_order_independent():
    df = cohort(30, 50)
    a = make_split(df, {"method": "kfold", "n_folds": 5}, seed=3)
    b = make_split(df.sample(frac=1, random_state=1), {"method": "kfold", "n_folds": 5}, seed=3)
    c = make_split(df, {"method": "kfold", "n_folds": 5}, seed=4)
    assert a["folds"] == b["folds"]
    assert a["folds"] != c["folds"]


def test_holdout_random_with_inner_folds():
    df = cohort(49, 73)
    spec = {"method": "holdout_random", "test_fraction": 37 / 122, "stratify": True,
            "inner_folds": 5}
    s = make_split(df, spec, seed=1)
    train, test = s["folds"][0]["train"], s["folds"][0]["test"]
    assert (len(train), len(test)) == (85, 37)
    assert len(s["inner_folds"]) == 5
    inner_val = sorted(p for f in s["inner_folds"] for p in f["validation"])
    assert inner_val == sorted(train)
    cohorts = {r["patient"]: r["cohort"] for r in s["assignment"]}
    assert sum(v == "test" for v in cohorts.values()) == 37


def test_holdout_by_surgery_date():
    df = cohort(10, 10).assign(surgery_date=["2017-06-01"] * 14 + ["2018-03-01"] * 6)
    s = make_split(df, {"method": "holdout_date", "date_cutoff": "2018-01-01"}, seed=0)
    assert len(s["folds"][0]["train"]) == 14 and len(s["folds"][0]["test"]) == 6
    with pytest.raises(ValueError, match="empty side"):
        make_split(df, {"method": "holdout_date", "date_cutoff": "2010-01-01"}, seed=0)


def test_leakage_check_fails_on_overlap():
    bad = {"method": "kfold", "folds": [{"fold": 0, "train": ["a", "b"], "test": ["b"]}]}
    with pytest.raises(LeakageError, match="both sides"):
        check_leakage(bad)
    twice = {"method": "kfold", "folds": [{"fold": 0, "train": ["a"], "test": ["b"]},
                                          {"fold": 1, "train": ["a"], "test": ["b"]}]}
    with pytest.raises(LeakageError, match="more than one test fold"):
        check_leakage(twice)


def test_too_few_patients_for_folds():
    with pytest.raises(ValueError, match="fewer than 10"):
        make_split(cohort(5, 20), {"method": "kfold", "n_folds": 10}, seed=0)


def test_outer_fold_lookup_names_the_folds_the_split_has():
    from hccer.cohort.split import outer_fold
    from hccer.errors import InputError

    split = {"folds": [{"fold": 0, "train": ["a"], "test": ["b"]},
                       {"fold": 1, "train": ["b"], "test": ["a"]}]}
    assert outer_fold(split, "1")["test"] == ["a"]
    with pytest.raises(InputError, match=r"fold 4 is not in the split; its folds are \[0, 1\]"):
        outer_fold(split, 4, file="folds.json")
