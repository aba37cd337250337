"""Clinical variable coding, staging comparators and classical classifiers writing the ledger."""
