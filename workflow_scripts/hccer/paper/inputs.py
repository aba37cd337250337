"""The run's files a paper item reads, loaded on first use.

A builder asks for what it needs (`rows(model, cohort)`, `analysed()`, `split`...); a file the
job was not given is a ConfigError naming the option, a model the run did not write is
`NotRun`, which the builders turn into a "not run" cell or panel.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import pandas as pd

from hccer.errors import ConfigError, InputError

log = logging.getLogger(__name__)


class NotRun(Exception):
    """A model (or cohort of it) the ledger does not hold; the message says why."""


@dataclass
class Inputs:
    spec: dict
    ledger: str | None = None
    outcome: str | None = None
    folds: str | None = None
    flow: str | None = None
    status: str | None = None
    study: str | None = None
    ivim: str | None = None
    crops: list[str] = field(default_factory=list)
    gradcam: list[str] = field(default_factory=list)
    records: list[str] = field(default_factory=list)  # clinical model records, per fold
    sidecars: list[str] = field(default_factory=list)  # native-series header sidecars
    notes: list[str] = field(default_factory=list)
    what: str = "this item"  # named in errors, e.g. "item table_s3 (table1)"

    def need(self, name: str) -> str:
        path = getattr(self, name)
        if not path:
            raise ConfigError(f"{self.what} needs --{name}")
        return path

    # -- ledger -----------------------------------------------------------------------------
    @cached_property
    def ledger_df(self) -> pd.DataFrame | None:
        from hccer.ledger import read_ledger

        return read_ledger(self.ledger) if self.ledger else None

    def rows(self, model: str, cohort: str) -> pd.DataFrame:
        """One row per patient of `model` in `cohort` (the model's lowest seed), or NotRun."""
        reason = self.spec["models"].get(model, f"no track writes model {model}")
        if reason:
            raise NotRun(reason)
        df = self.ledger_df
        if df is None or not (df["model"] == model).any():
            raise NotRun(f"not run ({model} has no rows in the ledger)")
        sub = df[(df["model"] == model) & (df["cohort"] == cohort)]
        if sub.empty:
            have = sorted(df.loc[df["model"] == model, "cohort"].unique())
            raise NotRun(f"no {cohort} rows for {model} (the ledger has {', '.join(have)})")
        seeds = sorted(sub["seed"].unique())
        if len(seeds) > 1:
            note = f"{model}: seeds {seeds} in the ledger; seed {seeds[0]} shown"
            if note not in self.notes:
                self.notes.append(note)
        return sub[sub["seed"] == seeds[0]].sort_values("patient").reset_index(drop=True)

    # -- cohort -----------------------------------------------------------------------------
    @cached_property
    def split(self) -> dict:
        from hccer.jsonio import read_json

        return read_json(self.need("folds"))

    def analysed(self) -> pd.DataFrame:
        """The analysed patients (those in folds.json) with their outcome.tsv columns as
        strings, `er` (0/1) and `cohort` (train / test, or cv for k-fold), indexed by
        pseudonym."""
        path = Path(self.need("outcome"))
        if not path.is_file():
            raise InputError("outcome table not found", file=path)
        out = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, na_values=[""])
        out = out.set_index("patient")
        assign = pd.DataFrame(self.split["assignment"]).set_index("patient")
        missing = sorted(set(assign.index) - set(out.index))
        if missing:
            raise InputError(
                f"patient(s) {missing[:5]} of folds.json are not in the outcome table", file=path
            )
        tab = out.loc[assign.index].copy()
        if self.ivim:
            # the IVIM track's per-patient tumour values (D, Dstar, f, ADC) are Table 1 rows too
            ivim = pd.read_csv(
                self.ivim, sep="\t", dtype=str, keep_default_na=False, na_values=[""]
            ).set_index("patient")
            clash = sorted(set(ivim.columns) & set(tab.columns))
            if clash:
                raise InputError(
                    f"IVIM features repeat outcome-table column(s) {clash}", file=self.ivim
                )
            tab = tab.join(ivim, how="left")
        tab["cohort"] = assign["cohort"]
        tab["er"] = assign["er"].astype(int)
        return tab
