"""Voxel-wise IVIM and ADC fits, vectorised over whole volumes.

Model: S(b)/S0 = f·exp(−b·D*) + (1 − f)·exp(−b·D), D and D* in mm²/s, f a fraction.

The segmented fit (the default, seed-003 §3) takes D and the intercept from a log-linear fit of
the high b-values (b ≥ threshold, where the perfusion term has decayed), f = 1 − S_int/S0 with S0
the measured b = 0 signal, and then D* as the only free parameter of a bounded least-squares fit
on all b-values: a dense log-spaced grid (one matrix product for all voxels) followed by a few
Gauss–Newton steps kept inside the bracketing grid cell. Every function takes signals of shape
(..., n_b) and any b-value list, and returns maps of shape (...) with NaN where no fit was made.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from hccer.errors import InputError

log = logging.getLogger(__name__)

# Bounds of seed-003 §3: D* 1–500 ×10⁻³ mm²/s; D up to 5 ×10⁻³ mm²/s (OSIPI's D bound).
D_BOUNDS = (0.0, 5e-3)
DSTAR_BOUNDS = (1e-3, 0.5)
F_BOUNDS = (0.0, 1.0)

# Fit status codes written next to the maps.
STATUS_BACKGROUND, STATUS_OK, STATUS_FAILED, STATUS_DSTAR_UNDEFINED = 0, 1, 2, 3


def ivim_signal(b, s0, d, dstar, f):
    """Bi-exponential IVIM signal; parameters broadcast against each other, b on a new last axis."""
    b = np.asarray(b, float)
    s0, d, dstar, f = (np.asarray(v, float)[..., None] for v in (s0, d, dstar, f))
    return s0 * (f * np.exp(-b * dstar) + (1.0 - f) * np.exp(-b * d))


def _check(signal, b) -> tuple[np.ndarray, np.ndarray]:
    signal = np.asarray(signal, dtype=float)
    b = np.asarray(b, dtype=float).ravel()
    if signal.ndim < 1 or signal.shape[-1] != b.size:
        raise InputError(f"the DWI has {signal.shape[-1] if signal.ndim else 0} b-volumes but "
                         f"{b.size} b-values were given")
    if np.any(~np.isfinite(b)) or np.any(b < 0):
        raise InputError(f"b-values must be finite and ≥ 0, got {b.tolist()}")
    return signal, b


def _measured_s0(signal: np.ndarray, b: np.ndarray) -> np.ndarray:
    zero = b == 0
    if not zero.any():
        raise InputError(f"no b = 0 volume among the b-values {b.tolist()}: S0 (and hence f) "
                         "needs the unweighted image")
    return signal[..., zero].mean(axis=-1)


def background_mask(s0, fraction: float = 0.05, percentile: float = 99.0) -> np.ndarray:
    """Voxels whose S0 reaches `fraction` of the `percentile`-th percentile of the finite S0."""
    s0 = np.asarray(s0, float)
    finite = np.isfinite(s0)
    if not finite.any():
        return np.zeros(s0.shape, bool)
    level = fraction * np.percentile(s0[finite], percentile)
    return finite & (s0 > max(level, 0.0))


def _loglinear(y: np.ndarray, x: np.ndarray, w: np.ndarray):
    """Per-row weighted straight-line fit y ≈ a + s·x (weights 0/1); returns a, s, n_points."""
    sw = w.sum(-1)
    sx, sy = (w * x).sum(-1), (w * y).sum(-1)
    sxx, sxy = (w * x * x).sum(-1), (w * x * y).sum(-1)
    den = sw * sxx - sx * sx
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = (sw * sxy - sx * sy) / den
        icpt = (sy - slope * sx) / sw
    ok = (sw >= 2) & (den > 1e-12 * np.maximum(sw * sxx, 1e-300))
    slope[~ok] = np.nan
    icpt[~ok] = np.nan
    return icpt, slope, sw


def _log_signal(sig: np.ndarray):
    """log S and 0/1 weights: non-positive or non-finite samples are left out of the fit."""
    w = (np.isfinite(sig) & (sig > 0)).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.where(w > 0, np.log(np.where(w > 0, sig, 1.0)), 0.0)
    return y, w


def _fit_region(signal, mask, s0, s0_threshold):
    region = np.ones(signal.shape[:-1], bool) if mask is None else np.asarray(mask, bool)
    if region.shape != signal.shape[:-1]:
        raise InputError(f"mask shape {region.shape} differs from the image shape "
                         f"{signal.shape[:-1]}")
    region = region & np.isfinite(s0) & (s0 > 0)
    if s0_threshold is not None:
        region &= s0 > s0_threshold
    return region


def fit_adc(signal, b, mask=None, s0_threshold: float | None = None) -> dict:
    """Mono-exponential S = S0·exp(−b·ADC) by log-linear least squares over every b-value.

    Returns {"adc" (mm²/s), "s0" (fitted intercept), "fitted" (voxels fitted)}; NaN outside
    the mask, below `s0_threshold` (on the fitted S0) and where fewer than two distinct b-values
    have a positive signal.
    """
    signal, b = _check(signal, b)
    shape = signal.shape[:-1]
    sig = signal.reshape(-1, b.size)
    region = np.ones(sig.shape[0], bool) if mask is None else np.asarray(mask, bool).ravel()
    if region.size != sig.shape[0]:
        raise InputError(f"mask shape {np.shape(mask)} differs from the image shape {shape}")
    adc = np.full(sig.shape[0], np.nan)
    s0 = np.full(sig.shape[0], np.nan)
    idx = np.flatnonzero(region)
    if idx.size:
        y, w = _log_signal(sig[idx])
        icpt, slope, _ = _loglinear(y, b[None, :], w)
        adc[idx], s0[idx] = -slope, np.exp(icpt)
    if s0_threshold is not None:
        low = ~(s0 > s0_threshold)
        adc[low] = s0[low] = np.nan
    fitted = np.isfinite(adc)
    return {"adc": adc.reshape(shape), "s0": s0.reshape(shape), "fitted": fitted.reshape(shape)}


@dataclass(frozen=True)
class SegmentedFit:
    """Maps of one segmented IVIM fit (shape of the input without the b axis)."""

    d: np.ndarray
    dstar: np.ndarray
    f: np.ndarray
    s0: np.ndarray
    status: np.ndarray

    def as_dict(self) -> dict[str, np.ndarray]:
        return {"D": self.d, "Dstar": self.dstar, "f": self.f, "S0": self.s0,
                "status": self.status}


def _dstar_search(z, w, fv, b, lo, hi, n_grid, n_newton, chunk):
    """argmin over D* in [lo, hi] of Σ_b w_b (z_b − f·exp(−b·D*))², rows independent."""
    grid = np.geomspace(lo, hi, n_grid)
    E = np.exp(-np.outer(b, grid))                      # (n_b, n_grid)
    e2 = (E * E).sum(0)
    out = np.empty(z.shape[0])
    for start in range(0, z.shape[0], chunk):
        zc, wc, fc = z[start:start + chunk], w[start:start + chunk], fv[start:start + chunk]
        # Σw(z − fE)² = Σwz² − 2f·(wz·E) + f²·(w·E²), a matrix product for all voxels. Rows
        # have f > 0, so the argmin is that of f·(w·E²) − 2·(wz·E), built in place.
        cost = (wc * zc) @ E
        cost *= -2.0
        if (wc == 1).all():
            cost += np.outer(fc, e2)
        else:
            cost += fc[:, None] * (wc @ (E * E))
        k = np.argmin(cost, axis=1)
        best = grid[k]
        best_cost = fc * cost[np.arange(k.size), k] + (wc * zc * zc).sum(1)
        left = grid[np.maximum(k - 1, 0)]
        right = grid[np.minimum(k + 1, n_grid - 1)]
        x = best.copy()
        for _ in range(n_newton):
            ex = np.exp(-b[None, :] * x[:, None])
            r = zc - fc[:, None] * ex
            jac = -fc[:, None] * b[None, :] * ex       # d(model)/dD*
            jj = (wc * jac * jac).sum(1)
            with np.errstate(invalid="ignore", divide="ignore"):
                step = np.where(jj > 0, (wc * jac * r).sum(1) / np.where(jj > 0, jj, 1), 0.0)
            x = np.clip(x + step, left, right)
            c = (wc * (zc - fc[:, None] * np.exp(-b[None, :] * x[:, None])) ** 2).sum(1)
            better = c < best_cost
            best[better], best_cost[better] = x[better], c[better]
            x = np.where(better, x, best)
        out[start:start + chunk] = best
    return out


def fit_ivim_segmented(
    signal,
    b,
    b_threshold: float = 200.0,
    mask=None,
    s0_threshold: float | None = None,
    d_bounds: tuple[float, float] = D_BOUNDS,
    dstar_bounds: tuple[float, float] = DSTAR_BOUNDS,
    f_bounds: tuple[float, float] = F_BOUNDS,
    n_grid: int = 100,
    n_newton: int = 6,
    chunk: int = 32768,
) -> SegmentedFit:
    """Segmented bi-exponential IVIM fit of every voxel in `mask` (default: all).

    1. D and S_int from log-linear least squares on b ≥ `b_threshold` (D clipped to
       `d_bounds`; when clipped, S_int is refitted with D held at the bound).
    2. f = 1 − S_int/S0 with S0 the mean measured b = 0 signal, clipped to `f_bounds`.
    3. D* by bounded least squares on all b-values with S0, D and f fixed.

    Voxels with S0 ≤ `s0_threshold` (background) are not fitted: NaN maps, status 0. A voxel
    whose high-b fit is impossible (fewer than two positive high-b samples) is NaN with status
    2. Where f is 0, D* has no effect on the model: D* is NaN with status 3.
    """
    signal, b = _check(signal, b)
    if not (d_bounds[0] <= d_bounds[1] and 0 < dstar_bounds[0] < dstar_bounds[1]
            and 0 <= f_bounds[0] <= f_bounds[1] <= 1):
        raise ValueError(f"invalid bounds D {d_bounds}, D* {dstar_bounds}, f {f_bounds}")
    high = b >= b_threshold
    if np.unique(b[high]).size < 2:
        raise InputError(f"the segmented IVIM fit needs at least two distinct b-values ≥ "
                         f"{b_threshold:g} s/mm², got {b.tolist()}")
    shape = signal.shape[:-1]
    s0_all = _measured_s0(signal, b)
    region = _fit_region(signal, mask, s0_all, s0_threshold).ravel()
    n = region.size
    d, dstar, f = (np.full(n, np.nan) for _ in range(3))
    s0_out = np.full(n, np.nan)
    status = np.zeros(n, np.uint8)
    idx = np.flatnonzero(region)
    if idx.size:
        sig = signal.reshape(-1, b.size)[idx]
        s0 = s0_all.ravel()[idx]
        bh = b[high]
        y, w = _log_signal(sig[:, high])
        icpt, slope, _ = _loglinear(y, bh[None, :], w)
        dv = -slope
        ok = np.isfinite(dv)
        clipped = ok & ((dv < d_bounds[0]) | (dv > d_bounds[1]))
        if clipped.any():
            dv[clipped] = np.clip(dv[clipped], *d_bounds)
            # Constrained least squares with the slope on its bound: the intercept is the mean.
            wc = w[clipped]
            icpt[clipped] = ((wc * (y[clipped] + bh[None, :] * dv[clipped, None])).sum(1)
                             / wc.sum(1))
        fv = np.clip(1.0 - np.exp(icpt) / s0, *f_bounds)
        ok &= np.isfinite(fv)
        ds = np.full(idx.size, np.nan)
        sub = np.flatnonzero(ok & (fv > 0))
        if sub.size:
            norm = sig[sub] / s0[sub, None]
            z = norm - (1.0 - fv[sub, None]) * np.exp(-b[None, :] * dv[sub, None])
            # Non-finite samples carry no information about D*: weight 0.
            wz = np.isfinite(z).astype(float)
            z = np.where(wz > 0, z, 0.0)
            ds[sub] = _dstar_search(z, wz, fv[sub], b, dstar_bounds[0], dstar_bounds[1],
                                    n_grid, n_newton, chunk)
        d[idx] = np.where(ok, dv, np.nan)
        f[idx] = np.where(ok, fv, np.nan)
        dstar[idx] = ds
        s0_out[idx] = np.where(ok, s0, np.nan)
        status[idx] = np.where(ok, np.where(fv > 0, STATUS_OK, STATUS_DSTAR_UNDEFINED),
                               STATUS_FAILED)
        n_failed = int((~ok).sum())
        if n_failed:
            log.debug("segmented IVIM fit failed in %d of %d voxels", n_failed, idx.size)
    return SegmentedFit(d=d.reshape(shape), dstar=dstar.reshape(shape), f=f.reshape(shape),
                        s0=s0_out.reshape(shape), status=status.reshape(shape))


def fit_ivim_full(
    signal,
    b,
    mask=None,
    s0_bounds: tuple[float, float] = (0.7, 1.3),
    d_bounds: tuple[float, float] = D_BOUNDS,
    dstar_bounds: tuple[float, float] = (0.005, 0.2),
    f_bounds: tuple[float, float] = F_BOUNDS,
    p0: tuple[float, float, float, float] = (1.0, 1e-3, 0.02, 0.1),
) -> dict[str, np.ndarray]:
    """Simultaneous bounded bi-exponential fit per voxel with scipy `curve_fit` (validation).

    Signals are normalised by the measured b = 0 signal, so `s0_bounds` are relative. Slow (one
    optimisation per voxel): meant for checking the segmented fit on small inputs, not volumes.
    Returns maps "S0" (relative), "D", "Dstar", "f"; NaN where the optimiser failed.
    """
    from scipy.optimize import curve_fit

    signal, b = _check(signal, b)
    shape = signal.shape[:-1]
    s0_meas = _measured_s0(signal, b)
    region = _fit_region(signal, mask, s0_meas, None).ravel()
    sig = signal.reshape(-1, b.size)
    out = {k: np.full(sig.shape[0], np.nan) for k in ("S0", "D", "Dstar", "f")}
    lower = [s0_bounds[0], d_bounds[0], dstar_bounds[0], f_bounds[0]]
    upper = [s0_bounds[1], d_bounds[1], dstar_bounds[1], f_bounds[1]]
    start = np.clip(p0, lower, upper)

    def model(bb, s0, d, dstar, f):
        return s0 * (f * np.exp(-bb * dstar) + (1 - f) * np.exp(-bb * d))

    for i in np.flatnonzero(region):
        y = sig[i] / s0_meas.ravel()[i]
        good = np.isfinite(y)
        try:
            p, _ = curve_fit(model, b[good], y[good], p0=start, bounds=(lower, upper),
                             max_nfev=2000)
        except (RuntimeError, ValueError) as exc:
            log.debug("curve_fit failed in voxel %d: %s", i, exc)
            continue
        out["S0"][i], out["D"][i], out["Dstar"][i], out["f"][i] = p
    return {k: v.reshape(shape) for k, v in out.items()}
