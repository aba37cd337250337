"""One torch thread in unit tests: tiny tensors gain nothing from more, and on a busy 2-core
machine intra-op threads oversubscribe the cores (40x slower steps measured). A conftest
imports the fixture to apply it to its folder."""

import pytest
import torch


@pytest.fixture(autouse=True)
def one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
