from pathlib import Path

import pytest
import torch

FIXTURES = Path(__file__).parent / "fixtures"
SHARED_REF = Path(__file__).resolve().parents[2] / "shared" / "reference" / "official-pamnet"


@pytest.fixture(autouse=True)
def _seed_and_threads():
    torch.manual_seed(0)
    yield


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)
