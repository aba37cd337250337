"""Time DeLong (AUCs + full covariance, all pairwise tests) and a 2000-resample stratified
bootstrap for 10^4 patients x 10 models. Run: .venv/bin/python benchmarks/bench_stats.py"""

from __future__ import annotations

import time

import numpy as np
from hccer.stats import roc


def main(n: int = 10_000, k: int = 10, n_boot: int = 2000, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.4
    # scores rounded to 3 decimals so ties occur, as with real probabilities
    scores = np.round(1 / (1 + np.exp(-(rng.normal(size=(k, n)) + rng.uniform(0.2, 1.5, (k, 1))
                                         * y))), 3)
    names = [f"m{i}" for i in range(k)]
    t0 = time.perf_counter()
    aucs, cov = roc.delong_cov(scores, y)
    t1 = time.perf_counter()
    matrix = roc.delong_matrix(scores, y, names)
    t2 = time.perf_counter()
    boots = roc.bootstrap_aucs(scores, y, n_boot=n_boot, seed=seed)
    t3 = time.perf_counter()
    print(f"patients {n}, models {k}, cases {int(y.sum())}")
    print(f"DeLong AUCs + {k}x{k} covariance: {t1 - t0:.3f} s")
    print(f"DeLong pairwise matrix ({len(matrix)} tests, Holm): {t2 - t1:.3f} s")
    print(f"bootstrap {n_boot} stratified resamples x {k} models: {t3 - t2:.2f} s "
          f"({1e3 * (t3 - t2) / (n_boot * k):.2f} ms per model-resample)")
    lo, hi = np.quantile(boots[:, 0], [0.025, 0.975])
    dlo, dhi = roc.ci_delong(aucs[0], cov[0, 0])
    print(f"model m0 AUC {aucs[0]:.4f}: DeLong CI {dlo:.4f}-{dhi:.4f}, "
          f"bootstrap CI {lo:.4f}-{hi:.4f}")


if __name__ == "__main__":
    main()
