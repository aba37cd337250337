"""cohort step."""
