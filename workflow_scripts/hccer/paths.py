"""The one path builder: self-describing, BIDS-like derivative names under results/<study>/.

Every rule and test builds paths here, so names never drift between producer and consumer.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Layout:
    results: str
    study: str

    @property
    def root(self) -> str:
        return f"{self.results}/{self.study}"

    def study_file(self, view: str | None = None) -> str:
        """The merged preset, or one stage's view of it (hccer.study)."""
        if view is None:
            return f"{self.root}/study.yaml"
        return f"{self.root}/study/{view}.yaml"

    # ingest
    def triage(self, pid: str, kind: str) -> str:
        ext = {"manifest": "tsv", "status": "json"}[kind]
        return f"{self.root}/ingest/sub-{pid}/sub-{pid}_{kind}.{ext}"

    def cohort(self, name: str) -> str:
        return f"{self.root}/cohort/{name}"

    def qc(self, name: str) -> str:
        return f"{self.root}/qc/{name}"

    # derivatives
    def deriv(self, pid: str, *, phase: str, desc: str, reader: str | None = None,
              space: str | None = None, suffix: str = "", ext: str = "nii.gz") -> str:
        parts = [f"sub-{pid}", f"phase-{phase}"]
        if reader:
            parts.append(f"reader-{reader}")
        if space:
            parts.append(f"space-{space}")
        parts.append(f"desc-{desc}")
        name = "_".join(parts) + (f"_{suffix}" if suffix else "")
        return f"{self.root}/derivatives/sub-{pid}/{name}.{ext}"

    def crop(self, pid: str, mode: str, ext: str) -> str:
        return f"{self.root}/crops/sub-{pid}/sub-{pid}_desc-{mode}.{ext}"

    def ledger(self, part: str | None = None) -> str:
        """The study ledger, or one model job's part of it (`part` names model/fold/seed)."""
        if part is None:
            return f"{self.root}/ledger/ledger.csv"
        return f"{self.root}/ledger/parts/{part}.csv"

    def table(self, item: str, ext: str | None = None) -> str:
        """One paper table (`item` of the preset's reproduce block) as csv/md/tex/json; the
        stem without `ext`."""
        return f"{self.root}/tables/{item}" + (f".{ext}" if ext else "")

    def figure(self, item: str, ext: str | None = None) -> str:
        """One paper figure as png/pdf/json; the stem without `ext`."""
        return f"{self.root}/figures/{item}" + (f".{ext}" if ext else "")

    def log(self, rule: str, *keys: str) -> str:
        tail = "_".join(keys) if keys else rule
        return f"{self.root}/logs/{rule}/{tail}.log"

    def benchmark(self, rule: str, *keys: str) -> str:
        tail = "_".join(keys) if keys else rule
        return f"{self.root}/benchmarks/{rule}/{tail}.tsv"
