# Preprocess: resample to isotropic voxels, register every phase rigidly to the reference
# phase (QC-gated), and cut the study's ROI crops.

SPACING = " ".join(str(s) for s in config["preprocess"]["spacing_mm"])
REG = config["registration"]
IS_DWI = STUDY["modality"] == "DWI"


rule resample_image:
    input:
        L.deriv("{pid}", phase="{phase}", desc="native"),
    output:
        L.deriv("{pid}", phase="{phase}", desc="resampled"),
    params:
        interp=config["preprocess"].get("image_interpolation", "linear"),
    log:
        log_path("resample_image", "{pid}", "{phase}"),
    group:
        "patient_preprocess"
    shell:
        "hccer --log {log} resample --image {input} --out {output} --spacing {SPACING} "
        "--interp {params.interp} --patient {wildcards.pid}"


rule resample_mask:
    input:
        SOURCE_READY,
        screen=L.cohort("screen.tsv"),
    output:
        L.deriv("{pid}", phase="{phase}", reader="{reader}", desc="resampled", suffix="mask"),
    params:
        mask=lambda wc: mask_path(wc.pid, wc.phase, wc.reader),
    log:
        log_path("resample_mask", "{pid}", "{phase}", "{reader}"),
    group:
        "patient_preprocess"
    shell:
        "hccer --log {log} resample --image {params.mask} --out {output} --spacing {SPACING} "
        "--interp label --patient {wildcards.pid}"


def moving_mask(wc):
    if wc.phase in MASK_PHASES:
        return L.deriv(wc.pid, phase=wc.phase, reader="r1", desc="resampled", suffix="mask")
    return []


rule register_phase:
    input:
        fixed=L.deriv("{pid}", phase=REF, desc="resampled"),
        moving=L.deriv("{pid}", phase="{phase}", desc="resampled"),
        fixed_mask=L.deriv("{pid}", phase=REF, reader="r1", desc="resampled", suffix="mask"),
        moving_mask=moving_mask,
    output:
        image=L.deriv("{pid}", phase="{phase}", space=REF, desc="registered"),
        mask=L.deriv("{pid}", phase="{phase}", reader="r1", space=REF, desc="registered",
                     suffix="mask"),
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
    params:
        moving_mask=lambda wc, input: (
            f"--moving-mask {input.moving_mask}" if input.moving_mask else
            f"--moving-mask {input.fixed_mask}"
        ),
        kind=REG["type"],
        min_ncc=REG.get("min_ncc", 0.3),
        min_dice=REG.get("min_dice", 0.3),
    threads: REG.get("threads", 2)
    resources:
        mem_mb=config.get("resources", {}).get("register_mem_mb", 4000),
    log:
        log_path("register_phase", "{pid}", "{phase}"),
    benchmark:
        L.benchmark("register_phase", "{pid}", "{phase}")
    shell:
        "hccer --log {log} register --fixed {input.fixed} --moving {input.moving} "
        "--fixed-mask {input.fixed_mask} {params.moving_mask} --out-image {output.image} "
        "--out-mask {output.mask} --out-transform {output.transform} --qc {output.qc} "
        "--qc-png {output.png} --type {params.kind} --threads {threads} --seed {SEED} "
        "--min-ncc {params.min_ncc} --min-dice {params.min_dice} "
        "--patient {wildcards.pid} --phase {wildcards.phase}"


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
    log:
        log_path("gate_registration"),
    shell:
        "hccer --log {log} gate --patients {input.screen} --qc {input.qc} --out {output}"


def crop_inputs(wc):
    images, masks = {}, {}
    for ph in PHASES:
        if ph == REF:
            images[ph] = L.deriv(wc.pid, phase=ph, desc="resampled")
            masks[ph] = L.deriv(wc.pid, phase=ph, reader="r1", desc="resampled", suffix="mask")
        else:
            images[ph] = L.deriv(wc.pid, phase=ph, space=REF, desc="registered")
            if ph in MASK_PHASES:
                masks[ph] = L.deriv(wc.pid, phase=ph, reader="r1", space=REF,
                                    desc="registered", suffix="mask")
    return {"images": images, "masks": masks}


rule crop_patient:
    input:
        unpack(lambda wc: {f"image_{k}": v for k, v in crop_inputs(wc)["images"].items()}),
        unpack(lambda wc: {f"mask_{k}": v for k, v in crop_inputs(wc)["masks"].items()}),
    output:
        arrays=L.crop("{pid}", STUDY["crop"]["mode"], "npz"),
        meta=L.crop("{pid}", STUDY["crop"]["mode"], "json"),
        png=L.crop("{pid}", STUDY["crop"]["mode"], "png"),
    params:
        pairs=lambda wc: " ".join(
            [f"--image {k}={v}" for k, v in crop_inputs(wc)["images"].items()]
            + [f"--mask {k}={v}" for k, v in crop_inputs(wc)["masks"].items()]
        ),
        study=f"config/studies/{KEY}.yaml",
    log:
        log_path("crop_patient", "{pid}"),
    group:
        "patient_preprocess"
    shell:
        "hccer --log {log} crop --study {params.study} --patient {wildcards.pid} "
        "{params.pairs} --out {output.arrays} --meta {output.meta} --qc-png {output.png}"
