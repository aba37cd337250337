"""One training job = (experiment, outer fold, seed): read the declared split and the crops,
train on the fold's training side only, score the held-out side, write checkpoint, history,
curve figure, summary and the ledger part.

Cross-validation presets score the outer test fold (ledger cohort `test`, with the fold).
Hold-out presets with `ensemble: inner_folds` train one member per inner fold (early stopping
on that fold's validation patients, never the test set) and score train (cohort `train`,
apparent) and test with the mean member probability; `ensemble: inner_holdout` trains one
model on inner fold 0's training side, early-stopped on its validation side (with k inner
folds a stratified 1/k of the training cohort). Either records `inner_val_auc`, the AUC of the
early-stopped weights on the inner validation patients: a training-data-only criterion.
Experiments may add tabular inputs (`tabular`, see `hccer.dl.tabular`) and start their trunk
from the best of other trained experiments (`init_from`, see `hccer.dl.warmstart`).
The public steps (`experiment_config`, `train_config`, `build_model`, `train_members`,
`write_outputs`) also run the IVIM ViT inner-fold jobs (`hccer.ivimvit.train`).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd

from hccer.cohort.split import outer_fold
from hccer.errors import ConfigError, InputError

log = logging.getLogger(__name__)


def train_config(cfg: dict):
    """The training loop's settings from a resolved experiment (its enums were checked by the
    study schema, which tests keep equal to the loop's own lists)."""
    from hccer.dl.train import TrainConfig

    return TrainConfig(epochs=int(cfg["epochs"]), batch_size=int(cfg["batch_size"]),
                       lr=float(cfg["lr"]), weight_decay=float(cfg["weight_decay"]),
                       optimizer=cfg["optimizer"], momentum=float(cfg["momentum"]),
                       augment=cfg["augment"], class_weights=cfg["class_weights"],
                       joint_weights=tuple(cfg["joint_weights"]),
                       early_stopping=cfg["early_stopping"], amp=bool(cfg["amp"]))


def channels_for(study: dict, cfg: dict) -> list[int] | None:
    """Indices into the crop's phase axis of the phases the experiment reads."""
    wanted = (cfg.get("input") or {}).get("phases")
    if not wanted:
        return None
    have = (list(study.get("phases", [])) if study["crop"]["mode"] == "slices2d"
            else list(study.get("model_phases", study.get("phases", []))))
    missing = [p for p in wanted if p not in have]
    if missing:
        raise ConfigError(f"deep: experiment {cfg['name']} reads phase(s) {missing} that the "
                          f"crops do not hold ({have})")
    return [have.index(p) for p in wanted]


def build_model(cfg: dict, x_shape: tuple, seed: int, clinical_dim: int | None = None):
    """The network with its initial weights drawn from `seed` (and pretrained trunks);
    `clinical_dim` is the width of a data-derived tabular input."""
    import torch

    from hccer.dl import networks
    from hccer.dl.resnet import load_pretrained

    torch.manual_seed(seed)
    if clinical_dim is not None and "clinical_dim" in (cfg.get("net") or {}):
        raise ConfigError(f"deep: {cfg['name']} reads tabular inputs, whose width sets "
                          "clinical_dim; remove net.clinical_dim")
    model = networks.build_for(cfg, x_shape, clinical_dim)
    digests = []
    if cfg.get("pretrained"):
        trunks = model.trunks() if hasattr(model, "trunks") else []
        if not trunks:
            raise ConfigError(f"deep: network {cfg['network']} takes no pretrained weights")
        digests = [load_pretrained(t, cfg["pretrained"]) for t in trunks]
    return model, (digests[0] if digests else None)


def permuted_training_labels(train: list[str], er: dict[str, int], members: list,
                             seed: int) -> dict[str, int]:
    """The permutation control's training labels: shuffled within blocks, each member's
    early-stopping validation patients one block and the remaining training patients another.
    A shuffle over the whole training set can leave a small validation set with one class, whose
    AUC is undefined; within blocks every validation set keeps its class counts, while the images
    still lose their labels. Without validation sets this is one shuffle of the whole set."""
    from hccer.permutation import DEEP_STREAM, permuted_in_blocks

    block: dict[str, int] = {}
    for b, (_, va) in enumerate(members):
        for p in va or []:
            block.setdefault(p, b)
    return permuted_in_blocks(train, er, block, seed, DEEP_STREAM)


