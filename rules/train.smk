# Deep-learning training: one job per (experiment, fold, seed), checkpoints, ledger parts.
# A killed job resumes from `resume-<member>.pt` in its model folder: that per-epoch file is
# deliberately not a declared output, so Snakemake keeps it when a job fails and the rerun
# continues where it stopped; the job deletes it once the declared outputs are written.

from hccer.dl import experiments as dlx
from hccer.paper.rules import gradcam_dirs
from hccer.radiomics.rules import second_read_pids

DEEP = STUDY.get("deep") or {}
DEEP_RES = DEEP.get("resources") or {}
# torch's CPU thread count changes the arithmetic, so a job uses the configured count even when
# Snakemake lowers `threads` to a smaller --cores: same config and seed, same models
DEEP_THREADS = DEEP_RES.get("threads", 2)
DEEP_JOBS = dlx.jobs(STUDY)
DEEP_CAM = [j for j in DEEP_JOBS if dlx.resolve(DEEP, j[0]).get("gradcam")]
MODEL_DIR = dlx.model_dir(L.root, "{experiment}", "{fold}", "{seed}")
# the classical track's outputs that tabular experiments (DLRCR) read; None: not made here
DEEP_TABULAR = {
    "radiomics_features": L.radiomics_table("r1") if RAD and CLASSICAL else None,
    "radiomics_record": (
        L.classical_record("{fold}", CLASSICAL["name"]) if RAD and CLASSICAL else None
    ),
    "clinical_record": L.classical_record("{fold}", CLIN["name"]) if CLIN else None,
}
# the paper's Grad-CAM figures find these jobs' maps by experiment name
GRADCAM_DIRS.update(gradcam_dirs(L.root, DEEP_CAM))

if DEEP_JOBS:
    LEDGER_PARTS.append(lambda wc: [L.ledger(dlx.ledger_part(*j)) for j in DEEP_JOBS])
    MODEL_TARGETS.append(
        lambda wc: [os.path.join(dlx.model_dir(L.root, *j), "curves.png") for j in DEEP_JOBS]
        + [os.path.join(dlx.model_dir(L.root, *j), "gradcam") for j in DEEP_CAM]
    )


wildcard_constraints:
    experiment="|".join(sorted({j[0] for j in DEEP_JOBS})) or "(?!)",


rule train_model:
    input:
        # tabular experiments: classical records; init_from: the candidates' jobs (else none)
        unpack(
            lambda wc: dlx.extra_inputs(DEEP, wc.experiment, wc.fold, wc.seed, L.root, DEEP_TABULAR)
        ),
        study=L.study_file("deep"),
        folds=L.cohort("folds.json"),
        outcome=L.cohort("outcome.tsv"),
        crops=lambda wc: [L.crop(pid, STUDY["crop"]["mode"], "npz") for pid in gated_pids()],
    output:
        checkpoint=os.path.join(MODEL_DIR, "checkpoint.pt"),
        history=os.path.join(MODEL_DIR, "history.tsv"),
        summary=os.path.join(MODEL_DIR, "summary.json"),
        curves=report(
            os.path.join(MODEL_DIR, "curves.png"),
            category="Training",
            subcategory="{experiment}",
            caption="../report/train_curves.rst",
            labels={"experiment": "{experiment}", "fold": "{fold}", "seed": "{seed}"},
        ),
        ledger=L.ledger(dlx.ledger_part("{experiment}", "{fold}", "{seed}")),
    params:
        out_dir=MODEL_DIR,
        base_seed=SEED,
        threads=DEEP_THREADS,
        device=DEEP.get("device", "auto"),
        extra=lambda wc: dlx.extra_args(
            dlx.extra_inputs(DEEP, wc.experiment, wc.fold, wc.seed, L.root, DEEP_TABULAR)
        ),
    threads: DEEP_THREADS
    resources:
        mem_mb=DEEP_RES.get("mem_mb", 8000),
        runtime=DEEP_RES.get("runtime", 720),
        gpu=DEEP_RES.get("gpu", 1),
    conda:
        "../envs/torch.yaml"
    log:
        log_path("train_model", "{experiment}", "fold-{fold}", "seed-{seed}"),
    benchmark:
        L.benchmark("train_model", "{experiment}", "fold-{fold}", "seed-{seed}")
    shell:
        "hccer --log {log} train --study {input.study} --experiment {wildcards.experiment} "
        "--fold {wildcards.fold} --seed {wildcards.seed} --base-seed {params.base_seed} "
        "--folds {input.folds} --outcome {input.outcome} --crops {input.crops} "
        "--out-dir {params.out_dir} --ledger {output.ledger} --device {params.device} "
        "--threads {params.threads} {params.extra}"


