"""The label-permutation negative control, one shuffle for every model track.

A permuted model is fitted exactly like its real twin, on training labels shuffled among the
training patients (class balance kept), and scored against the true labels: its AUC is what
chance gives this pipeline on this cohort.

Random streams: a classical fit draws the shuffle from its seed itself; a deep job draws it from
the stream (seed, DEEP_STREAM), because the same seed initialises the network and the shuffle
must not share its draws. Both are kept as they are so that earlier results reproduce.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

DEEP_STREAM = 7919


def _rng(seed: int, stream: int | None) -> np.random.Generator:
    return np.random.default_rng(seed if stream is None else [seed, stream])


def permuted(labels, seed: int, stream: int | None = None) -> np.ndarray:
    """The labels in a seeded random order."""
    return _rng(seed, stream).permutation(np.asarray(labels))


def permuted_in_blocks(patients: Sequence[str], labels: Mapping[str, int],
                       block_of: Mapping[str, int], seed: int,
                       stream: int | None = None) -> dict[str, int]:
    """Each patient's shuffled label, shuffled only among the patients of the same block
    (`block_of`; a patient not in it belongs to the block of the rest), blocks in sorted
    order from one generator. With one block this is `permuted` of the labels in `patients`
    order."""
    rng = _rng(seed, stream)
    out: dict[str, int] = {}
    for b in sorted({block_of.get(p, -1) for p in patients}):
        pids = [p for p in patients if block_of.get(p, -1) == b]
        out.update(zip(pids, rng.permutation([int(labels[p]) for p in pids]).tolist(),
                       strict=True))
    return out
