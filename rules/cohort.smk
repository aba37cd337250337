# Cohort: ER label from follow-up, the declared split, and the per-patient status table.


rule derive_outcome:
    input:
        SOURCE_READY,
    output:
        table=L.cohort("outcome.tsv"),
        flow=L.cohort("flow.json"),
    params:
        clinical=CLINICAL,
        columns=f"--columns {COLUMNS}" if COLUMNS else "",
        study=f"config/studies/{KEY}.yaml",
    log:
        log_path("derive_outcome"),
    shell:
        "hccer --log {log} outcome --clinical {params.clinical} {params.columns} "
        "--study {params.study} --salt {SALT} --out {output.table} --flow {output.flow}"


rule split_cohort:
    input:
        outcome=L.cohort("outcome.tsv"),
        gate=L.qc("registration_gate.tsv"),
    output:
        folds=L.cohort("folds.json"),
        table=L.cohort("fold_table.tsv"),
    params:
        study=f"config/studies/{KEY}.yaml",
        dates=(
            f"--clinical {CLINICAL} --salt {SALT}"
            if STUDY["split"]["method"] == "holdout_date"
            else ""
        ),
    log:
        log_path("split_cohort"),
    shell:
        "hccer --log {log} split --outcome {input.outcome} --include {input.gate} "
        "--study {params.study} --seed {SEED} {params.dates} --out {output.folds} "
        "--table {output.table}"


rule patient_status:
    input:
        screen=L.cohort("screen.tsv"),
        outcome=L.cohort("outcome.tsv"),
        gate=L.qc("registration_gate.tsv"),
    output:
        table=L.qc("patient_status.tsv"),
        summary=report(L.qc("summary.md"), category="QC", caption="../report/summary.rst"),
    params:
        study=f"config/studies/{KEY}.yaml",
    log:
        log_path("patient_status"),
    shell:
        "hccer --log {log} status --study {params.study} --screen {input.screen} "
        "--outcome {input.outcome} --gate {input.gate} --out {output.table} "
        "--summary {output.summary}"
