"""Reproduction report: published vs reproduced numbers, TRIPOD+AI checklist, provenance."""
