# Preprocess: resample to isotropic voxels, register every phase rigidly to the reference
# phase (QC-gated), and cut the study's ROI crops.



rule resample_image:
    input:
        L.deriv("{pid}", phase="{phase}", desc="native"),
    output:
        intermediate(L.deriv("{pid}", phase="{phase}", desc="resampled")),
    params:
        interp=config["preprocess"].get("image_interpolation", "linear"),
        spacing=SPACING,
    conda:
        "../envs/imaging.yaml"
    log:
        log_path("resample_image", "{pid}", "{phase}"),
    benchmark:
        L.benchmark("resample_image", "{pid}", "{phase}"),
    group:
        "patient_preprocess"
    shell:
        "hccer --log {log} resample --image {input} --out {output} --spacing {params.spacing} "
        "--interp {params.interp} --patient {wildcards.pid}"


rule resample_mask:
    input:
        SOURCE_READY,
        screen=L.cohort("screen.tsv"),
        # a DICOM-SEG/RTSTRUCT mask is placed on the converted series: its files and grid
        status=L.triage("{pid}", "status"),
        grid=L.deriv("{pid}", phase="{phase}", desc="native", ext="json"),
    output:
        L.deriv("{pid}", phase="{phase}", reader="{reader}", desc="resampled", suffix="mask"),
    params:
        # found by the step from the sheet and the pseudonym: a site's mask path holds its code
        mask_of=f"{MASK_SHEET} {DICOM_ROOT}",
        salt_id=SALT_ID,
        spacing=SPACING,
    conda:
        "../envs/imaging.yaml"
    log:
        log_path("resample_mask", "{pid}", "{phase}", "{reader}"),
    benchmark:
        L.benchmark("resample_mask", "{pid}", "{phase}", "{reader}"),
    group:
        "patient_preprocess"
    shell:
        "hccer --log {log} resample --mask-of {params.mask_of} {wildcards.phase} "
        "{wildcards.reader} --status {input.status} --grid {input.grid} --out {output} "
        "--spacing {params.spacing} --interp label "
        "--patient {wildcards.pid}"


if STUDY["modality"] == "DWI":

    # Resampling moves voxels, not b-values: the bbox3d crop reads them beside its input stack.
    rule copy_bvals:
        input:
            L.deriv("{pid}", phase="{phase}", desc="native", ext="bval"),
        output:
            L.deriv("{pid}", phase="{phase}", desc="resampled", ext="bval"),
        conda:
            "../envs/imaging.yaml"
        log:
            log_path("copy_bvals", "{pid}", "{phase}"),
        benchmark:
            L.benchmark("copy_bvals", "{pid}", "{phase}"),
        group:
            "patient_preprocess"
        shell:
            "cp {input} {output} 2> {log}"


# Two variants of one step: phases with their own tumour mask carry it into the reference
# space (and QC their overlap); phases without one are checked on image similarity alone.
REGISTER_OUTPUTS = dict(
    image=intermediate(L.deriv("{pid}", phase="{phase}", space=REF, desc="registered")),
    transform=L.deriv("{pid}", phase="{phase}", space=REF, desc="rigid", suffix="xfm",
                      ext="mat"),
    qc=L.deriv("{pid}", phase="{phase}", space=REF, desc="registration", suffix="qc",
               ext="json"),
    png=report(
        L.deriv("{pid}", phase="{phase}", space=REF, desc="registration", suffix="qc",
                ext="png"),
        category="QC",
        subcategory="Registration",
        caption="../report/registration_qc.rst",
        labels={"patient": "{pid}", "phase": "{phase}"},
    ),
)
# ANTs gets the configured thread count even when Snakemake lowers `threads` to --cores:
# the count changes the result (see registration.threads in config.yaml)
REGISTER_PARAMS = dict(kind=REG["type"], seed=SEED, min_ncc=REG.get("min_ncc", 0.3),
                       min_dice=REG.get("min_dice", 0.3), threads=REG.get("threads", 1))
