# Ingest: triage every patient's DICOM into phases (never failing on bad data), screen the
# cohort, convert the chosen series to NIfTI.

# a stack with slices missing is unusable unless the config allows interpolating the gap
GAPS = "--allow-missing-slices" if config.get("ingest", {}).get("allow_missing_slices") else ""


rule triage_patient:
    input:
        SOURCE_READY,
        study=L.study_file("core"),
    output:
        manifest=L.triage("{pid}", "manifest"),
        status=L.triage("{pid}", "status"),
    params:
        # the root, not the patient's folder: the step finds it by pseudonym, so no site code
        # is on a command line or in Snakemake's metadata
        root=DICOM_ROOT,
        salt_id=SALT_ID,
        masks=MASK_SHEET,
        # not on the command line: changes when this patient's DICOM, masks or override do
        supplied=supplied_digest,
        gaps=GAPS,
        override=(
            f"--override {config['data']['cohort']['manifest_override']}"
            if SOURCE == "cohort" and config["data"]["cohort"].get("manifest_override")
            else ""
        ),
    conda:
        "../envs/imaging.yaml"
    log:
        log_path("triage_patient", "{pid}"),
    benchmark:
        L.benchmark("triage_patient", "{pid}"),
    group:
        "patient_ingest"
    shell:
        "hccer --log {log} triage --dicom-root {params.root} --patient {wildcards.pid} "
        "--study {input.study} --masks {params.masks} "
        "{params.override} {params.gaps} --out-manifest {output.manifest} "
        "--out-status {output.status}"


checkpoint screen_cohort:
    input:
        expand(L.triage("{pid}", "status"), pid=PIDS),
    output:
        table=L.cohort("screen.tsv"),
    conda:
        "../envs/imaging.yaml"
    log:
        log_path("screen_cohort"),
    benchmark:
        L.benchmark("screen_cohort"),
    shell:
        "hccer --log {log} screen --status {input} --out {output.table}"


rule convert_series:
    input:
        status=L.triage("{pid}", "status"),
        screen=L.cohort("screen.tsv"),
    output:
        image=intermediate(L.deriv("{pid}", phase="{phase}", desc="native")),
        sidecar=L.deriv("{pid}", phase="{phase}", desc="native", ext="json"),
        # A diffusion series also yields its b-values, written next to the 4D image.
        **(
            {"bval": L.deriv("{pid}", phase="{phase}", desc="native", ext="bval")}
            if STUDY["modality"] == "DWI"
            else {}
        ),
    params:
        root=DICOM_ROOT,
        gaps=GAPS,
    conda:
        "../envs/imaging.yaml"
    log:
        log_path("convert_series", "{pid}", "{phase}"),
    benchmark:
        L.benchmark("convert_series", "{pid}", "{phase}"),
    group:
        "patient_convert"
    shell:
        "hccer --log {log} convert --dicom-root {params.root} {output.image} "
        "--from-status {input.status} "
        "--phase {wildcards.phase} --patient {wildcards.pid} --sidecar {output.sidecar} "
        "{params.gaps}"
