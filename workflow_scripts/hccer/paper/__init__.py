"""Paper assembly: every table and figure of a study preset, built from the prediction ledger
and the cohort files by generic builders (`kind`s) that the preset's `reproduce` block names.

`spec` turns the preset into one paper spec (items, model catalogue, statistics options),
`inputs` reads the run's files, `tables` / `figures` / `netsummary` hold the builders and
`output` the writers; `cli` is `hccer paper table|figure`.
"""
