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


TINY_TARGETS = ["homo", "u0"]


@pytest.fixture()
def tiny_registry(tmp_path, monkeypatch):
    """Checkpoint and data folders in tmp_path holding one tiny untrained two-target
    molecule model 'tiny', set as the default (see pamnet.testing.write_tiny_registry).
    Returns the checkpoint folder."""
    from pamnet.testing import write_tiny_registry

    env = write_tiny_registry(tmp_path)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return tmp_path / "ckpts"
