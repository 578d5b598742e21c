"""atomic_write: the one tmp-then-replace writer used for caches, states and checkpoints."""

import pytest

from pamnet.paths import atomic_write


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path):
    path = tmp_path / "sub" / "state.pt"
    atomic_write(path, lambda tmp: tmp.write_text("one"))
    atomic_write(path, lambda tmp: tmp.write_text("two"))
    assert path.read_text() == "two"
    assert [p.name for p in path.parent.iterdir()] == ["state.pt"]


def test_atomic_write_failure_keeps_old_file_and_no_partial(tmp_path):
    path = tmp_path / "state.pt"
    path.write_text("old")

    def half(tmp):
        tmp.write_text("half-written")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, half)
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["state.pt"]


def test_distributed_reads_torchrun_env_without_a_group(monkeypatch):
    import torch

    from pamnet import distributed

    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("WORLD_SIZE", "1")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert (distributed.rank(), distributed.world_size(), distributed.local_rank()) == (3, 1, 1)
    assert distributed.init(torch.device("cpu")) == torch.device("cpu")  # world of one: no group
    distributed.barrier()
    distributed.leave()
