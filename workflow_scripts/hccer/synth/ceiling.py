"""The learnable ceiling of a twin cohort: the cross-validated AUC of a logistic model that is
handed every image trait exactly (the per-variable log-likelihood ratios of what an image shows
and the latent trait values), at the cohort's own size.

The oracle AUC scores the true posterior, which no model fitted on n patients knows; with few
patients the gap is large (at n = 40 even these exact traits reach only about 0.8 x the
image-only oracle under 5-fold CV). A model learning from pixels is judged against this
ceiling, not against the oracle alone. numpy only: it runs inside the synthesis job.
"""

from __future__ import annotations

import numpy as np


def ridge_logistic(x: np.ndarray, y: np.ndarray, c: float = 1.0, iters: int = 100):
    """L2-penalised logistic regression (penalty ||w||^2 / 2c, intercept free) by Newton-IRLS;
    the objective of scikit-learn's LogisticRegression(C=c). Returns (intercept, weights)."""
    n, p = x.shape
    a = np.hstack([np.ones((n, 1)), x])
    beta = np.zeros(p + 1)
    pen = np.eye(p + 1) / c
    pen[0, 0] = 0.0
    for _ in range(iters):
        prob = 1.0 / (1.0 + np.exp(-(a @ beta)))
        grad = a.T @ (prob - y) + pen @ beta
        hess = (a * (prob * (1 - prob))[:, None]).T @ a + pen
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.max(np.abs(step)) < 1e-10:
            break
    return beta[0], beta[1:]


def rank_auc(y: np.ndarray, s: np.ndarray) -> float:
    """Mann-Whitney AUC with ties counted one half."""
    y = np.asarray(y, dtype=bool)
    pos, neg = np.asarray(s)[y], np.asarray(s)[~y]
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(greater / (len(pos) * len(neg)))


def stratified_folds(y: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Fold index per sample: each class shuffled and dealt round-robin over k folds."""
    fold = np.empty(len(y), dtype=int)
    for cls in (0, 1):
        idx = rng.permutation(np.flatnonzero(y == cls))
        fold[idx] = np.arange(len(idx)) % k
    return fold


def learnable_ceiling(x: np.ndarray, y: np.ndarray, k: int = 5, repeats: int = 10,
                      seed: int = 0, c: float = 1.0) -> float:
    """Mean over `repeats` fold draws of the pooled out-of-fold AUC of a ridge logistic model
    (features standardised on the training folds). k shrinks to the minority class size."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=int)
    k = int(min(k, y.sum(), (1 - y).sum()))
    if k < 2:
        return float("nan")
    rng = np.random.default_rng([int(seed), 9001])
    aucs = []
    for _ in range(repeats):
        fold = stratified_folds(y, k, rng)
        oof = np.empty(len(y))
        for f in range(k):
            tr, te = fold != f, fold == f
            mu, sd = x[tr].mean(0), x[tr].std(0)
            sd[sd == 0] = 1.0
            b0, w = ridge_logistic((x[tr] - mu) / sd, y[tr], c)
            oof[te] = b0 + ((x[te] - mu) / sd) @ w
        aucs.append(rank_auc(y, oof))
    return float(np.mean(aucs))
