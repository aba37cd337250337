"""Score a trained network's test patients on other crops of the same patients, e.g. VOIs cut
with a second reader's masks (ct_3dcnn Suppl. Fig. S1): the frozen checkpoint, the same
aggregation as its training job, ledger rows under a new model name."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from hccer.cohort.split import outer_fold
from hccer.errors import InputError

log = logging.getLogger(__name__)


def rescore(checkpoint: str, crops: list[str], folds_path: str, outcome_path: str,
            model_name: str, ledger_path: str, device: str = "auto",
            threads: int | None = None) -> pd.DataFrame:
    """Ledger rows (cohort `test`) of `model_name` for the checkpoint fold's test patients
    that have a crop among `crops`; the others are listed in the log, not guessed."""
    from hccer import ledger
    from hccer.dl import networks
    from hccer.dl.checkpoint import load_model, read_checkpoint
    from hccer.dl.data import load_samples, patient_of
    from hccer.dl.job import channels_for
    from hccer.dl.train import job_device, patient_scores, predict
    from hccer.jsonio import read_json

    dev = job_device(device, threads)
    ck = read_checkpoint(checkpoint)
    cfg = ck["config"]
    if ck.get("tabular"):
        raise InputError(f"rescoring needs an image-only network; {ck['experiment']} also "
                         "reads tabular inputs", file=checkpoint)
    split = read_json(folds_path)
    outer = outer_fold(split, ck["fold"], folds_path)  # the checkpoint's fold
    have = {patient_of(p) for p in crops}
    patients = sorted(p for p in outer["test"] if p in have)
    missing = sorted(set(outer["test"]) - have)
    if missing:
        log.warning("%d test patient(s) without a crop here are not scored: %s", len(missing),
                    ", ".join(missing[:10]))
    if not patients:
        raise InputError("none of the checkpoint's test patients has a crop among the inputs",
                         file=checkpoint)
    input_cfg = cfg.get("input") or {}
    wanted = input_cfg.get("phases") or []
    channels = None
    if wanted:  # phase indices from the crops' own metadata
        meta = read_json(str(crops[0]).replace(".npz", ".json"))
        held = meta.get("phases", wanted)
        channels = channels_for({"crop": {"mode": meta.get("mode")}, "phases": held,
                                 "model_phases": held}, cfg)
    samples = load_samples(crops, patients, input_cfg.get("array", "x"), channels)
    shape = tuple(ck["input_shape"])
    if tuple(samples.x.shape[1:]) != shape:
        raise InputError(f"crops are {tuple(samples.x.shape[1:])}, the network was trained on "
                         f"{shape}", file=crops[0])
    probs = []
    for m in range(len(ck["members"])):
        model, _ = load_model(ck, m, dev)
        if networks.uses_clinical(model):
            raise InputError(f"rescoring needs an image-only network; {ck['experiment']} "
                             "also reads clinical inputs", file=checkpoint)
        p = predict(model, samples, None, dev, int(cfg.get("batch_size", 8)),
                    bool(cfg.get("amp", True)))
        probs.append(patient_scores(p, samples.patient_index, len(patients)))
    score = np.mean(probs, axis=0)
    er = {r["patient"]: int(r["er"]) for r in split["assignment"]}
    times = pd.read_csv(outcome_path, sep="\t", dtype={"patient": str},
                        keep_default_na=False).set_index("patient")
    rows = ledger.rows(patients, score, [er[p] for p in patients], model_name, "test",
                       int(ck["fold"]), int(ck["seed"]), times)
    written = ledger.write_part(ledger_path, [rows])
    log.info("%s: %d test patients scored on the given crops with %s", model_name,
             len(patients), Path(checkpoint).parent.name)
    return written
