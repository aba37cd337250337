"""Tabular inputs of image + tabular networks (DLRCR, spec seed-002 §6): the radiomics features
the classical funnel selected on the training cohort and the clinical model's selected
variables, concatenated and z-scored with training-cohort statistics only.

An experiment asks for them with `tabular: [radiomics, clinical]`; the selection is read from
the classical track's per-fold records, never redone here, so the DL model sees exactly the
inputs of the radiomics and CR models of the same fold.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from hccer.errors import ConfigError, InputError

SOURCES = ("radiomics", "clinical")


@dataclass
class TabularFiles:
    """The classical track's outputs a tabular experiment reads (None: not produced)."""

    radiomics_features: str | None = None
    radiomics_record: str | None = None
    clinical_record: str | None = None


@dataclass
class Tabular:
    values: np.ndarray                  # (n_patients, n_columns) float32, z-scored
    columns: list[str]
    mean: list[float] = field(default_factory=list)
    sd: list[float] = field(default_factory=list)

    def record(self) -> dict:
        """What a later prediction needs to rebuild the same inputs."""
        return {"columns": self.columns, "mean": self.mean, "sd": self.sd}


def sources(cfg: dict) -> list[str]:
    wanted = list(cfg.get("tabular") or [])
    unknown = [s for s in wanted if s not in SOURCES]
    if unknown:
        raise ConfigError(f"deep: experiment {cfg.get('name')} has unknown tabular source(s) "
                          f"{unknown}; known: {list(SOURCES)}")
    return wanted


def _selected(record_path: str, key: str = "selected") -> list[str]:
    from hccer.jsonio import read_json

    path = Path(record_path)
    if not path.is_file():
        raise InputError("selection record not found", file=path)
    rec = read_json(path)
    if not isinstance(rec.get(key), list) or not rec[key]:
        raise InputError(f"record lists no '{key}' variables", file=path)
    return [str(v) for v in rec[key]]


def radiomics_block(features_path: str, record_path: str, patients: list[str]) -> pd.DataFrame:
    """The selected radiomics features of `patients` (raw values, one row per patient)."""
    from hccer.radiomics.table import read_features

    selected = _selected(record_path)
    features = read_features(features_path)
    if isinstance(features.index, pd.MultiIndex):
        raise ConfigError("deep: tabular radiomics needs one feature row per patient "
                          "(radiomics.mode volume3d), not per-slice features")
    missing_cols = [c for c in selected if c not in features.columns]
    if missing_cols:
        raise InputError(f"selected feature(s) {missing_cols[:3]} of {record_path} are not "
                         "columns of the feature table", file=features_path)
    missing = [p for p in patients if p not in features.index]
    if missing:
        raise InputError(f"no radiomics features for patient(s) {', '.join(missing[:5])}",
                         file=features_path)
    return features.loc[patients, selected].astype(float)


def clinical_block(study: Mapping, outcome: pd.DataFrame, record_path: str, patients: list[str],
                   outcome_file=None) -> pd.DataFrame:
    """The clinical model's selected variables of `patients`, coded as that model codes
    them (the study's `clinical.variables`)."""
    from hccer.classical.clinical import code_table

    chosen = _selected(record_path)
    specs = {v["name"]: v for v in (study.get("clinical") or {}).get("variables", [])}
    unknown = [c for c in chosen if c not in specs]
    if unknown:
        raise ConfigError(f"deep: clinical variable(s) {unknown} of {record_path} are not in "
                          "the study's clinical.variables")
    missing = [p for p in patients if p not in outcome.index]
    if missing:
        raise InputError(f"patient(s) {', '.join(missing[:5])} not in the outcome table",
                         file=outcome_file)
    return code_table(outcome.loc[patients], [specs[c] for c in chosen], outcome_file)


def build(study: Mapping, cfg: dict, outcome: pd.DataFrame, patients: list[str],
          train: list[str], files: TabularFiles, outcome_file=None) -> Tabular | None:
    """The experiment's tabular matrix for `patients`, z-scored with the mean and SD (ddof 0;
    SD 0 -> 1) of the `train` patients only. None when the experiment reads no tables.

    `outcome` is outcome.tsv indexed by patient (strings, as the classical track reads it)."""
    from hccer.radiomics.select import zscore_fit

    wanted = sources(cfg)
    if not wanted:
        return None
    blocks = []
    for src in wanted:
        if src == "radiomics":
            if not (files.radiomics_features and files.radiomics_record):
                raise ConfigError(f"deep: experiment {cfg.get('name')} reads radiomics "
                                  "features, but no radiomics feature table and selection "
                                  "record were given (the study needs radiomics and "
                                  "classical blocks)")
            blocks.append(radiomics_block(files.radiomics_features, files.radiomics_record,
                                          patients))
        else:
            if not files.clinical_record:
                raise ConfigError(f"deep: experiment {cfg.get('name')} reads clinical "
                                  "variables, but no clinical model record was given (the "
                                  "study needs a clinical block)")
            blocks.append(clinical_block(study, outcome, files.clinical_record, patients,
                                         outcome_file))
    table = pd.concat(blocks, axis=1)
    dup = table.columns[table.columns.duplicated()].tolist()
    if dup:
        raise ConfigError(f"deep: tabular column(s) {dup} come from two sources")
    bad = ~np.isfinite(table.to_numpy(float))
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise InputError(f"tabular input {table.columns[c]} is not a finite number",
                         patient=table.index[r])
    outside = sorted(set(train) - set(patients))
    if outside:
        raise ValueError(f"training patients {outside[:3]} are not among the patients")
    mean, sd = zscore_fit(table.loc[train])
    z = (table - mean) / sd
    return Tabular(z.to_numpy(np.float32), list(table.columns), mean.tolist(), sd.tolist())
