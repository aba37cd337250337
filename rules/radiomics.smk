# Radiomics, clinical and classical-ML models: per-fold jobs writing ledger parts.
