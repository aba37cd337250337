"""hccer: DICOM to validated statistics for early recurrence of HCC after resection."""

__version__ = "0.1.0"
