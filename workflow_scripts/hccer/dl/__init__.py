"""Deep-learning track: networks, datasets, the training loop and per-fold training jobs.

Small modules, one concern each: `resnet`, `attention` and `vit` (building blocks), `networks`
(the registry of trainable networks, chosen by config), `data` (crops to tensors,
augmentation), `train` (loop, resume files, early stopping), `experiments` (config entries to
resolved settings), `tabular` (the tabular inputs of image + tabular networks), `warmstart`
(trunks started from the best other experiment), `job` (one (experiment, fold, seed) job:
train, predict, write the ledger part), `checkpoint` (the one checkpoint format and
`load_model`), `gradcam` (class activation maps), `rescore` (a trained network on other crops),
`figures` (training curves) and `cli`. The IVIM ViT pipeline (`hccer.ivimvit`) is built on
these.
"""
