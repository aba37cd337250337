"""IVIM-DWI: voxel-wise segmented bi-exponential fit (D, D*, f), mono-exponential ADC, tumour VOI
statistics and the inter-reader ICC (seed-003 §3). `fit` holds the pure array functions; `maps`
the volume I/O; `gather` the per-patient feature table; `cli` the `hccer ivim` commands."""
