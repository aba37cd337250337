# Cohort: ER label from follow-up, the declared split, and the per-patient status table.


rule derive_outcome:
    input:
        SOURCE_READY,
        study=L.study_file("outcome"),
        # inputs, not params: a corrected sheet or dictionary reruns the outcome
        clinical=CLINICAL,
        columns=[COLUMNS] if COLUMNS else [],
    output:
        table=L.cohort("outcome.tsv"),
        flow=L.cohort("flow.json"),
    params:
        columns=lambda wc, input: f"--columns {input.columns}" if input.columns else "",
        salt_id=SALT_ID,
    conda:
        "../envs/stats.yaml"
    log:
        log_path("derive_outcome"),
    benchmark:
        L.benchmark("derive_outcome"),
    shell:
        "hccer --log {log} outcome --clinical {input.clinical} {params.columns} "
        "--study {input.study} --out {output.table} --flow {output.flow}"


rule split_cohort:
    input:
        study=L.study_file("split"),
        outcome=L.cohort("outcome.tsv"),
        gate=L.qc("registration_gate.tsv"),
        clinical=[CLINICAL] if STUDY["split"]["method"] == "holdout_date" else [],
    output:
        folds=L.cohort("folds.json"),
        table=L.cohort("fold_table.tsv"),
    params:
        dates=lambda wc, input: f"--clinical {input.clinical}" if input.clinical else "",
        salt_id=SALT_ID,
        seed=SEED,
    conda:
        "../envs/stats.yaml"
    log:
        log_path("split_cohort"),
    benchmark:
        L.benchmark("split_cohort"),
    shell:
        "hccer --log {log} split --outcome {input.outcome} --include {input.gate} "
        "--study {input.study} --seed {params.seed} {params.dates} --out {output.folds} "
        "--table {output.table}"


rule patient_status:
    input:
        study=L.study_file("core"),
        screen=L.cohort("screen.tsv"),
        outcome=L.cohort("outcome.tsv"),
        gate=L.qc("registration_gate.tsv"),
    output:
        table=L.qc("patient_status.tsv"),
        summary=report(L.qc("summary.md"), category="QC", caption="../report/summary.rst"),
    params:
        unmatched=lambda wc: (
            f"--unmatched-mask-lines {','.join(map(str, lines))}"
            if (lines := unmatched_mask_lines())
            else ""
        ),
    conda:
        "../envs/stats.yaml"
    log:
        log_path("patient_status"),
    benchmark:
        L.benchmark("patient_status"),
    shell:
        "hccer --log {log} status --study {input.study} --screen {input.screen} "
        "--outcome {input.outcome} --gate {input.gate} --out {output.table} "
        "--summary {output.summary} {params.unmatched}"


rule write_pseudonym_map:
    output:
        PRIV.pseudonyms(),
    params:
        pairs=sorted(PID.items()),
    log:
        log_path("write_pseudonym_map"),
    benchmark:
        L.benchmark("write_pseudonym_map"),
    run:
        from hccer.ids import write_pseudonym_map

        write_pseudonym_map(output[0], params.pairs, log[0])
