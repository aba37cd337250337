"""Time the vectorised IVIM fit on a 128x128x30 volume (9 b-values, Rician noise) and compare a
voxel sample with the per-voxel scipy curve_fit. Run: .venv/bin/python benchmarks/bench_ivim.py"""

from __future__ import annotations

import time

import numpy as np
from hccer.ivim import fit


def main(shape=(30, 128, 128), seed: int = 0, n_curve_fit: int = 200) -> None:
    rng = np.random.default_rng(seed)
    b = np.array([0, 10, 20, 40, 80, 200, 400, 600, 1000], float)
    d = rng.uniform(0.6e-3, 1.6e-3, shape)
    dstar = rng.uniform(0.02, 0.1, shape)
    f = rng.uniform(0.05, 0.35, shape)
    clean = fit.ivim_signal(b, 600.0, d, dstar, f)
    sd = 600.0 / 50                                          # SNR 50 at b = 0
    noisy = np.sqrt((clean + rng.normal(0, sd, clean.shape)) ** 2
                    + rng.normal(0, sd, clean.shape) ** 2)
    n = int(np.prod(shape))
    t0 = time.perf_counter()
    seg = fit.fit_ivim_segmented(noisy, b)
    t1 = time.perf_counter()
    adc = fit.fit_adc(noisy, b)["adc"]
    t2 = time.perf_counter()
    print(f"volume {shape[2]}x{shape[1]}x{shape[0]} = {n} voxels, 9 b-values, SNR 50")
    print(f"segmented IVIM (D, f, D*): {t1 - t0:.2f} s ({1e6 * (t1 - t0) / n:.1f} µs/voxel)")
    print(f"ADC log-linear:            {t2 - t1:.2f} s")
    for name, est, true in (("D", seg.d, d), ("f", seg.f, f), ("D*", seg.dstar, dstar)):
        err = est - true
        print(f"  {name:2s}: median abs error {np.nanmedian(np.abs(err)):.3g}, "
              f"bias {np.nanmean(err):+.3g}, NaN {int(np.isnan(est).sum())}")
    print("  (D* is NaN where f was clipped to 0: the model does not depend on D* there)")
    print(f"  ADC mean {np.nanmean(adc) * 1e3:.3f} ×10⁻³ mm²/s (mean D "
          f"{d.mean() * 1e3:.3f})")
    idx = rng.choice(n, n_curve_fit, replace=False)
    sample = noisy.reshape(-1, b.size)[idx]
    t3 = time.perf_counter()
    full = fit.fit_ivim_full(sample, b, dstar_bounds=fit.DSTAR_BOUNDS)
    t4 = time.perf_counter()
    per = (t4 - t3) / n_curve_fit
    print(f"curve_fit (full bi-exponential): {1e3 * per:.1f} ms/voxel -> "
          f"~{per * n / 60:.0f} min for the volume")
    for name, key, seg_map, true in (("D", "D", seg.d, d), ("f", "f", seg.f, f)):
        e_full = np.nanmedian(np.abs(full[key] - true.ravel()[idx]))
        e_seg = np.nanmedian(np.abs(seg_map.ravel()[idx] - true.ravel()[idx]))
        print(f"  {name}: median abs error on the sample: segmented {e_seg:.3g}, "
              f"curve_fit {e_full:.3g}")


if __name__ == "__main__":
    main()
