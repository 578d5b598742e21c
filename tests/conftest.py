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
    """Checkpoint and data folders in tmp_path, holding one tiny untrained two-target
    molecule model named 'tiny' (QM9-style normalization, DFT geometry), also set as
    the default via PAMNET_DEFAULT_CHECKPOINT. Returns the checkpoint folder."""
    from pamnet.checkpoint import Normalization, save_checkpoint
    from pamnet.testing import tiny_model

    ckpts = tmp_path / "ckpts"
    monkeypatch.setenv("PAMNET_CHECKPOINTS", str(ckpts))
    monkeypatch.setenv("PAMNET_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PAMNET_DEFAULT_CHECKPOINT", "tiny")
    norm = Normalization(
        mean=[-6.5, -2.0],
        std=[0.6, 0.3],
        per_atom=[False, True],
        atom_ref=[[0, -13.6], [0, -1030.0], [0, -1485.0], [0, -2042.0], [0, -2713.0]],
    )
    save_checkpoint(
        ckpts / "tiny.pt",
        tiny_model(num_targets=2),
        TINY_TARGETS,
        {"homo": "eV", "u0": "eV"},
        norm,
        {"dataset": "qm9", "geometry": "dft"},
    )
    (ckpts / "tiny.md").write_text("# tiny\nA test model.")
    return ckpts
