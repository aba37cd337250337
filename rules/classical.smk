# Clinical and classical-ML models: per-fold model jobs writing ledger parts (out-of-fold test
# rows; apparent training rows for hold-out designs), and the staging-system scores.


if CLIN:
    CLIN_RECORD = L.classical_record("{fold}", CLIN["name"])
    CLIN_PART = L.ledger(f"{CLIN['name']}_fold-{{fold}}")

    rule fit_clinical_model:
        input:
            study=L.study_file("clinical"),
            outcome=L.cohort("outcome.tsv"),
            folds=L.cohort("folds.json"),
            ivim=[L.cohort("ivim_features.tsv")] if CLIN.get("ivim") else [],
        output:
            part=CLIN_PART,
            record=CLIN_RECORD,
        params:
            seed=SEED,
            ivim=lambda wc, input: f"--ivim {input.ivim}" if input.ivim else "",
        threads: 1
        resources:
            mem_mb=2000,
            runtime=20,
        conda:
            "../envs/radiomics.yaml"
        log:
            log_path("fit_clinical_model", "{fold}"),
        benchmark:
            L.benchmark("fit_clinical_model", "{fold}"),
        shell:
            "hccer --log {log} classical clinical --study {input.study} "
            "--outcome {input.outcome} --folds {input.folds} --fold {wildcards.fold} "
            "--seed {params.seed} {params.ivim} --out {output.part} --record {output.record}"

    LEDGER_PARTS.append(lambda wc: expand(CLIN_PART, fold=FOLDS))
    MODEL_TARGETS.append(lambda wc: expand(CLIN_RECORD, fold=FOLDS))

    if CLIN.get("staging"):
        STAGING_PART = L.ledger("staging")

        rule score_staging:
            input:
                study=L.study_file("clinical"),
                outcome=L.cohort("outcome.tsv"),
                folds=L.cohort("folds.json"),
            output:
                STAGING_PART,
            params:
                seed=SEED,
            conda:
                "../envs/radiomics.yaml"
            log:
                log_path("score_staging"),
            benchmark:
                L.benchmark("score_staging"),
            shell:
                "hccer --log {log} classical staging --study {input.study} "
                "--outcome {input.outcome} --folds {input.folds} --seed {params.seed} "
                "--out {output}"

        LEDGER_PARTS.append(lambda wc: [STAGING_PART])


if RAD and CLASSICAL:
    RAD_RECORD = L.classical_record("{fold}", CLASSICAL["name"])
    RAD_PART = L.ledger(f"{CLASSICAL['name']}_fold-{{fold}}")
    USES_ICC = any(s["step"] == "icc" for s in CLASSICAL["selection"])

    rule fit_radiomics_model:
        input:
            study=L.study_file("classical"),
            outcome=L.cohort("outcome.tsv"),
            folds=L.cohort("folds.json"),
            features=L.radiomics_table("r1"),
            icc=[L.radiomics_icc()] if USES_ICC else [],
            clinical=[CLIN_RECORD] if CLIN and CLASSICAL.get("combined") else [],
        output:
            part=RAD_PART,
            record=RAD_RECORD,
        params:
            seed=SEED,
            icc=lambda wc, input: f"--icc {input.icc}" if input.icc else "",
            clinical=lambda wc, input: (
                f"--clinical-record {input.clinical}" if input.clinical else ""
            ),
        threads: 1
        resources:
            mem_mb=4000,
            runtime=60,
        conda:
            "../envs/radiomics.yaml"
        log:
            log_path("fit_radiomics_model", "{fold}"),
        benchmark:
            L.benchmark("fit_radiomics_model", "{fold}")
        shell:
            "hccer --log {log} classical radiomics --study {input.study} "
            "--outcome {input.outcome} --folds {input.folds} --fold {wildcards.fold} "
            "--features {input.features} {params.icc} {params.clinical} --seed {params.seed} "
            "--out {output.part} --record {output.record}"

    LEDGER_PARTS.append(lambda wc: expand(RAD_PART, fold=FOLDS))
    MODEL_TARGETS.append(lambda wc: expand(RAD_RECORD, fold=FOLDS))
