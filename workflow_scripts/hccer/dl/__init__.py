"""Deep-learning track: networks, datasets, the training loop and per-fold training jobs.

Small modules, one concern each: `resnet` and `attention` (building blocks), `networks` (the
registry of trainable networks, chosen by config), `data` (crops to tensors, augmentation),
`train` (loop, resume files, early stopping), `experiments` (config entries to resolved
settings), `job` (one (experiment, fold, seed) job: train, predict, write the ledger part),
`checkpoint` (the one checkpoint format and `load_model`), `gradcam` (class activation maps)
and `cli`. The IVIM ViT pipeline (`hccer.ivimvit`) is built on these.
"""
