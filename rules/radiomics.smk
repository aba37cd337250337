# Radiomics features: per-patient extraction jobs, one feature table per reader and the
# inter-reader ICC (the classical models that read them are in rules/classical.smk).

from hccer.radiomics.rules import case_files, extraction_inputs, second_read_pids


if RAD:
    RAD_PARAMS = os.path.join(workflow.basedir, "config", "radiomics", f"{RAD['params']}.yaml")
    RAD_CASE = L.radiomics_case("{pid}", "{phase}", "{reader}")
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
            L.radiomics_table("{reader}"),
        params:
            expect=RAD["features_per_phase"],
        conda:
            "../envs/radiomics.yaml"
        log:
            log_path("tabulate_radiomics", "{reader}"),
        benchmark:
            L.benchmark("tabulate_radiomics", "{reader}"),
        shell:
            "hccer --log {log} radiomics table --inputs {input} --expect {params.expect} "
            "--out {output}"

    if ICC_READERS:

        rule compute_radiomics_icc:
            input:
                first=L.radiomics_table(ICC_READERS[0]),
                second=L.radiomics_table(ICC_READERS[1]),
            output:
                L.radiomics_icc(),
            conda:
                "../envs/radiomics.yaml"
            log:
                log_path("compute_radiomics_icc"),
            benchmark:
                L.benchmark("compute_radiomics_icc"),
            shell:
                "hccer --log {log} radiomics icc --first {input.first} --second {input.second} "
                "--out {output}"