REGISTER_CMD = (
    "hccer --log {log} register --fixed {input.fixed} --moving {input.moving} "
    "--fixed-mask {input.fixed_mask} --out-image {output.image} "
    "--out-transform {output.transform} --qc {output.qc} --qc-png {output.png} "
    "--type {params.kind} --threads {params.threads} --seed {params.seed} "
    "--min-ncc {params.min_ncc} --min-dice {params.min_dice} "
    "--patient {wildcards.pid} --phase {wildcards.phase}"
)


if masked_moving_phases():

    rule register_phase_masked:
        input:
            fixed=L.deriv("{pid}", phase=REF, desc="resampled"),
            moving=L.deriv("{pid}", phase="{phase}", desc="resampled"),
            fixed_mask=L.deriv("{pid}", phase=REF, reader="r1", desc="resampled",
                               suffix="mask"),
            moving_mask=L.deriv("{pid}", phase="{phase}", reader="r1", desc="resampled",
                                suffix="mask"),
        output:
            **REGISTER_OUTPUTS,
            mask=L.deriv("{pid}", phase="{phase}", reader="r1", space=REF,
                         desc="registered", suffix="mask"),
        wildcard_constraints:
            phase="|".join(masked_moving_phases()),
        params:
            **REGISTER_PARAMS,
        threads: REG.get("threads", 1)
        group:
            "patient_register"
        resources:
            mem_mb=config.get("resources", {}).get("register_mem_mb", 4000),
        conda:
            "../envs/imaging.yaml"
        log:
            log_path("register_phase", "{pid}", "{phase}"),
        benchmark:
            L.benchmark("register_phase", "{pid}", "{phase}")
        shell:
            " ".join([REGISTER_CMD, "--moving-mask {input.moving_mask} --out-mask {output.mask}"])


if unmasked_moving_phases():

    rule register_phase:
        input:
            fixed=L.deriv("{pid}", phase=REF, desc="resampled"),
            moving=L.deriv("{pid}", phase="{phase}", desc="resampled"),
            fixed_mask=L.deriv("{pid}", phase=REF, reader="r1", desc="resampled",
                               suffix="mask"),
        output:
            **REGISTER_OUTPUTS,
        wildcard_constraints:
            phase="|".join(unmasked_moving_phases()),
        params:
            **REGISTER_PARAMS,
        threads: REG.get("threads", 1)
        group:
            "patient_register"
        resources:
            mem_mb=config.get("resources", {}).get("register_mem_mb", 4000),
        conda:
            "../envs/imaging.yaml"
        log:
            log_path("register_phase", "{pid}", "{phase}"),
        benchmark:
            L.benchmark("register_phase", "{pid}", "{phase}")
        shell:
            REGISTER_CMD


checkpoint gate_registration:
    input:
        screen=L.cohort("screen.tsv"),
        qc=lambda wc: [
            L.deriv(pid, phase=ph, space=REF, desc="registration", suffix="qc", ext="json")
            for pid in screened_pids()
            for ph in moving_phases()
        ],
    output:
        L.qc("registration_gate.tsv"),
    conda:
        "../envs/imaging.yaml"
    log:
        log_path("gate_registration"),
    benchmark:
        L.benchmark("gate_registration"),
    shell:
        "hccer --log {log} gate --patients {input.screen} --qc {input.qc} --out {output}"


rule crop_patient:
    input:
        unpack(crop_input_files),
    output:
        arrays=L.crop("{pid}", STUDY["crop"]["mode"], "npz"),
        meta=L.crop("{pid}", STUDY["crop"]["mode"], "json"),
        png=L.crop("{pid}", STUDY["crop"]["mode"], "png"),
    params:
        pairs=lambda wc: " ".join(
            [f"--image {k}={v}" for k, v in crop_inputs(wc)["images"].items()]
            + [f"--mask {k}={v}" for k, v in crop_inputs(wc)["masks"].items()]
        ),
    conda:
        "../envs/imaging.yaml"
    log:
        log_path("crop_patient", "{pid}"),
    benchmark:
        L.benchmark("crop_patient", "{pid}"),
    group:
        "patient_crop"
    shell:
        "hccer --log {log} crop --study {input.study} --patient {wildcards.pid} "
        "{params.pairs} --out {output.arrays} --meta {output.meta} --qc-png {output.png}"
