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

    # radiomics
    def radiomics_case(self, pid: str, phase: str, reader: str) -> str:
        """One patient's pyradiomics features of one phase, on one reader's mask."""
        return (f"{self.root}/radiomics/sub-{pid}/"
                f"sub-{pid}_phase-{phase}_reader-{reader}_features.csv")

    def radiomics_table(self, reader: str) -> str:
        """The cohort's feature table (one row per patient) on one reader's masks."""
        return f"{self.root}/radiomics/features_reader-{reader}.tsv"

    def radiomics_icc(self) -> str:
        """The inter-reader ICC of every radiomics feature."""
        return f"{self.root}/radiomics/icc.tsv"

    # models
    def classical_record(self, fold: str | int, model: str) -> str:
        """A classical model's kept features and fitted coefficients for one outer fold."""
        return f"{self.root}/models/classical/fold-{fold}_{model}.json"

    def vit_job(self, vit: str, inner: str | int, seed: str | int) -> str:
        """The folder of one ViT training job (checkpoint, history, curves, summary)."""
        return f"{self.root}/models/{vit}/inner-{inner}_seed-{seed}"

    def vit_features(self, vit: str, seed: str | int) -> str:
        """The CLS feature table a ViT experiment's best fold model extracts for one seed."""
        return f"{self.root}/models/{vit}/seed-{seed}_features.tsv"

    def vit_extractor(self, vit: str, seed: str | int) -> str:
        """Which inner-fold model of a ViT experiment extracted the features of one seed."""
        return f"{self.root}/models/{vit}/seed-{seed}_extractor.json"

    def vit_record(self, seed: str | int) -> str:
        """The fitted bDL / mDL / fDL, combined and permutation models of one seed."""
        return f"{self.root}/models/vit_models/seed-{seed}_record.json"

    def vit_gradcam(self, vit: str, seed: str | int) -> str:
        """The Grad-CAM maps of a ViT experiment's extractor for one seed (a folder)."""
        return f"{self.root}/models/{vit}/seed-{seed}_gradcam"

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

    def paper_spec(self) -> str:
        """The paper spec every table and figure rule reads (rules/paper.smk)."""
        return f"{self.root}/paper/spec.yaml"

    # reproduction report, beside study.yaml
    def run_config(self) -> str:
        """The resolved run config, without the pseudonym salt."""
        return f"{self.root}/config.yaml"

    def published(self) -> str:
        """The paper's published numbers that the comparison reads."""
        return f"{self.root}/published.yaml"

    def comparison(self, ext: str) -> str:
        """The published-vs-reproduced comparison as md or tsv."""
        return f"{self.root}/comparison.{ext}"

    def tripod(self) -> str:
        """The TRIPOD+AI checklist."""
        return f"{self.root}/tripod_ai.md"

    def provenance(self) -> str:
        """The run's provenance: config, seeds, package versions and input hashes."""
        return f"{self.root}/provenance.json"

    def log(self, rule: str, *keys: str) -> str:
        tail = "_".join(keys) if keys else rule
        return f"{self.root}/logs/{rule}/{tail}.log"

    def benchmark(self, rule: str, *keys: str) -> str:
        tail = "_".join(keys) if keys else rule
        return f"{self.root}/benchmarks/{rule}/{tail}.tsv"


@dataclass(frozen=True)
class PrivateLayout:
    """Files that can re-identify patients: under private/<study>/, never under results/."""

    private: str
    study: str

    @property
    def root(self) -> str:
        return f"{self.private}/{self.study}"

    def pseudonyms(self) -> str:
        """The patient code -> pseudonym map."""
        return f"{self.root}/pseudonyms.tsv"


@dataclass(frozen=True)
class SyntheticLayout:
    """A synthetic twin cohort's source files, as `hccer synth --out <root>` writes them; the
    root names the preset, size, seed and (when not 1) the effect strength."""

    base: str
    study: str
    n: int
    seed: int
    strength: float = 1.0

    @property
    def root(self) -> str:
        tail = "" if self.strength == 1 else f"_s{self.strength:g}"
        return f"{self.base}/{self.study}_n{self.n}_seed{self.seed}{tail}"

    def record(self) -> str:
        """The twin's cohort.json: what was simulated, for the comparison and provenance."""
        return f"{self.root}/cohort.json"

    def clinical(self) -> str:
        """The clinical sheet."""
        return f"{self.root}/clinical.csv"

    def columns(self) -> str:
        """What each clinical column holds."""
        return f"{self.root}/clinical_columns.json"

    def mask_sheet(self) -> str:
        """The mask sheet (patient, phase, reader, path)."""
        return f"{self.root}/masks.tsv"

    def dicom(self) -> str:
        """The DICOM root: one folder per patient code."""
        return f"{self.root}/dicom"

    def mask(self, code: str, phase: str, reader: str) -> str:
        """One patient's tumour mask of one phase, drawn by one reader."""
        return f"{self.root}/masks/{code}/{code}_{phase}_{reader}.nii.gz"
