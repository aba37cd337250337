# Deep-learning training: one job per (experiment, fold, seed), checkpoints, ledger parts.
