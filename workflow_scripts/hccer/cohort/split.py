"""Declared, patient-level, seeded splits: the only place folds are made.

Every method sorts patient IDs first, so the split depends on the seed and the set of patients,
not on sheet order. Output (folds.json) lists, per outer fold, train and test pseudonyms, and for
hold-out designs the inner training-only folds (early stopping, LASSO CV).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


class LeakageError(Exception):
    """A patient appears on both sides of a split."""


def _stratified_kfold(ids: np.ndarray, y: np.ndarray, k: int, seed: int) -> list[dict]:
    from sklearn.model_selection import StratifiedKFold

    if min(np.bincount(y, minlength=2)) < k:
        raise ValueError(f"cannot make {k} stratified folds: a class has fewer than {k} patients")
    skf = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    return [{"fold": i, "train": sorted(ids[tr].tolist()), "test": sorted(ids[te].tolist())}
            for i, (tr, te) in enumerate(skf.split(ids, y))]


def _holdout_random(ids, y, fraction: float, stratify: bool, seed: int):
    from sklearn.model_selection import train_test_split

    n_test = int(round(fraction * len(ids)))
    tr, te = train_test_split(ids, test_size=n_test, random_state=seed,
                              stratify=y if stratify else None)
    return sorted(tr.tolist()), sorted(te.tolist())


def make_split(table: pd.DataFrame, spec: dict, seed: int) -> dict:
    """`table`: columns patient (pseudonym), er (0/1) and, for date splits, surgery_date."""
    table = table.sort_values("patient").reset_index(drop=True)
    ids = table["patient"].to_numpy(dtype=object)
    y = table["er"].astype(int).to_numpy()
    method = spec["method"]
    result: dict = {"method": method, "seed": seed, "n": len(ids), "spec": dict(spec)}
    if method == "kfold":
        result["folds"] = _stratified_kfold(ids, y, int(spec["n_folds"]), seed)
    elif method in ("holdout_random", "holdout_date"):
        if method == "holdout_random":
            train, test = _holdout_random(ids, y, float(spec["test_fraction"]),
                                          bool(spec.get("stratify", False)), seed)
        else:
            cutoff = pd.Timestamp(spec["date_cutoff"])
            dates = pd.to_datetime(table["surgery_date"])
            train = sorted(ids[(dates < cutoff).to_numpy()].tolist())
            test = sorted(ids[(dates >= cutoff).to_numpy()].tolist())
            if not train or not test:
                raise ValueError(f"date cut-off {cutoff.date()} leaves an empty side "
                                 f"(train {len(train)}, test {len(test)})")
        result["folds"] = [{"fold": 0, "train": train, "test": test}]
        k = int(spec.get("inner_folds", 0))
        if k:
            sub = table.set_index("patient").loc[train]
            inner = _stratified_kfold(np.array(train, dtype=object),
                                      sub["er"].astype(int).to_numpy(), k, seed)
            result["inner_folds"] = [{"fold": f["fold"], "train": f["train"],
                                      "validation": f["test"]} for f in inner]
    else:
        raise ValueError(f"unknown split method {method!r}")
    check_leakage(result)
    result["assignment"] = assignment_table(result, table).to_dict(orient="records")
    return result


def outer_fold(split: dict, fold: int, file=None) -> dict:
    """One outer fold of folds.json ({fold, train, test}); a fold the split lacks is an
    InputError naming the folds it has."""
    from hccer.errors import InputError

    for f in split["folds"]:
        if int(f["fold"]) == int(fold):
            return f
    raise InputError(f"fold {fold} is not in the split; its folds are "
                     f"{[f['fold'] for f in split['folds']]}", file=file)


def check_leakage(split: dict) -> None:
    """Raise if any patient is both trained and tested on within one fold."""
    for fold in split["folds"]:
        both = set(fold["train"]) & set(fold["test"])
        if both:
            raise LeakageError(f"fold {fold['fold']}: {len(both)} patient(s) on both sides, "
                               f"e.g. {sorted(both)[:3]}")
    for fold in split.get("inner_folds", []):
        both = set(fold["train"]) & set(fold["validation"])
        if both:
            raise LeakageError(f"inner fold {fold['fold']}: patients on both sides: "
                               f"{sorted(both)[:3]}")
        outer_test = set(split["folds"][0]["test"])
        if outer_test & (set(fold["train"]) | set(fold["validation"])):
            raise LeakageError(f"inner fold {fold['fold']} uses held-out test patients")
    if split["method"] == "kfold":
        tests = [p for f in split["folds"] for p in f["test"]]
        if len(tests) != len(set(tests)):
            raise LeakageError("a patient is in more than one test fold")


def assignment_table(split: dict, table: pd.DataFrame) -> pd.DataFrame:
    """Per patient: cohort (train/test) and test fold (k-fold) — for ledgers and Table 3."""
    rows = []
    er = dict(zip(table["patient"], table["er"].astype(int), strict=True))
    if split["method"] == "kfold":
        for f in split["folds"]:
            rows += [{"patient": p, "cohort": "cv", "fold": f["fold"], "er": er[p]}
                     for p in f["test"]]
    else:
        f = split["folds"][0]
        rows += [{"patient": p, "cohort": "train", "fold": -1, "er": er[p]} for p in f["train"]]
        rows += [{"patient": p, "cohort": "test", "fold": -1, "er": er[p]} for p in f["test"]]
    return pd.DataFrame(rows).sort_values("patient").reset_index(drop=True)


def fold_table(split: dict) -> pd.DataFrame:
    """Patients per fold and side with ER counts (the papers' fold-distribution table)."""
    er = {r["patient"]: r["er"] for r in split["assignment"]}
    rows = []
    for f in split["folds"]:
        for side in ("train", "test"):
            ids: Sequence[str] = f[side]
            rows.append({"fold": f["fold"], "side": side, "n": len(ids),
                         "n_er": int(sum(er[p] for p in ids))})
    return pd.DataFrame(rows)
