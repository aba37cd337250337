"""The ivimvit unit tests run with one torch thread (tests/torchthreads.py)."""

from torchthreads import one_torch_thread  # noqa: F401
