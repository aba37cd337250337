"""The TRIPOD+AI (Collins et al., BMJ 2024) checklist of one run, filled from its metadata.

Item numbers follow the published checklist; the item texts here are short paraphrases. Each
item gets a status (reported / partly / not done / not applicable), what this run did, and
relative links to the files that show it. Items a workflow cannot know (ethics, funding, the
manuscript's discussion) are marked as such rather than filled with invented text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

REPORTED, PARTLY, NOT_DONE, NOT_APPLICABLE = "reported", "partly", "not done", "not applicable"

# (number, section, short item text), in the order of the published checklist
ITEMS = (
    (
        "1",
        "Title",
        "Identify the study as developing or evaluating a prediction model, with "
        "its target population and the outcome predicted.",
    ),
    ("2", "Abstract", "Abstract following TRIPOD+AI for Abstracts."),
    ("3a", "Introduction: background", "Healthcare context, rationale, existing models."),
    (
        "3b",
        "Introduction: background",
        "Target population, intended purpose in the care pathway and intended users.",
    ),
    (
        "3c",
        "Introduction: background",
        "Known health inequalities between sociodemographic groups.",
    ),
    ("4", "Introduction: objectives", "Objectives: development, evaluation or both."),
    (
        "5a",
        "Methods: data",
        "Data sources for development and evaluation, rationale, representativeness.",
    ),
    ("5b", "Methods: data", "Dates of accrual and end of follow-up."),
    ("6a", "Methods: participants", "Setting, number and location of centres."),
    ("6b", "Methods: participants", "Eligibility criteria."),
    ("6c", "Methods: participants", "Treatments received and how they were handled."),
    (
        "7",
        "Methods: data preparation",
        "Pre-processing and quality checks, and whether they were similar across groups.",
    ),
    ("8a", "Methods: outcome", "Outcome definition and time horizon; how and when assessed."),
    ("8b", "Methods: outcome", "Qualifications of outcome assessors where judgement is involved."),
    ("8c", "Methods: outcome", "Blinding of outcome assessment."),
    ("9a", "Methods: predictors", "Choice of initial predictors and any pre-selection."),
    ("9b", "Methods: predictors", "Definition of every predictor; how and when measured."),
    (
        "9c",
        "Methods: predictors",
        "Qualifications of predictor assessors where judgement is involved.",
    ),
    ("10", "Methods: sample size", "How the study size was arrived at and why it suffices."),
    ("11", "Methods: missing data", "Handling of missing data; reasons for omitted data."),
    (
        "12a",
        "Methods: analytical methods",
        "How the data were used and partitioned for development and evaluation.",
    ),
    (
        "12b",
        "Methods: analytical methods",
        "Handling of predictors (form, rescaling, standardisation).",
    ),
    (
        "12c",
        "Methods: analytical methods",
        "Model type, building steps, hyperparameters and tuning, internal validation.",
    ),
    ("12d", "Methods: analytical methods", "Heterogeneity across clusters (e.g. centres)."),
    ("12e", "Methods: analytical methods", "Performance measures and plots; model comparisons."),
    ("12f", "Methods: analytical methods", "Model updating (e.g. recalibration)."),
    ("12g", "Methods: analytical methods", "How predictions were calculated for evaluation."),
    ("13", "Methods: class imbalance", "Class imbalance methods, why and how."),
    ("14", "Methods: fairness", "Approaches to model fairness."),
    ("15", "Methods: model output", "Model output and any classification thresholds."),
    (
        "16",
        "Methods: training vs evaluation",
        "Differences between development and evaluation data.",
    ),
    ("17", "Methods: ethical approval", "Ethics approval and consent or waiver."),
    ("18a", "Open science: funding", "Funding and the funders' role."),
    ("18b", "Open science: conflicts of interest", "Conflicts of interest."),
    ("18c", "Open science: protocol", "Where the protocol can be accessed."),
    ("18d", "Open science: registration", "Study registration."),
    ("18e", "Open science: data sharing", "Availability of the study data."),
    ("18f", "Open science: code sharing", "Availability of the analytical code."),
    ("19", "Patient and public involvement", "Patient and public involvement."),
    (
        "20a",
        "Results: participants",
        "Flow of participants, with and without the outcome; follow-up.",
    ),
    (
        "20b",
        "Results: participants",
        "Characteristics of participants, predictors, events and missing data per data source.",
    ),
    (
        "20c",
        "Results: participants",
        "Evaluation vs development data: distribution of key predictors and outcome.",
    ),
    ("21", "Results: model development", "Participants and outcome events in each analysis."),
    (
        "22",
        "Results: model specification",
        "The full model, to predict for new individuals; access restrictions.",
    ),
    (
        "23a",
        "Results: model performance",
        "Performance with confidence intervals, including key subgroups.",
    ),
    ("23b", "Results: model performance", "Heterogeneity of performance across clusters."),
    ("24", "Results: model updating", "Results of any model updating."),
    ("25", "Discussion: interpretation", "Overall interpretation, including fairness."),
    (
        "26",
        "Discussion: limitations",
        "Limitations and their effect on bias, uncertainty and generalisability.",
    ),
    (
        "27a",
        "Discussion: usability",
        "How poor-quality or missing input data should be handled in use.",
    ),
    (
        "27b",
        "Discussion: usability",
        "User interaction with inputs or the model and the expertise required.",
    ),
    ("27c", "Discussion: usability", "Next steps towards applicability and generalisability."),
)

MANUSCRIPT = "a manuscript item: the run records nothing about it"


@dataclass
class Item:
    number: str
    section: str
    text: str
    status: str
    answer: str
    evidence: list[str] = field(default_factory=list)


@dataclass
class RunMeta:
    """What the checklist reads: the merged preset, config and cohort facts of one run."""

    study: Mapping
    config: dict
    flow: dict
    status: list[dict]
    folds: dict
    fold_table: list[dict]
    ledger_models: list[str]
    comparison: list[dict]
    synthetic: dict | None = None
    root: Path | None = None
    paper: dict | None = None  # the paper spec (rules/paper.smk): its tables and figures

    def has(self, rel: str) -> bool:
        return self.root is not None and (self.root / rel).exists()

    def existing(self, *rels: str) -> list[str]:
        return [r for r in rels if self.has(r)]

    def glob(self, pattern: str, limit: int = 6) -> list[str]:
        if self.root is None:
            return []
        hits = sorted(p.relative_to(self.root).as_posix() for p in self.root.glob(pattern))
        return hits[:limit]

    def paper_files(self, *kinds: str) -> list[str]:
        """The paper tables (Markdown) and figures (PNG) of the paper spec made by builders
        of the given kinds, where written."""
        block = self.paper or {}
        out = []
        for section, ext in (("tables", "md"), ("figures", "png")):
            for item in block.get(section) or []:
                if item.get("kind") in kinds:
                    out.append(f"{section}/{item['id']}.{ext}")
        return self.existing(*out)


def _synthetic(m: RunMeta) -> bool:
    return m.config["data"]["source"] == "synthetic"


def _counts(m: RunMeta) -> tuple[int, int, dict]:
    inc = [r for r in m.status if r["status"] == "included"]
    exc: dict[str, int] = {}
    for r in m.status:
        if r["status"] != "included":
            key = f"{r['step']}: {r['reason']}" if r.get("reason") else r["step"]
            exc[key] = exc.get(key, 0) + 1
    return len(inc), len(m.status) - len(inc), exc


def _split_text(m: RunMeta) -> str:
    s = m.study["split"]
    if s["method"] == "kfold":
        return (
            f"patient-level stratified {s['n_folds']}-fold cross-validation "
            f"(seed {m.folds.get('seed')}); every model scores each patient once, out of "
            "fold"
        )
    f0 = m.folds["folds"][0]
    how = (
        f"by surgery date (before {s['date_cutoff']} trains)"
        if s["method"] == "holdout_date"
        else f"at random ({'stratified, ' if s.get('stratify') else ''}test fraction "
        f"{s.get('test_fraction')}, seed {m.folds.get('seed')})"
    )
    inner = (
        f"; {s['inner_folds']} inner folds of the training patients for tuning and early stopping"
        if s.get("inner_folds")
        else ""
    )
    return (
        f"a single hold-out split {how}: {len(f0['train'])} training and "
        f"{len(f0['test'])} test patients{inner}"
    )


def _deep_text(m: RunMeta) -> str:
    from hccer.dl import experiments as dlx

    deep = m.study.get("deep") or {}
    if not deep:
        return ""
    parts = []
    for name in dlx.run_list(deep):
        c = dlx.resolve(deep, name)
        parts.append(
            f"`{name}` ({c['network']}, {c.get('epochs')} epochs, batch "
            f"{c.get('batch_size')}, lr {c.get('lr')}, augmentation "
            f"{c.get('augment', 'none')}"
            + (", labels permuted (negative control)" if c.get("permute_labels") else "")
            + (
                f", early stopping patience {c['early_stopping']['patience']}"
                if c.get("early_stopping")
                else ""
            )
            + ")"
        )
    return "Deep models: " + "; ".join(parts) + "."


def _classical_text(m: RunMeta) -> str:
    out = []
    clin = m.study.get("clinical")
    if clin:
        vars_ = ", ".join(v["name"] for v in clin["variables"])
        out.append(f"clinical model `{clin['name']}` ({clin['model']}) on {vars_}")
    cl = m.study.get("classical")
    if cl and m.study.get("radiomics"):
        steps = " → ".join(s["step"] for s in cl["selection"])
        out.append(
            f"radiomics ({m.study['radiomics']['features_per_phase']} features per "
            f"phase; selection {steps}; classifiers {', '.join(cl['classifiers'])}"
            + (
                "; hyperparameters tuned by inner CV"
                if cl.get("tune")
                else "; library defaults with a fixed seed"
            )
            + ")"
        )
    comps = ((clin or {}).get("staging") or {}).get("comparators")
    if comps:
        out.append(f"staging comparators {', '.join(comps)} (no fitting)")
    return ("Classical models: " + "; ".join(out) + ".") if out else ""


def _threshold_text(m: RunMeta) -> str:
    thr = (m.study.get("published") or {}).get("threshold") or {"method": "fixed", "value": 0.5}
    if thr["method"] == "fixed":
        return f"a fixed cut-off of {thr['value']}"
    return (
        "Youden's J on the training cohort, applied unchanged to the test cohort"
        if thr["from"] == "train"
        else "Youden's J on each cohort (as the paper)"
    )


Answer = tuple[str, str, list[str]]  # status, what this run did, evidence paths

_MANUSCRIPT_SENTENCE = f"{MANUSCRIPT[0].upper()}{MANUSCRIPT[1:]}."

# paper-spec builders whose tables and figures show model performance
_PERFORMANCE_KINDS = (
    "fold_metrics",
    "holdout_metrics",
    "roc",
    "calibration",
    "confusion",
    "km",
    "km_summary",
)


@dataclass(frozen=True)
class _Facts:
    """Run facts that several items quote; computed once per checklist."""

    syn: bool
    n_inc: int
    n_exc: int
    exc: dict
    data_src: str
    performance: list[str]
    ok: int
    not_run: list[str]


def _facts(m: RunMeta) -> _Facts:
    syn = _synthetic(m)
    n_inc, n_exc, exc = _counts(m)
    data_src = (
        f"a synthetic twin cohort (`hccer synth`, n = {m.synthetic['n']}, seed "
        f"{m.synthetic['seed']}, oracle AUC {m.synthetic['oracle_auc']['overall']:.3f})"
        if syn and m.synthetic
        else "the user's cohort (`data.source: cohort`)"
    )
    return _Facts(
        syn=syn,
        n_inc=n_inc,
        n_exc=n_exc,
        exc=exc,
        data_src=data_src,
        performance=m.paper_files(*_PERFORMANCE_KINDS),
        ok=sum(r["status"] == "ok" for r in m.comparison),
        not_run=sorted({r["model"] for r in m.comparison if r["status"] == "not run"}),
    )


def _introduction(m: RunMeta, f: _Facts) -> dict[str, Answer]:
    """Items 1-4: title, abstract, background, objectives."""
    st = m.study
    paper = st.get("paper") or {}
    return {
        "1": (
            PARTLY,
            f"Run of preset `{st['key']}`: {st['title']}. Development and internal "
            f"evaluation; outcome early recurrence within {st['outcome']['horizon_days']} days "
            "of resection. The title of a manuscript is the authors' choice.",
            m.existing("study.yaml"),
        ),
        "2": (
            NOT_DONE,
            f"No abstract is written; {MANUSCRIPT}. The headline numbers are in comparison.md.",
            m.existing("comparison.md"),
        ),
        "3a": (
            PARTLY,
            f"Reproduction of {paper.get('first_author', 'the paper')} "
            f"({paper.get('journal', '')} {paper.get('year', '')}"
            + (f", doi {paper['doi']}" if paper.get("doi") else "")
            + "); the rationale is "
            "the paper's.",
            m.existing("study.yaml"),
        ),
        "3b": (
            NOT_DONE,
            "Patients with hepatocellular carcinoma before curative resection "
            f"(the paper's population); intended use and users are {MANUSCRIPT}.",
            [],
        ),
        "3c": (NOT_DONE, f"Not assessed by the workflow; {MANUSCRIPT}.", []),
        "4": (
            REPORTED,
            "Re-develop the paper's models and evaluate them internally on "
            f"{f.data_src}, beside the published numbers.",
            m.existing("comparison.md", "study.yaml"),
        ),
    }


def _data_and_participants(m: RunMeta, f: _Facts) -> dict[str, Answer]:
    """Items 5a-6c: data sources, dates, setting, eligibility, treatments."""
    st = m.study
    oc = st["outcome"]
    reg = m.config.get("registration", {})
    return {
        "5a": (
            PARTLY if not f.syn else REPORTED,
            f"Data: {f.data_src}. Input files are identified by SHA-256 hashes (clinical "
            "sheet, mask sheet, per-patient DICOM and masks)"
            + (
                "; representativeness of real patients does not apply to simulated data."
                if f.syn
                else "; the source's representativeness is a manuscript item."
            ),
            m.existing("provenance.json", "cohort/flow.json"),
        ),
        "5b": (
            NOT_DONE,
            "Dates stay in the private clinical sheet; results carry no dates"
            + (
                f". The split cut-off date is {st['split']['date_cutoff']}."
                if st["split"]["method"] == "holdout_date"
                else "."
            ),
            [],
        ),
        "6a": (
            (NOT_APPLICABLE if f.syn else NOT_DONE),
            (
                "Simulated scanners: "
                + ", ".join(
                    f"{k} ({v})" for k, v in (m.synthetic or {}).get("scanners", {}).items()
                )
                if f.syn
                else f"Centres and setting are {MANUSCRIPT}."
            ),
            m.existing("provenance.json"),
        ),
        "6b": (
            REPORTED,
            f"Included: an outcome at {oc['horizon_days']} days (non-recurrent "
            f"patients need ≥ {oc['min_followup_days']} days of follow-up), DICOM of "
            f"phases {', '.join(st['phases'])} that triage accepts, tumour masks on "
            f"{', '.join(st['mask_phases'])}, and registration passing QC (NCC ≥ "
            f"{reg.get('min_ncc')}, Dice ≥ {reg.get('min_dice')}).",
            m.existing("qc/summary.md", "qc/patient_status.tsv", "cohort/flow.json"),
        ),
        "6c": (
            NOT_DONE,
            f"Treatment is resection by design; other treatments are {MANUSCRIPT}.",
            [],
        ),
    }


def _preparation_and_outcome(m: RunMeta, f: _Facts) -> dict[str, Answer]:
    """Items 7-8c: pre-processing, outcome definition, assessors, blinding."""
    st = m.study
    reg = m.config.get("registration", {})
    crop = st["crop"]
    return {
        "7": (
            REPORTED,
            f"DICOM triaged into phases, converted to NIfTI, resampled to "
            f"{m.config.get('preprocess', {}).get('spacing_mm')} mm, registered rigidly "
            f"(antspyx {reg.get('type')}) to the {st['reference_phase']} phase with a QC "
            f"gate, then cropped ({crop['mode']}, size {crop['size']}"
            + (f", intensity {crop['intensity']['kind']}" if crop.get("intensity") else "")
            + "). The same steps run for every patient; per-group checks were "
            "not done.",
            m.existing("qc/registration_gate.tsv", "qc/summary.md")
            + m.glob("derivatives/sub-*/*_desc-registration_qc.png", 2)
            + m.glob("crops/sub-*/*.png", 2)
            + m.paper_files("crops"),
        ),
        "8a": (
            REPORTED,
            f"Early recurrence: recurrence within {st['outcome']['horizon_days']} days after "
            "surgery, from surgery, recurrence and last follow-up dates; survival time and "
            "event kept for Kaplan-Meier analyses.",
            m.existing("cohort/outcome.tsv"),
        ),
        "8b": (
            NOT_APPLICABLE if f.syn else NOT_DONE,
            "Simulated outcome." if f.syn else f"Outcome assessors are {MANUSCRIPT}.",
            [],
        ),
        "8c": (
            NOT_APPLICABLE if f.syn else NOT_DONE,
            "Simulated outcome." if f.syn else f"Blinding is {MANUSCRIPT}.",
            [],
        ),
    }


def _predictors_size_missing(m: RunMeta, f: _Facts) -> dict[str, Answer]:
    """Items 9a-11: predictors, their assessors, sample size, missing data."""
    st = m.study
    return {
        "9a": (
            REPORTED,
            "Predictors as the paper: image phases "
            f"{', '.join(st.get('model_phases') or st['phases'])}"
            + (
                f"; clinical variables {', '.join(v['name'] for v in st['clinical']['variables'])}"
                if st.get("clinical")
                else ""
            )
            + ".",
            m.existing("study.yaml"),
        ),
        "9b": (
            REPORTED,
            "Coding of each clinical variable (cut-offs, levels, scaling) and the "
            "image crops are defined in the merged preset.",
            m.existing("study.yaml", "cohort/outcome.tsv"),
        ),
        "9c": (
            PARTLY,
            "Tumour masks: reader r1 for modelling"
            + ("; a second reader for inter-reader agreement" if st["second_reader"] else "")
            + (". Simulated readers." if f.syn else f"; readers' qualifications are {MANUSCRIPT}."),
            m.existing("radiomics/icc.tsv", "cohort/ivim_icc.json"),
        ),
        "10": (
            PARTLY,
            f"{m.flow.get('n_sheet')} patients in the sheet, {f.n_inc} included "
            f"({m.flow.get('n_er')} ER with an outcome). "
            + (
                "The twin's size is set in the config (the paper's n for paper-size runs); "
                if f.syn
                else "The cohort's size was given; "
            )
            + "no sample-size calculation.",
            m.existing("cohort/flow.json"),
        ),
        "11": (
            REPORTED,
            f"No imputation: a patient with a missing or unreadable value, input "
            f"or failed QC is excluded and listed with the step and reason ({f.n_exc} "
            f"excluded"
            + (": " + "; ".join(f"{k} ({v})" for k, v in sorted(f.exc.items())) if f.exc else "")
            + ").",
            m.existing("qc/patient_status.tsv", "qc/summary.md"),
        ),
    }


def _analysis(m: RunMeta, f: _Facts) -> dict[str, Answer]:
    """Items 12a-12g: partitioning, predictor handling, models, measures, predictions."""
    models = ", ".join(f"`{x}`" for x in m.ledger_models) or "none"
    return {
        "12a": (
            REPORTED,
            f"Declared split: {_split_text(m)}.",
            m.existing("cohort/folds.json", "cohort/fold_table.tsv"),
        ),
        "12b": (
            REPORTED,
            "Images: resampled, registered, cropped and intensity-normalised "
            "per the preset's crop block; radiomics features z-scored on training "
            "patients; clinical variables coded as the preset says.",
            m.existing("study.yaml"),
        ),
        "12c": (
            REPORTED,
            " ".join(x for x in (_deep_text(m), _classical_text(m)) if x)
            + " Internal validation by the declared split.",
            m.existing("study.yaml", "models"),
        ),
        "12d": (
            NOT_DONE,
            "Not assessed (single source; no per-centre or per-scanner analysis).",
            [],
        ),
        "12e": (
            REPORTED,
            "Discrimination (AUC with CI), accuracy, sensitivity, specificity, "
            f"PPV, NPV at {_threshold_text(m)}, and the tests the paper reports; see the "
            "method paragraph of comparison.md.",
            m.existing("comparison.md", "comparison.tsv") + f.performance,
        ),
        "12f": (NOT_DONE, "No model updating or recalibration.", []),
        "12g": (
            REPORTED,
            "Every model writes one probability per patient to the prediction "
            "ledger, by the `hccer` step named in each rule; all statistics read only the "
            f"ledger. Models in it: {models}.",
            m.existing("ledger/ledger.csv"),
        ),
    }


def _imbalance_to_evaluation_data(m: RunMeta, f: _Facts) -> dict[str, Answer]:
    """Items 13-16: class imbalance, fairness, model output, development vs evaluation."""
    weights = sorted({str(_resolved(m, n).get("class_weights", "none")) for n in _deep_runs(m)})
    return {
        "13": (
            REPORTED if weights else NOT_DONE,
            (
                f"Deep models: class weights {', '.join(weights)}; no resampling; no recalibration."
                if weights
                else "No class-imbalance method is used."
            ),
            [],
        ),
        "14": (
            NOT_DONE,
            "No fairness analysis (no sociodemographic subgroup evaluation).",
            [],
        ),
        "15": (
            REPORTED,
            f"A probability of early recurrence per patient; classes at {_threshold_text(m)}.",
            m.existing("ledger/ledger.csv", "comparison.md"),
        ),
        "16": (
            REPORTED,
            "Development and evaluation patients come from the same source and "
            "pass the same eligibility and preprocessing; "
            + (
                "the test patients are later (temporal split)."
                if m.study["split"]["method"] == "holdout_date"
                else "they differ by the split only."
            ),
            m.existing("cohort/fold_table.tsv"),
        ),
    }


def _ethics_and_open_science(m: RunMeta, f: _Facts) -> dict[str, Answer]:
    """Items 17-19: ethics, funding, conflicts, protocol, registration, sharing, PPI."""
    out: dict[str, Answer] = {
        "17": (
            (NOT_APPLICABLE, "Simulated patients; no ethics approval needed.", [])
            if f.syn
            else (NOT_DONE, f"Ethics approval is {MANUSCRIPT}.", [])
        )
    }
    for k in ("18a", "18b", "18c", "18d"):
        out[k] = (NOT_DONE, _MANUSCRIPT_SENTENCE, [])
    out["18e"] = (
        (
            REPORTED,
            "The twin is regenerated exactly from the seed and generator "
            "version in provenance.json.",
            m.existing("provenance.json"),
        )
        if f.syn
        else (
            NOT_DONE,
            f"Data availability is {MANUSCRIPT}; provenance.json identifies the inputs by hash.",
            m.existing("provenance.json"),
        )
    )
    out["18f"] = (
        REPORTED,
        "The workflow (code, presets, pinned environments) with its git "
        "commit and package versions in provenance.json.",
        m.existing("provenance.json"),
    )
    out["19"] = (NOT_DONE, _MANUSCRIPT_SENTENCE, [])
    return out


def _results_participants(m: RunMeta, f: _Facts) -> dict[str, Answer]:
    """Items 20a-21: participant flow, characteristics, events per analysis."""
    t1 = m.paper_files("table1")
    return {
        "20a": (
            REPORTED,
            f"{m.flow.get('n_sheet')} patients found, {f.n_inc} included, {f.n_exc} "
            f"excluded (by step and reason in the QC summary); {m.flow.get('n_er')} with "
            f"and {m.flow.get('n_ner')} without early recurrence among those with an "
            "outcome.",
            m.existing("qc/summary.md", "cohort/flow.json") + m.paper_files("flow"),
        ),
        "20b": (
            (REPORTED if t1 else PARTLY),
            "Baseline characteristics table"
            + (
                " written (the paper's Table 1 layout)."
                if t1
                else " not written by this run; counts are in cohort/flow.json."
            ),
            t1 or m.existing("cohort/flow.json"),
        ),
        "20c": (
            PARTLY,
            "Patients and ER events per split side are in the fold table"
            + ("; predictors by group in the baseline table." if t1 else "."),
            m.existing("cohort/fold_table.tsv") + t1,
        ),
        "21": (
            REPORTED,
            "Participants and events per development and evaluation set: " + _fold_counts(m) + ".",
            m.existing("cohort/fold_table.tsv") + m.paper_files("fold_distribution"),
        ),
    }


def _results_model(m: RunMeta, f: _Facts) -> dict[str, Answer]:
    """Items 22-24: model specification, performance, heterogeneity, updating."""
    return {
        "22": (
            REPORTED if m.has("models") else NOT_DONE,
            "Fitted models: network checkpoints and classical model records (coefficients "
            "or importances, selected features) per fold under models/.",
            m.existing("models") + m.paper_files("model_summary", "lasso_cv"),
        ),
        "23a": (
            REPORTED if f.ok else NOT_DONE,
            f"{f.ok} published numbers reproduced with CIs or fold SDs"
            + (f"; not run here: {', '.join(f'`{x}`' for x in f.not_run)}" if f.not_run else "")
            + ". No subgroup analysis.",
            m.existing("comparison.md") + f.performance,
        ),
        "23b": (NOT_DONE, "Not assessed.", []),
        "24": (NOT_APPLICABLE, "No model updating.", []),
    }


def _discussion(m: RunMeta, f: _Facts) -> dict[str, Answer]:
    """Items 25-27c: interpretation, limitations, usability."""
    return {
        "25": (
            NOT_DONE,
            f"Interpretation is {MANUSCRIPT}; comparison.md puts this run beside the paper.",
            m.existing("comparison.md"),
        ),
        "26": (
            PARTLY,
            "Facts a discussion needs: "
            + ("simulated data (the oracle AUC bounds every model); " if f.syn else "")
            + "per-patient evaluation where the paper may differ (see comparison.md); "
            + (f"models not run: {', '.join(f.not_run)}; " if f.not_run else "")
            + f"{f.n_inc} patients.",
            m.existing("comparison.md"),
        ),
        "27a": (
            REPORTED,
            "Unusable inputs are caught before modelling: triage (series, "
            "phases, masks), value checks of the clinical sheet and the registration QC "
            "gate exclude a patient with a named reason.",
            m.existing("qc/patient_status.tsv"),
        ),
        "27b": (
            PARTLY,
            "Users supply tumour masks per phase (manual segmentation) and may "
            "override the automatic phase classification with a manifest; the rest runs "
            "unattended.",
            [],
        ),
        "27c": (NOT_DONE, _MANUSCRIPT_SENTENCE, []),
    }


# each answers a consecutive block of ITEMS; together they cover every item number
_SECTIONS = (
    _introduction,
    _data_and_participants,
    _preparation_and_outcome,
    _predictors_size_missing,
    _analysis,
    _imbalance_to_evaluation_data,
    _ethics_and_open_science,
    _results_participants,
    _results_model,
    _discussion,
)


def build_checklist(m: RunMeta) -> list[Item]:
    """Every TRIPOD+AI item with its status, answer and evidence for this run."""
    facts = _facts(m)
    answers: dict[str, Answer] = {}
    for section in _SECTIONS:
        answers.update(section(m, facts))
    return [Item(n, sec, text, *answers[n]) for n, sec, text in ITEMS]


def _deep_runs(m: RunMeta) -> list[str]:
    from hccer.dl import experiments as dlx

    deep = m.study.get("deep") or {}
    return dlx.run_list(deep) if deep else []


def _resolved(m: RunMeta, name: str) -> dict:
    from hccer.dl import experiments as dlx

    return dlx.resolve(m.study["deep"], name)


def _fold_counts(m: RunMeta) -> str:
    rows = m.fold_table
    if not rows:
        return "no fold table"
    if m.study["split"]["method"] == "kfold":
        tests = [r for r in rows if r["side"] == "test"]
        ns = [int(r["n"]) for r in tests]
        ers = [int(r["n_er"]) for r in tests]
        return (
            f"{len(tests)} test folds of {min(ns)}-{max(ns)} patients with "
            f"{min(ers)}-{max(ers)} ER each"
        )
    return "; ".join(f"{r['side']} {r['n']} ({r['n_er']} ER)" for r in rows)


def render(items: list[Item], study: Mapping) -> str:
    """Markdown checklist; evidence paths are relative to the checklist's folder."""
    lines = [
        f"# TRIPOD+AI checklist: {study['key']}",
        "",
        "TRIPOD+AI (Collins et al., BMJ 2024; 385:e078378), items numbered as the "
        "published checklist, item texts shortened. Filled from this run's metadata; "
        "evidence links are relative to this file.",
        "",
        "| item | section | checklist item (short) | status | this run | evidence |",
        "|---|---|---|---|---|---|",
    ]
    for it in items:
        ev = ", ".join(f"[{p}]({p})" for p in it.evidence)
        cells = [it.number, it.section, it.text, it.status, it.answer, ev or "—"]
        lines.append("| " + " | ".join(c.replace("|", r"\|") for c in cells) + " |")
    counts: dict[str, int] = {}
    for it in items:
        counts[it.status] = counts.get(it.status, 0) + 1
    lines += [
        "",
        "Status counts: "
        + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        + f" (of {len(items)} items).",
        "",
    ]
    return "\n".join(lines)
