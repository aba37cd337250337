# hccer: raw DICOM + masks + clinical sheet -> preprocessed crops, declared splits, QC, report.
# Run: snakemake --cores all --configfile config/demo.yaml   (the demo, on a synthetic twin)
#      snakemake --cores all --configfile my.yaml            (your cohort; see README)
# config/config.yaml is always read first; the files given are merged over it key by key.

import os
import sys

from snakemake.utils import min_version

min_version("9.0")

# The package is imported from this workflow's source (rules/common.smk runs jobs from it too),
# so Snakemake's own environment needs only its light dependencies, not an install of hccer.
sys.path.insert(0, os.path.join(workflow.basedir, "workflow_scripts"))


# The default config is found next to this file, so `--directory` may point anywhere.
configfile: os.path.join(workflow.basedir, "config", "config.yaml")


report: "report/workflow.rst"


# common.smk first: the stages read only its names and their own, so their order is free,
# except that the model tracks' order is the order of their parts in the ledger.
include: "rules/common.smk"
include: "rules/study.smk"
include: "rules/synth.smk"
include: "rules/ingest.smk"
include: "rules/preprocess.smk"
include: "rules/cohort.smk"
include: "rules/ivim.smk"
include: "rules/radiomics.smk"
include: "rules/classical.smk"
include: "rules/train.smk"
include: "rules/vit.smk"
include: "rules/ledger.smk"
include: "rules/paper.smk"
include: "rules/report.smk"


rule all:
    input:
        STATIC_TARGETS,
        cohort_targets,
        preprocess_targets,
        model_targets,
        paper_targets,
        REPORT_TARGETS,
    default_target: True


rule preprocess_only:
    input:
        preprocess_targets,


rule cohort_only:
    input:
        STATIC_TARGETS,
        cohort_targets,


rule paper_only:
    input:
        paper_targets,
