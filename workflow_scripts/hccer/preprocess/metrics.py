"""Similarity and overlap metrics used by the registration quality check."""

from __future__ import annotations

import numpy as np


def ncc(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Pearson (normalised cross-) correlation over the voxels in `mask` (all if None)."""
    a = np.asarray(a, float)
    b = np.asarray(b, float)
    if mask is not None:
        a, b = a[mask], b[mask]
    a = a.ravel() - a.mean()
    b = b.ravel() - b.mean()
    den = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / den) if den > 0 else float("nan")


def mutual_information(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None,
                       bins: int = 32) -> float:
    """Mutual information in nats from a `bins` x `bins` joint histogram (equal-width bins)."""
    a = np.asarray(a, float)
    b = np.asarray(b, float)
    if mask is not None:
        a, b = a[mask], b[mask]
    if a.size == 0:
        return float("nan")
    joint = _joint_histogram(a.ravel(), b.ravel(), bins)
    p = joint / joint.sum()
    pa = p.sum(axis=1, keepdims=True)
    pb = p.sum(axis=0, keepdims=True)
    nz = p > 0
    return float((p[nz] * np.log(p[nz] / (pa @ pb)[nz])).sum())


def _bin_index(v: np.ndarray, bins: int) -> np.ndarray:
    """np.histogram's equal-width bin of each value (the last bin holds the maximum)."""
    lo, hi = float(v.min()), float(v.max())
    if hi <= lo:  # histogram's range for a constant: [v - 0.5, v + 0.5], all in the middle bin
        return np.full(v.shape, bins // 2, np.intp)
    # numpy's own fast path for equal-width bins (np.histogram), edge corrections included
    edges = np.linspace(lo, hi, bins + 1)
    idx = ((v - lo) * (bins / (hi - lo))).astype(np.intp)
    idx[idx == bins] -= 1
    idx[v < edges[idx]] -= 1
    idx[(v >= edges[idx + 1]) & (idx != bins - 1)] += 1
    return idx


def _joint_histogram(a: np.ndarray, b: np.ndarray, bins: int) -> np.ndarray:
    """np.histogram2d(a, b, bins) counts, by one bincount instead of histogramdd's sort."""
    ij = _bin_index(a, bins) * bins + _bin_index(b, bins)
    return np.bincount(ij, minlength=bins * bins).reshape(bins, bins).astype(float)


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """Dice overlap of two binary masks (NaN when both are empty)."""
    a = np.asarray(a) > 0
    b = np.asarray(b) > 0
    s = a.sum() + b.sum()
    return float(2.0 * np.logical_and(a, b).sum() / s) if s else float("nan")


def rotation_angles_deg(matrix: np.ndarray) -> tuple[float, float, float]:
    """Euler angles (x, y, z; degrees) of R = Rz @ Ry @ Rx, the ITK Euler3D ZYX convention."""
    r = np.asarray(matrix, float).reshape(3, 3)
    ry = np.arcsin(-np.clip(r[2, 0], -1.0, 1.0))
    rx = np.arctan2(r[2, 1], r[2, 2])
    rz = np.arctan2(r[1, 0], r[0, 0])
    return tuple(float(np.degrees(v)) for v in (rx, ry, rz))


def rotation_magnitude_deg(matrix: np.ndarray) -> float:
    """Angle of the rotation (degrees), independent of any Euler-angle convention."""
    r = np.asarray(matrix, float).reshape(3, 3)
    return float(np.degrees(np.arccos(np.clip((np.trace(r) - 1.0) / 2.0, -1.0, 1.0))))
