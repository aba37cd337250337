# IVIM vision transformers (seed-003 §4-5): map crops on the b-value crop's box, one ViT per
# (experiment, inner fold, seed), CLS features from the best fold model, the bDL / mDL / fDL
# logistic models, the LASSO combined model and the permutation control (one ledger part per
# seed), Grad-CAM of the b-value ViT on b = 1000.
# A killed training job resumes from `resume-<member>.pt` in its folder (not a declared output, so
# Snakemake keeps it when a job fails); the job deletes it once its outputs are written.

if STUDY.get("vit"):
    from hccer.dl import experiments as vitx
    from hccer.ivimvit import config as ivim_config

    VIT = ivim_config.block(STUDY)
    VIT_DEEP = STUDY.get("deep") or {}
    VIT_RES = VIT_DEEP.get("resources") or {}
    VIT_THREADS = VIT_RES.get("threads", 2)   # fixed, not lowered by --cores (see train.smk)
    VIT_SEEDS = [int(s) for s in VIT_DEEP.get("seeds", [0])]
    VIT_EXPS = ivim_config.experiments_of(VIT)
    VIT_CROP = {e: ivim_config.crop_mode(vitx.resolve(VIT_DEEP, e)) for e in VIT_EXPS}
    VIT_INNER = list(range(int(STUDY["split"]["inner_folds"])))
    VIT_JOB = L.vit_job("{vit}", "{inner}", "{seed}")
    VIT_FEATURES = L.vit_features("{vit}", "{seed}")
    VIT_EXTRACTOR = L.vit_extractor("{vit}", "{seed}")
    VIT_RECORD = L.vit_record("{seed}")
    VIT_PART = L.ledger("vit_models_seed-{seed}")
    VIT_CAM = L.vit_gradcam(VIT["extractors"]["bdl"], "{seed}")
    # the clinical model's record names the combined model's clinical predictors
    VIT_CLIN_RECORD = L.classical_record(0, CLIN["name"]) if CLIN else None
    VIT_PERM = VIT.get("permutation") or {}

    wildcard_constraints:
        vit="|".join(VIT_EXPS),
        inner="[0-9]+",

    # path patterns over the rules' wildcards ({vit}, {seed}); the crops an experiment reads
    VIT_JOBS = [VIT_JOB.replace("{inner}", str(k)) for k in VIT_INNER]
    VIT_CROPS = lambda wc: [L.crop(pid, VIT_CROP[wc.vit], "npz") for pid in gated_pids()]
    VIT_BDL_JOBS = [j.replace("{vit}", VIT["extractors"]["bdl"]) for j in VIT_JOBS]
    VIT_ROLE_FEATURES = {
        (role, perm): VIT_FEATURES.replace("{vit}", table[role])
        for perm, table in ((False, VIT["extractors"]), (True, VIT_PERM))
        for role in table
    }
    # the b-value ViT's Grad-CAM stands for its ledger model in the paper's figures
    GRADCAM_DIRS[ivim_config.MODEL_NAMES["bdl"]] = [VIT_CAM.format(seed=s) for s in VIT_SEEDS]

    rule crop_ivim_maps:
        input:
            adc=ivim_map("{pid}", "ADC"),
            d=ivim_map("{pid}", "D"),
            dstar=ivim_map("{pid}", "Dstar"),
            f=ivim_map("{pid}", "f"),
            mask=L.deriv("{pid}", phase=IVIM_PHASE, reader="r1", desc="resampled",
                         suffix="mask"),
            box=L.crop("{pid}", "bbox3d", "json"),
            study=L.study_file("vit"),
        output:
            arrays=L.crop("{pid}", "ivimmaps", "npz"),
            meta=L.crop("{pid}", "ivimmaps", "json"),
            png=L.crop("{pid}", "ivimmaps", "png"),
        params:
            spacing=SPACING,
            interp=config["preprocess"].get("image_interpolation", "linear"),
        conda:
            "../envs/imaging.yaml"
        log:
            log_path("crop_ivim_maps", "{pid}"),
        benchmark:
            L.benchmark("crop_ivim_maps", "{pid}"),
        group:
            "patient_crop"
        shell:
            "hccer --log {log} vit crop-maps --study {input.study} --patient {wildcards.pid} "
            "--map ADC={input.adc} --map D={input.d} --map Dstar={input.dstar} "
            "--map f={input.f} --mask {input.mask} --box {input.box} "
            "--spacing {params.spacing} --interp {params.interp} --out {output.arrays} "
            "--meta {output.meta} --qc-png {output.png}"

    rule train_vit:
        input:
            study=L.study_file("vit"),
            folds=L.cohort("folds.json"),
            crops=VIT_CROPS,
        output:
            checkpoint=os.path.join(VIT_JOB, "checkpoint.pt"),
            history=os.path.join(VIT_JOB, "history.tsv"),
            summary=os.path.join(VIT_JOB, "summary.json"),
            curves=report(
                os.path.join(VIT_JOB, "curves.png"),
                category="Training",
                subcategory="{vit}",
                caption="../report/train_curves.rst",
                labels={"experiment": "{vit}", "inner fold": "{inner}", "seed": "{seed}"},
            ),
        params:
            out_dir=VIT_JOB,
            base_seed=SEED,
            device=VIT_DEEP.get("device", "auto"),
            threads=VIT_THREADS,
        threads: VIT_THREADS
        resources:
            mem_mb=VIT_RES.get("mem_mb", 8000),
            runtime=VIT_RES.get("runtime", 720),
            gpu=VIT_RES.get("gpu", 1),
        conda:
            "../envs/torch.yaml"
        log:
            log_path("train_vit", "{vit}", "inner-{inner}", "seed-{seed}"),
        benchmark:
            L.benchmark("train_vit", "{vit}", "inner-{inner}", "seed-{seed}")
        shell:
            "hccer --log {log} vit train --study {input.study} --experiment {wildcards.vit} "
            "--inner {wildcards.inner} --seed {wildcards.seed} --base-seed {params.base_seed} "
            "--folds {input.folds} --crops {input.crops} --out-dir {params.out_dir} "
            "--device {params.device} --threads {params.threads}"

    rule extract_vit_features:
        input:
            summaries=[os.path.join(j, "summary.json") for j in VIT_JOBS],
            checkpoints=[os.path.join(j, "checkpoint.pt") for j in VIT_JOBS],
            folds=L.cohort("folds.json"),
            crops=VIT_CROPS,
        output:
            features=VIT_FEATURES,
            record=VIT_EXTRACTOR,
        params:
            device=VIT_DEEP.get("device", "auto"),
            threads=VIT_THREADS,
        threads: VIT_THREADS
        resources:
            mem_mb=VIT_RES.get("mem_mb", 8000),
            runtime=60,
            gpu=VIT_RES.get("gpu", 1),
        conda:
            "../envs/torch.yaml"
        log:
            log_path("extract_vit_features", "{vit}", "seed-{seed}"),
        benchmark:
            L.benchmark("extract_vit_features", "{vit}", "seed-{seed}"),
        shell:
            "hccer --log {log} vit features --experiment {wildcards.vit} --seed {wildcards.seed} "
            "--summaries {input.summaries} --crops {input.crops} --folds {input.folds} "
            "--out {output.features} --record {output.record} --device {params.device} "
            "--threads {params.threads}"

    rule fit_vit_models:
        input:
            study=L.study_file("vit"),
            bdl=VIT_ROLE_FEATURES["bdl", False],
            mdl=VIT_ROLE_FEATURES["mdl", False],
            perm_bdl=[VIT_ROLE_FEATURES["bdl", True]] if VIT_PERM else [],
            perm_mdl=[VIT_ROLE_FEATURES["mdl", True]] if VIT_PERM else [],
            extractors=[VIT_EXTRACTOR.replace("{vit}", e) for e in VIT["extractors"].values()],
            outcome=L.cohort("outcome.tsv"),
            folds=L.cohort("folds.json"),
            ivim=L.cohort("ivim_features.tsv"),
            clinical=[VIT_CLIN_RECORD] if VIT_CLIN_RECORD else [],
        output:
            part=VIT_PART,
            record=VIT_RECORD,
        params:
            base_seed=SEED,
            perm=lambda wc, input: (
                f"--perm-bdl {input.perm_bdl} --perm-mdl {input.perm_mdl}" if input.perm_bdl else ""
            ),
            clinical=lambda wc, input: (
                f"--clinical-record {input.clinical}" if input.clinical else ""
            ),
        threads: 1
        resources:
            mem_mb=4000,
            runtime=30,
        conda:
            "../envs/radiomics.yaml"
        log:
            log_path("fit_vit_models", "seed-{seed}"),
        benchmark:
            L.benchmark("fit_vit_models", "seed-{seed}")
        shell:
            "hccer --log {log} vit fit --study {input.study} --bdl {input.bdl} "
            "--mdl {input.mdl} {params.perm} --extractors {input.extractors} "
            "--outcome {input.outcome} --folds {input.folds} --ivim {input.ivim} "
            "{params.clinical} --seed {wildcards.seed} --base-seed {params.base_seed} "
            "--out {output.part} --record {output.record}"

    rule explain_vit:
        input:
            study=L.study_file("vit"),
            extractor=VIT_EXTRACTOR.replace("{vit}", VIT["extractors"]["bdl"]),
            checkpoints=[os.path.join(j, "checkpoint.pt") for j in VIT_BDL_JOBS],
            crops=lambda wc: [L.crop(pid, "bbox3d", "npz") for pid in gated_pids()],
            map_crops=lambda wc: [L.crop(pid, "ivimmaps", "npz") for pid in gated_pids()],
            folds=L.cohort("folds.json"),
        output:
            directory(VIT_CAM),
        params:
            threads=VIT_THREADS,
        threads: VIT_THREADS
        resources:
            mem_mb=VIT_RES.get("mem_mb", 8000),
            runtime=60,
        conda:
            "../envs/torch.yaml"
        log:
            log_path("explain_vit", "seed-{seed}"),
        benchmark:
            L.benchmark("explain_vit", "seed-{seed}")
        shell:
            "hccer --log {log} vit explain --study {input.study} --extractor {input.extractor} "
            "--crops {input.crops} --map-crops {input.map_crops} --folds {input.folds} "
            "--out-dir {output} --threads {params.threads}"

    LEDGER_PARTS.append(lambda wc: [VIT_PART.format(seed=s) for s in VIT_SEEDS])
    MODEL_TARGETS.append(
        lambda wc: [VIT_RECORD.format(seed=s) for s in VIT_SEEDS]
        + [VIT_CAM.format(seed=s) for s in VIT_SEEDS]
        + [
            os.path.join(VIT_JOB.format(vit=e, inner=k, seed=s), "curves.png")
            for e in VIT_EXPS
            for k in VIT_INNER
            for s in VIT_SEEDS
        ]
    )