def _members(split: dict, cfg: dict, fold: int, folds_path: str) -> tuple[list, list, list]:
    """(training patients, test patients, members) of an outer fold; a member is the
    (training, early-stopping validation or None) patients of one network."""
    outer = outer_fold(split, fold, folds_path)
    train, test = list(outer["train"]), list(outer["test"])
    if cfg["ensemble"] == "inner_folds":
        inner = split.get("inner_folds") or []
        if not inner:
            raise ConfigError(f"deep: experiment {cfg['name']} ensembles inner folds but "
                              "folds.json has none (set split.inner_folds)")
        members = [(list(f["train"]), list(f["validation"])) for f in inner]
    elif cfg["ensemble"] == "inner_holdout":
        inner = split.get("inner_folds") or []
        if not inner:
            raise ConfigError(f"deep: experiment {cfg['name']} early-stops on an inner "
                              "hold-out but folds.json has no inner folds (set "
                              "split.inner_folds)")
        members = [(list(inner[0]["train"]), list(inner[0]["validation"]))]
    elif cfg["ensemble"] == "none":
        members = [(train, None)]
    else:
        raise ConfigError("deep: ensemble must be none, inner_folds or inner_holdout")
    if not test or not train:
        raise InputError(f"fold {fold} has {len(train)} training and {len(test)} test "
                         "patients; both sides are needed", file=folds_path)
    return train, test, members


def run_job(study: dict, experiment: str, fold: int, seed: int, crops: list[str],
            folds_path: str, outcome_path: str, out_dir: str, ledger_path: str,
            device: str | None = None, threads: int | None = None,
            base_seed: int = 0, tabular_files=None,
            init_dirs: list[str] | None = None) -> dict:
    """Train and score one (experiment, outer fold, seed) job; returns its summary."""
    from hccer import ledger
    from hccer.dl import tabular
    from hccer.dl.data import load_samples
    from hccer.dl.train import job_device
    from hccer.jsonio import provenance, read_json, write_json

    t_start = time.perf_counter()
    deep = study.get("deep") or {}
    cfg, choice = experiment_config(deep, experiment, init_dirs, fold, seed)
    tcfg = train_config(cfg)
    dev = job_device(device or deep.get("device", "auto"), threads)
    split = read_json(folds_path)
    if split["method"] == "kfold" and cfg["score_train"]:
        raise ConfigError("deep: score_train would give one apparent row per fold for the "
                          "same patient; use it with hold-out splits only")
    outcome = pd.read_csv(outcome_path, sep="\t", dtype={"patient": str}, keep_default_na=False)
    er = {r["patient"]: int(r["er"]) for r in split["assignment"]}
    train, test, members = _members(split, cfg, fold, folds_path)
    patients = sorted(set(train) | set(test))
    run_seed = int(base_seed) + 1009 * int(fold) + int(seed)
    array = (cfg.get("input") or {}).get("array", "x")
    samples = load_samples(crops, patients, array, channels_for(study, cfg))
    labels = np.array([er[p] for p in patients])
    train_labels = (permuted_training_labels(train, er, members, run_seed)
                    if cfg["permute_labels"] else {p: er[p] for p in train})
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tab = tabular.build(study, cfg, outcome.set_index("patient"), patients, train,
                        tabular_files or tabular.TabularFiles(), outcome_path)
    dim = None if tab is None else tab.values.shape[1]
    model, digest = build_model(cfg, samples.x.shape[1:], run_seed, dim)
    clin_all = _fusion_inputs(study, experiment, model, tab, outcome, patients, outcome_path)
    states, histories, score, inner_val = train_members(
        model, cfg, tcfg, members, samples, patients, train_labels, clin_all, dim, run_seed,
        choice, dev, out, f"{experiment} fold {fold}", seed, folds_path)
    inner_val_auc = auc_or_none(list(inner_val.values()), [train_labels[p] for p in inner_val])

    cohorts = [("test", test)] + ([("train", train)] if cfg["score_train"] else [])
    ledger.write_part(ledger_path, _ledger_rows(outcome, cohorts, patients, score, labels,
                                                experiment, fold, seed))
    checkpoint = {"experiment": experiment, "config": cfg, "fold": fold, "seed": seed,
                  "run_seed": run_seed, "input_shape": samples.x.shape[1:],
                  "tabular": None if tab is None else tab.record(), "members": states}
    hist = write_outputs(histories, out, f"{experiment} fold {fold} seed {seed}", checkpoint)

    def cohort_auc(pids):
        return auc_or_none([score[patients.index(p)] for p in pids], [er[p] for p in pids])

    summary = {"experiment": experiment, "fold": fold, "seed": seed, "device": str(dev),
               "n_train_patients": len(train), "n_test_patients": len(test),
               "n_train_samples": int(np.isin(samples.patient_index,
                                              [patients.index(p) for p in train]).sum()),
               "aggregation": "patient score = mean of its samples' probabilities"
                              + (" averaged over inner-fold members" if len(members) > 1
                                 else ""),
               "test_auc": cohort_auc(test), "train_auc_apparent": cohort_auc(train),
               "inner_val_auc": inner_val_auc, "n_inner_val_patients": len(inner_val),
               "backbone_from": None if choice is None else choice.record(),
               "tabular_columns": None if tab is None else tab.columns,
               "epochs_run": [int(hist[hist.member == m].epoch.max()) for m in
                              range(len(members))],
               "seconds": time.perf_counter() - t_start, "pretrained_sha256": digest,
               "config": cfg, "provenance": provenance(run_seed, threads=threads)}
    write_json(out / "summary.json", summary)
    log.info("%s fold %d seed %d done: test AUC %s (%d test patients) in %.0f s", experiment,
             fold, seed, summary["test_auc"], len(test), summary["seconds"])
    return summary


