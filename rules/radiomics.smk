# Radiomics, clinical and classical-ML models: per-patient extraction jobs, then per-fold model
# jobs writing ledger parts (out-of-fold test rows; apparent training rows for hold-out designs).

from hccer.radiomics.rules import case_files, extraction_inputs, outer_folds, second_read_pids

RAD = STUDY.get("radiomics")
CLIN = STUDY.get("clinical")
CLASSICAL = STUDY.get("classical")
RAD_DIR = f"{L.root}/radiomics"
CLASSICAL_DIR = f"{L.root}/models/classical"
FOLDS = outer_folds(STUDY["split"])


if RAD:
    RAD_PARAMS = os.path.join(workflow.basedir, "config", "radiomics", f"{RAD['params']}.yaml")
    RAD_CASE = f"{RAD_DIR}/sub-{{pid}}/sub-{{pid}}_phase-{{phase}}_reader-{{reader}}_features.csv"
    RAD_TABLE = f"{RAD_DIR}/features_reader-{{reader}}.tsv"
    RAD_ICC = f"{RAD_DIR}/icc.tsv"
    ICC_READERS = RAD.get("icc_readers", [])

    rule extract_radiomics:
        input:
            unpack(lambda wc: extraction_inputs(L, RAD["mode"], REF, wc.pid, wc.phase,
                                                wc.reader)),
            params=RAD_PARAMS,
        output:
            RAD_CASE,
        params:
            slices=(
                lambda wc, input: f"--slices-from {input.mask} --neighbours {RAD.get('neighbours', 0)}"
                if RAD["mode"] == "slices2d"
                else ""
            ),
            expect=RAD["features_per_phase"],
        threads: 1
        resources:
            mem_mb=3000,
            runtime=30,
        conda:
            "../envs/radiomics.yaml"
        log:
            log_path("extract_radiomics", "{pid}", "{phase}", "{reader}"),
        benchmark:
            L.benchmark("extract_radiomics", "{pid}", "{phase}", "{reader}")
        shell:
            "hccer --log {log} radiomics extract --image {input.image} --mask {input.mask} "
            "--params {input.params} --out {output} --patient {wildcards.pid} "
            "--phase {wildcards.phase} --reader {wildcards.reader} --expect {params.expect} "
            "{params.slices}"

    rule tabulate_radiomics:
        input:
            lambda wc: case_files(
                RAD_CASE,
                gated_pids() if wc.reader == "r1"
                else second_read_pids(sorted(gated_pids()), mask_path, wc.reader, MASK_PHASES,
                                      RAD.get("icc_patients"), SEED),
                PHASES, wc.reader),
        output:
            RAD_TABLE,
        params:
            expect=RAD["features_per_phase"],
        conda:
            "../envs/radiomics.yaml"
        log:
            log_path("tabulate_radiomics", "{reader}"),
        shell:
            "hccer --log {log} radiomics table --inputs {input} --expect {params.expect} "
            "--out {output}"

    if ICC_READERS:

        rule compute_radiomics_icc:
            input:
                first=RAD_TABLE.format(reader=ICC_READERS[0]),
                second=RAD_TABLE.format(reader=ICC_READERS[1]),
            output:
                RAD_ICC,
            conda:
                "../envs/radiomics.yaml"
            log:
                log_path("compute_radiomics_icc"),
            shell:
                "hccer --log {log} radiomics icc --first {input.first} --second {input.second} "
                "--out {output}"


if CLIN:
    CLIN_RECORD = f"{CLASSICAL_DIR}/fold-{{fold}}_{CLIN['name']}.json"
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
            shell:
                "hccer --log {log} classical staging --study {input.study} "
                "--outcome {input.outcome} --folds {input.folds} --seed {params.seed} "
                "--out {output}"

        LEDGER_PARTS.append(lambda wc: [STAGING_PART])


if RAD and CLASSICAL:
    RAD_RECORD = f"{CLASSICAL_DIR}/fold-{{fold}}_{CLASSICAL['name']}.json"
    RAD_PART = L.ledger(f"{CLASSICAL['name']}_fold-{{fold}}")
    USES_ICC = any(s["step"] == "icc" for s in CLASSICAL["selection"])

    rule fit_radiomics_model:
        input:
            study=L.study_file("classical"),
            outcome=L.cohort("outcome.tsv"),
            folds=L.cohort("folds.json"),
            features=RAD_TABLE.format(reader="r1"),
            icc=[RAD_ICC] if USES_ICC else [],
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
