"""Synthetic twin cohorts: raw DICOM, masks and clinical data with a known oracle."""

from hccer.synth.clinical import simulate_clinical
from hccer.synth.twins import PRESETS, load_twin, patient_codes

__all__ = ["PRESETS", "load_twin", "patient_codes", "simulate_clinical", "generate_cohort"]


def generate_cohort(*args, **kwargs):
    """Write a twin cohort (see `hccer.synth.generate.generate_cohort`)."""
    from hccer.synth.generate import generate_cohort as _gen

    return _gen(*args, **kwargs)
