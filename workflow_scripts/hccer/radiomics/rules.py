"""Small path helpers for rules/radiomics.smk (kept here so the rules file holds only rules)."""

from __future__ import annotations

import os


def outer_folds(split: dict) -> list[int]:
    """Outer fold numbers of a study's split block (k-fold: 0..k-1; hold-out: 0)."""
    return list(range(int(split["n_folds"]))) if split["method"] == "kfold" else [0]


def extraction_inputs(layout, mode: str, ref: str, pid: str, phase: str, reader: str) -> dict:
    """3D: each phase's 1 mm image and that reader's own mask. 2D: phases on the reference
    grid, all with the reference reader-1 mask (slices and ROI chosen on it)."""
    if mode == "volume3d":
        return dict(image=layout.deriv(pid, phase=phase, desc="resampled"),
                    mask=layout.deriv(pid, phase=phase, reader=reader, desc="resampled",
                                      suffix="mask"))
    ref_mask = layout.deriv(pid, phase=ref, reader="r1", desc="resampled", suffix="mask")
    image = (layout.deriv(pid, phase=ref, desc="resampled") if phase == ref
             else layout.deriv(pid, phase=phase, space=ref, desc="registered"))
    return dict(image=image, mask=ref_mask)


def second_read_pids(pids, mask_path, reader: str, phases, subset: int | None = None,
                     seed: int = 0) -> list[str]:
    """Patients with a `reader` mask on every phase; with `subset`, a seeded random sample of
    that many of them (the paper's ICC used 30 randomly chosen tumours)."""
    out = []
    for pid in pids:
        try:
            paths = [mask_path(pid, ph, reader) for ph in phases]
        except ValueError:  # the mask sheet has no row for this patient and reader
            continue
        if all(os.path.exists(p) for p in paths):
            out.append(pid)
    if subset is not None and len(out) > subset:
        import numpy as np

        pick = np.random.default_rng(seed).choice(len(out), size=subset, replace=False)
        out = [out[i] for i in sorted(pick)]
    return out


def case_files(template: str, pids, phases, reader: str) -> list[str]:
    return [template.format(pid=pid, phase=ph, reader=reader) for pid in pids for ph in phases]
