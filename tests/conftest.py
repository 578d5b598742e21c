import os

import pytest
import torch

if os.environ.get("PYTEST_XDIST_WORKER"):
    # Two workers share two cores: one thread each avoids oversubscription, which
    # slows torch's small kernels many times over. Subprocesses inherit the limit.
    torch.set_num_threads(1)
    os.environ.setdefault("OMP_NUM_THREADS", "1")


# A `pamnet serve` the developer left running must not answer the suite's commands
# (tests/test_serve.py starts its own).
os.environ["PAMNET_SERVE"] = "0"


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    yield


def pytest_collection_modifyitems(config, items):
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "cuda" in item.keywords and not torch.cuda.is_available():
            item.add_marker(skip)
        if "browser" in item.nodeid.split("::")[0].split("/"):
            # One worker runs every browser test, so one app server serves them all.
            item.add_marker(pytest.mark.xdist_group("browser"))


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
