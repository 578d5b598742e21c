"""Checkpoints are untrusted input: absurd configs are refused before anything is allocated."""

import time

import pytest
import torch

from pamnet.checkpoint import FORMAT, load_checkpoint
from pamnet.config import BOUNDS, MAX_PARAMETERS, ModelConfig
from pamnet.errors import CheckpointError, ConfigError


@pytest.mark.parametrize(
    "field, value",
    [
        ("dim", 200_000),
        ("num_spherical", 30),
        ("num_radial", 40),
        ("n_layer", 10_000),
        ("knn_k", 10**9),
        ("num_targets", -1),
        ("dim", 3.5),
        ("dim", True),
        ("cutoff_g", 1e6),
        ("cutoff_l", float("nan")),
    ],
)
def test_an_absurd_checkpoint_config_is_refused_at_once(tmp_path, field, value):
    path = tmp_path / "evil.pt"
    config = {**ModelConfig(dim=8, n_layer=1).to_dict(), field: value}
    torch.save({"format": FORMAT, "model": {}, "config": config}, path)
    start = time.perf_counter()
    with pytest.raises(CheckpointError, match=field):
        load_checkpoint(path)
    assert time.perf_counter() - start < 10  # a hang guard, not a speed target


def test_the_bounds_admit_the_papers_models_and_refuse_what_does_not_fit_memory():
    ModelConfig(dim=128, n_layer=6, num_spherical=7, num_radial=6)  # the paper's QM9 model
    for name, (low, high) in BOUNDS.items():
        if name not in ("dim", "n_layer"):  # those two are also bounded by their product
            ModelConfig(**{name: high})
        with pytest.raises(ConfigError, match=name):
            ModelConfig(**{name: high + 1})
        with pytest.raises(ConfigError, match=name):
            ModelConfig(**{name: low - 1})
    with pytest.raises(ConfigError, match="weights"):
        ModelConfig(dim=1024, n_layer=32)
    assert ModelConfig(dim=512, n_layer=8).estimated_parameters < MAX_PARAMETERS


def test_the_largest_accepted_basis_builds_fast_and_matches_the_closed_forms():
    from pamnet.nn.basis import SphericalBasis

    start = time.perf_counter()
    basis = SphericalBasis(BOUNDS["num_spherical"][1], BOUNDS["num_radial"][1], cutoff=5.0)
    assert time.perf_counter() - start < 5  # no symbolic derivation at load
    dist = torch.linspace(0.5, 4.9, 7, dtype=torch.float64)
    angle = torch.linspace(0.1, 3.0, 7, dtype=torch.float64)
    out = basis(dist, angle, torch.arange(7))
    assert out.shape == (7, 81) and torch.isfinite(out).all()
    # j_0(n pi x) normalised, times Y_0^0: sqrt(2) sin(n pi x) / x / sqrt(4 pi), with u(x)
    x = dist / 5.0
    expect = basis.envelope(x) * 2**0.5 * torch.sin(3 * torch.pi * x) / x / (4 * torch.pi) ** 0.5
    torch.testing.assert_close(out[:, 2], expect, rtol=1e-6, atol=1e-9)