def experiment_config(deep: dict, experiment: str, init_dirs: list[str] | None, fold: int,
                      seed: int):
    """The resolved experiment settings and, with `init_from`, the chosen warm start."""
    from hccer.dl import experiments, warmstart

    cfg = experiments.resolve(deep, experiment)
    choice = None
    if cfg.get("init_from"):
        choice = warmstart.choose(cfg, init_dirs or [], fold, seed)
        cfg = warmstart.adopt(cfg, choice)
    return cfg, choice


def _fusion_inputs(study: dict, experiment: str, model, tab, outcome: pd.DataFrame,
                   patients: list[str], outcome_path: str) -> np.ndarray | None:
    """Per-patient inputs of the fusion head (tabular inputs, else the study's clinical
    vector), or None for an image-only network."""
    from hccer.dl.networks import uses_clinical

    if tab is not None and not uses_clinical(model):
        raise ConfigError(f"deep: {experiment} reads tabular inputs but its network has no "
                          "fusion head for them (set net.fusion)")
    if tab is not None:
        return tab.values
    return (clinical_inputs(study, outcome, patients, outcome_path)
            if uses_clinical(model) else None)


def auc_or_none(scores: list, labels: list) -> float | None:
    """AUC, or None where the labels hold one class only."""
    from hccer.stats.roc import auc

    if not 0 < sum(labels) < len(labels):
        return None
    return float(auc(np.array(scores), np.array(labels)))


