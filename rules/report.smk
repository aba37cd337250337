# Reproduction report: the paper's headline numbers beside this run's (comparison.md/.tsv), the
# TRIPOD+AI checklist, the run's provenance, and the facts on the front page of
# `snakemake --report`.

import copy

from hccer.config import demo_settings
from hccer.report.provenance import public_config

# REPORT_TARGETS (the files below) is in common.smk, with the other target lists.
SYN_RECORD = SYN.record() if SYN else None
# Taken before the front-page summary is attached to `config` below; never holds the salt.
PUBLIC_CONFIG = public_config(copy.deepcopy(config))


rule write_run_config:
    output:
        L.run_config(),
    params:
        # a param, so a config change reruns exactly the provenance steps
        config=PUBLIC_CONFIG,
    log:
        log_path("write_run_config"),
    benchmark:
        L.benchmark("write_run_config"),
    run:
        from hccer.report.provenance import write_config

        write_config(output[0], dict(params.config), log[0])


if PUBLISHED:

    rule write_published:
        # Kept out of study.yaml, so editing a published number reruns the report only.
        output:
            L.published(),
        params:
            published=PUBLISHED,
        log:
            log_path("write_published"),
        benchmark:
            L.benchmark("write_published"),
        run:
            from hccer.report.published import write_published

            write_published(output[0], dict(params.published), log[0])

    rule compare_published:
        input:
            study=L.study_file(),
            published=L.published(),
            folds=L.cohort("folds.json"),
            flow=L.cohort("flow.json"),
            ledger=ledger_input,
            synthetic=[SYN_RECORD] if SYN_RECORD else [],
        output:
            md=report(L.comparison("md"), category=KEY, subcategory="Reproduction",
                      caption="../report/comparison.rst"),
            tsv=report(L.comparison("tsv"), category=KEY, subcategory="Reproduction",
                       caption="../report/comparison.rst"),
        params:
            source=SOURCE,
            seed=SEED,
            demo=",".join(sorted(demo_settings(config))),
            ledger=lambda wc, input: f"--ledger {input.ledger}" if input.ledger else "",
            synthetic=lambda wc, input: f"--synthetic {input.synthetic}" if input.synthetic else "",
            # read by the caption
            split=STUDY["split"],
            auc_ci=PUBLISHED.get("auc_ci") or {"method": "delong"},
            threshold=PUBLISHED.get("threshold") or {"method": "fixed", "value": 0.5},
        conda:
            "../envs/stats.yaml"
        log:
            log_path("compare_published"),
        benchmark:
            L.benchmark("compare_published"),
        shell:
            "hccer --log {log} report comparison --study {input.study} "
            "--published {input.published} {params.ledger} --folds {input.folds} "
            "--flow {input.flow} --source {params.source} {params.synthetic} "
            "--seed {params.seed} --demo-settings '{params.demo}' --out {output.md} "
            "--table {output.tsv}"


rule record_provenance:
    input:
        SOURCE_READY,
        config=L.run_config(),
        study=L.study_file(),
        published=[L.published()] if PUBLISHED else [],
        pseudonyms=PRIV.pseudonyms(),
        clinical=CLINICAL,
        masks=MASK_SHEET,
        folds=L.cohort("folds.json"),
        # the paper spec (rules/paper.smk) completes the merged preset; the checklist links its
        # tables and figures by kind
        paper_spec=L.paper_spec(),
    output:
        report(L.provenance(), category=KEY, subcategory="Reproduction",
               caption="../report/provenance.rst"),
    params:
        dicom=DICOM_ROOT,
        published=lambda wc, input: f"--published {input.published}" if input.published else "",
        synthetic=f"--synthetic {SYN_RECORD}" if SYN_RECORD else "",
        workflow_dir=workflow.basedir,
    threads: 2
    conda:
        "../envs/stats.yaml"
    log:
        log_path("record_provenance"),
    benchmark:
        L.benchmark("record_provenance")
    shell:
        "hccer --log {log} report provenance --config {input.config} --study {input.study} "
        "{params.published} --pseudonyms {input.pseudonyms} --dicom-root {params.dicom} "
        "--clinical {input.clinical} --masks {input.masks} --folds {input.folds} "
        "{params.synthetic} --paper-spec {input.paper_spec} "
        "--workflow-dir {params.workflow_dir} --threads {threads} --out {output}"


rule write_tripod_checklist:
    input:
        provenance=L.provenance(),
        comparison=[L.comparison("tsv"), L.comparison("md")] if PUBLISHED else [],
        flow=L.cohort("flow.json"),
        status=L.qc("patient_status.tsv"),
        summary=L.qc("summary.md"),
        folds=L.cohort("folds.json"),
        fold_table=L.cohort("fold_table.tsv"),
        ledger=ledger_input,
        # the checklist links the paper tables and figures (rules/paper.smk)
        paper=paper_targets,
    output:
        report(L.tripod(), category=KEY, subcategory="Reproduction",
               caption="../report/tripod_ai.rst"),
    params:
        root=lambda wc, output: os.path.dirname(output[0]),
        comparison=lambda wc, input: (
            f"--comparison {input.comparison[0]}" if input.comparison else ""
        ),
        ledger=lambda wc, input: f"--ledger {input.ledger}" if input.ledger else "",
    conda:
        "../envs/stats.yaml"
    log:
        log_path("write_tripod_checklist"),
    benchmark:
        L.benchmark("write_tripod_checklist"),
    shell:
        "hccer --log {log} report tripod --root {params.root} --provenance {input.provenance} "
        "{params.comparison} --flow {input.flow} --status {input.status} "
        "--folds {input.folds} --fold-table {input.fold_table} {params.ledger} "
        "--out {output}"


# The front page (report/workflow.rst) is rendered with the config alone: attach what the run
# has written so far (patients, exclusions, models). Main process only: jobs never read it.
if workflow.is_main_process:
    from hccer.report.summary import run_summary

    config["report_summary"] = run_summary(L.root, STUDY, SOURCE, SYN_RECORD)
