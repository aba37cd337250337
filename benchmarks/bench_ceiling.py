"""What a twin of each size lets a model learn: the image-only and overall oracle AUCs beside
the learnable ceilings (5-fold CV logistic model handed the exact variables), mean over seeds,
for the demo size, the paper's size and a large cohort. Clinical table and truth only (no
images), so it takes seconds. Run: .venv/bin/python benchmarks/bench_ceiling.py [n_seeds]"""

from __future__ import annotations

import sys
import time

import numpy as np
from hccer.synth.ceiling import learnable_ceiling, rank_auc
from hccer.synth.clinical import simulate_clinical
from hccer.synth.twins import load_twin

PRESETS = ["phase_attention", "deep_fusion", "cemri_dlrcr", "ivim_vit", "ct_3dcnn"]


def row(preset: str, n: int, seeds: int) -> list[float]:
    out = []
    for seed in range(seeds):
        sim = simulate_clinical(preset, n=n, seed=seed)
        an = (sim.truth["censored"] == 0).to_numpy()
        y = sim.truth["true_er"].to_numpy()[an]
        both = np.hstack([sim.image_features, sim.clinical_features])[an]
        out.append([rank_auc(y, sim.truth["logit_image"].to_numpy()[an]),
                    learnable_ceiling(sim.image_features[an], y, seed=seed),
                    rank_auc(y, sim.truth["latent_risk"].to_numpy()[an]),
                    learnable_ceiling(both, y, seed=seed)])
    return list(np.nanmean(np.array(out), axis=0))


def main(seeds: int = 5) -> None:
    t0 = time.perf_counter()
    print(f"mean over {seeds} twin seeds; ceiling = 5-fold CV ridge logistic on exact variables")
    print(f"{'preset':16s} {'n':>5s} {'img oracle':>10s} {'img ceil':>9s} {'ratio':>6s} "
          f"{'all oracle':>10s} {'all ceil':>9s} {'ratio':>6s}")
    for preset in PRESETS:
        paper_n = int(load_twin(preset)["paper_n"])
        for n in (40, paper_n, 1000):
            io, ic, ao, ac = row(preset, n, seeds)
            print(f"{preset:16s} {n:5d} {io:10.3f} {ic:9.3f} {ic / io:6.2f} {ao:10.3f} "
                  f"{ac:9.3f} {ac / ao:6.2f}")
    print(f"{time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