def train_members(model, cfg: dict, tcfg, members: list, samples, patients: list[str],
                  train_labels: dict[str, int], clin_all, dim, run_seed: int, choice, dev,
                  out: Path, job: str, seed: int, folds_path: str):
    """Train one network per member (the first is `model`, later ones are built afresh) and
    score every patient of `samples` (`patients`, in its order). Returns (member states,
    history rows, mean patient score over members, {inner validation patient: its member's
    score}). `job` names the job in messages ("<experiment> fold <k>")."""
    from hccer.dl import warmstart
    from hccer.dl.train import fit, patient_scores, predict

    def clin(pids):
        return None if clin_all is None else clin_all[[patients.index(p) for p in pids]]

    states, histories = [], []
    probs_by_member, inner_val = [], {}
    for m, (tr, va) in enumerate(members):
        monitor = (cfg["early_stopping"] or {}).get("monitor", "val_loss")
        if va and monitor == "val_auc" and len({train_labels[p] for p in va}) < 2:
            raise InputError(f"{job} member {m}: the early-stopping validation patients "
                             f"({len(va)}) are all of one class, so their AUC is undefined; "
                             "use more patients, fewer split.inner_folds, or "
                             "early_stopping.monitor: val_loss", file=folds_path)
        if m:
            model, _ = build_model(cfg, samples.x.shape[1:], run_seed + m, dim)
        if choice is not None:
            warmstart.load_trunk(model, choice, m)
        tag = f"{job} seed {seed}" + (f" member {m}" if len(members) > 1 else "")
        hist = fit(model, samples.subset(tr), np.array([train_labels[p] for p in tr]), tcfg,
                   seed=run_seed + m, device=dev, clinical=clin(tr),
                   val=samples.subset(va) if va else None,
                   val_labels=np.array([train_labels[p] for p in va]) if va else None,
                   val_clinical=clin(va) if va else None,
                   resume=out / f"resume-{m}.pt", tag=tag)
        histories += [dict(h, member=m) for h in hist]
        states.append({k: v.cpu() for k, v in model.state_dict().items()})
        p = predict(model, samples, clin_all, dev, tcfg.batch_size, tcfg.amp)
        probs_by_member.append(patient_scores(p, samples.patient_index, len(patients)))
        for pid in va or []:
            inner_val[pid] = probs_by_member[-1][patients.index(pid)]
    return states, histories, np.mean(probs_by_member, axis=0), inner_val


def _ledger_rows(outcome: pd.DataFrame, cohorts: list, patients: list[str], score, labels,
                 experiment: str, fold: int, seed: int) -> list[pd.DataFrame]:
    """The job's ledger rows, one frame per (cohort, patients) pair."""
    from hccer import ledger

    times = outcome.set_index("patient")
    at = {p: i for i, p in enumerate(patients)}
    return [ledger.rows(pids, [score[at[p]] for p in pids], [labels[at[p]] for p in pids],
                        experiment, cohort, fold, seed, times) for cohort, pids in cohorts]


def write_outputs(histories: list[dict], out: Path, title: str, checkpoint: dict) -> pd.DataFrame:
    """History, curves and checkpoint (`save_checkpoint`'s arguments); the resume files go
    once the checkpoint holds every member. Returns the history table."""
    from hccer.dl.checkpoint import save_checkpoint
    from hccer.dl.figures import curves
    from hccer.jsonio import write_text

    hist = pd.DataFrame(histories)
    write_text(out / "history.tsv", hist.to_csv(sep="\t", index=False, float_format="%.6g"))
    curves(hist, out / "curves.png", title)
    save_checkpoint(out / "checkpoint.pt", **checkpoint)
    for m in range(len(checkpoint["members"])):
        (out / f"resume-{m}.pt").unlink(missing_ok=True)
    return hist


def clinical_inputs(study: dict, outcome: pd.DataFrame, patients: list[str], file) -> np.ndarray:
    """The fusion models' clinical vector: the study's coded `clinical.variables` (for the CT
    papers the 9 binary elements of seed-000-001 §2), coded once for every track."""
    from hccer.classical.clinical import code_table

    specs = (study.get("clinical") or {}).get("variables")
    if not specs:
        raise ConfigError("deep: a fusion model needs the study's clinical.variables")
    table = outcome.set_index("patient")
    missing = [p for p in patients if p not in table.index]
    if missing:
        raise InputError(f"patient(s) {missing[:5]} not in the outcome table", file=file)
    return code_table(table.loc[patients], specs, file).to_numpy(np.float32)