rule explain_model:
    input:
        checkpoint=os.path.join(MODEL_DIR, "checkpoint.pt"),
        folds=L.cohort("folds.json"),
        crops=lambda wc: [L.crop(pid, STUDY["crop"]["mode"], "npz") for pid in gated_pids()],
    output:
        directory(os.path.join(MODEL_DIR, "gradcam")),
    params:
        threads=DEEP_THREADS,
    threads: DEEP_THREADS
    resources:
        mem_mb=DEEP_RES.get("mem_mb", 8000),
        runtime=60,
    conda:
        "../envs/torch.yaml"
    log:
        log_path("explain_model", "{experiment}", "fold-{fold}", "seed-{seed}"),
    benchmark:
        L.benchmark("explain_model", "{experiment}", "fold-{fold}", "seed-{seed}")
    shell:
        "hccer --log {log} gradcam --checkpoint {input.checkpoint} --folds {input.folds} "
        "--crops {input.crops} --out-dir {output} --threads {params.threads}"


# Second reader (ct_3dcnn Suppl. Fig. S1): the trained networks of `deep.second_reader` score
# the test patients again on crops cut with the second reader's masks (ledger <exp>_r2).
RESCORE = [e for e in DEEP.get("second_reader") or [] if STUDY.get("second_reader")]
RESCORE_JOBS = [j for j in DEEP_JOBS if j[0] in RESCORE]
if RESCORE_JOBS:
    if list(MASK_PHASES) != [REF]:
        raise ValueError("deep.second_reader needs masks on the reference phase only (other "
                         "phases' second-reader masks would need their own registration)")
    R2_MODE = STUDY["crop"]["mode"] + "R2"
    R2_PIDS = lambda: second_read_pids(sorted(gated_pids()), mask_path, "r2", [REF])
    LEDGER_PARTS.append(
        lambda wc: [L.ledger(dlx.ledger_part(f"{j[0]}_r2", j[1], j[2])) for j in RESCORE_JOBS]
    )

    rule crop_patient_second_reader:
        input:
            study=L.study_file("crop"),
            image=L.deriv("{pid}", phase=REF, desc="resampled"),
            mask=L.deriv("{pid}", phase=REF, reader="r2", desc="resampled", suffix="mask"),
        output:
            arrays=L.crop("{pid}", R2_MODE, "npz"),
            meta=L.crop("{pid}", R2_MODE, "json"),
        params:
            phase=REF,
        conda:
            "../envs/imaging.yaml"
        log:
            log_path("crop_patient_second_reader", "{pid}"),
        benchmark:
            L.benchmark("crop_patient_second_reader", "{pid}"),
        shell:
            "hccer --log {log} crop --study {input.study} --patient {wildcards.pid} "
            "--image {params.phase}={input.image} --mask {params.phase}={input.mask} "
            "--out {output.arrays} --meta {output.meta}"

    rule rescore_second_reader:
        input:
            checkpoint=os.path.join(MODEL_DIR, "checkpoint.pt"),
            folds=L.cohort("folds.json"),
            outcome=L.cohort("outcome.tsv"),
            crops=lambda wc: [L.crop(pid, R2_MODE, "npz") for pid in R2_PIDS()],
        output:
            ledger=L.ledger(dlx.ledger_part("{experiment}_r2", "{fold}", "{seed}")),
        params:
            device=DEEP.get("device", "auto"),
            threads=DEEP_THREADS,
        threads: DEEP_THREADS
        resources:
            mem_mb=DEEP_RES.get("mem_mb", 8000),
            runtime=60,
        conda:
            "../envs/torch.yaml"
        log:
            log_path("rescore_second_reader", "{experiment}", "fold-{fold}", "seed-{seed}"),
        benchmark:
            L.benchmark("rescore_second_reader", "{experiment}", "fold-{fold}", "seed-{seed}"),
        shell:
            "hccer --log {log} rescore --checkpoint {input.checkpoint} --folds {input.folds} "
            "--outcome {input.outcome} --crops {input.crops} --model {wildcards.experiment}_r2 "
            "--ledger {output.ledger} --device {params.device} --threads {params.threads}"
