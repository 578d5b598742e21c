"""The dipole head (`ModelConfig.dipole_target`, `pamnet.heads`): an addition beside the
paper's readout that reads one target as |Σ q_i (r_i − r̄)|."""

from __future__ import annotations

import pytest
import torch

from pamnet import inference
from pamnet.checkpoint import Normalization
from pamnet.config import ModelConfig
from pamnet.data import GraphInput, collate
from pamnet.errors import ConfigError
from pamnet.heads import DEBYE_PER_E_ANGSTROM, dipole_normalization, with_dipole_head
from pamnet.model import PAMNet
from pamnet.testing import assert_invariant, random_molecule, random_rotation, tiny_model

K = 1  # the dipole target of the 3-target tiny models below


def _pair():
    """(the paper's model, the same weights with target K read as a dipole), float64."""
    plain = tiny_model(num_targets=3).double()
    dipole = PAMNet(with_dipole_head(plain.config, _norm(), ["a", "mu", "b"], "mu")[0]).double()
    dipole.load_state_dict(plain.state_dict())
    return plain.eval(), dipole.eval()


def _norm():
    ref = [[0.1 * k, 0.2 * k, -0.3 * k] for k in range(5)]
    return Normalization([0.7, 2.6, -1.0], [2.5, 1.5, 0.4], [False, False, True], ref)


def test_the_dipole_is_the_norm_of_the_charges_first_moment_and_the_rest_is_unchanged():
    plain, dipole = _pair()
    mols = [random_molecule(n, seed=n, dtype=torch.float64) for n in (7, 12, 3)]
    batch = collate(mols)
    with torch.no_grad():
        a = plain(batch, return_contributions=True)
        b = dipole(batch)
    for g, mol in enumerate(mols):
        atoms = batch.graph == g
        q = a.contributions[:, atoms, K].sum(0)  # the channel's fused atomic terms: charges
        rel = mol.pos - mol.pos.mean(0)
        expected = (q[:, None] * rel).sum(0).norm()
        torch.testing.assert_close(b.prediction[g, K], expected, rtol=0, atol=1e-12)
    others = [0, 2]  # the paper's readout for the other targets, bit for bit
    torch.testing.assert_close(b.prediction[:, others], a.prediction[:, others], rtol=0, atol=0)
    assert (b.prediction[:, K] >= 0).all()


def test_contributions_and_their_local_global_split_add_up_to_the_dipole():
    _, dipole = _pair()
    mol = random_molecule(12, seed=5, dtype=torch.float64)
    norm = dipole_normalization(_norm(), K)
    out = inference.run(dipole, collate([mol]), norm, attention=True, contributions=True)
    assert out.values[0, K] > 0
    torch.testing.assert_close(out.contributions[..., K].sum(), out.values[0, K], rtol=0, atol=1e-9)
    offset = out.offset[:, K].sum()
    assert offset == 0  # mean 0, no atom reference: the bars alone are the dipole
    torch.testing.assert_close(out.channels[..., K].sum(), out.values[0, K], rtol=0, atol=1e-9)
    assert out.channels[:, :, 0, K].abs().sum() > 0 and out.channels[:, :, 1, K].abs().sum() > 0
    # physical units: std x |d|, never negative, whatever the charges do
    raw = dipole(collate([mol])).prediction[0, K]
    torch.testing.assert_close(out.values[0, K], raw * norm.std[K], rtol=1e-12, atol=0)


def test_invariant_under_rotation_translation_and_permutation():
    _, dipole = _pair()
    mol = random_molecule(15, seed=3, dtype=torch.float64)
    assert_invariant(dipole, mol, atol=1e-9)
    norm = dipole_normalization(_norm(), K)
    out = inference.run(dipole, collate([mol]), norm, contributions=True)
    rot = random_rotation(torch.Generator().manual_seed(1))
    moved = GraphInput(
        pos=mol.pos @ rot.T + 3.0, atom_type=mol.atom_type, bond_index=mol.bond_index
    )
    again = inference.run(dipole, collate([moved]), norm, contributions=True)
    torch.testing.assert_close(again.channels, out.channels, rtol=0, atol=1e-9)


def test_gradients_flow_to_the_charges_and_match_finite_differences():
    from torch.func import functional_call

    _, dipole = _pair()
    batch = collate([random_molecule(6, seed=2, dtype=torch.float64)])
    name = "local_layer.1.W_out.weight"  # the last layer's output weights (charges among them)
    weight = dict(dipole.named_parameters())[name].detach().clone().requires_grad_(True)

    def mu(w):
        return functional_call(dipole, {name: w}, (batch,)).prediction[0, K]

    (grad,) = torch.autograd.grad(mu(weight), weight)
    assert grad[K].abs().sum() > 0  # the charge channel learns
    torch.autograd.gradcheck(mu, (weight,), atol=1e-6)


def test_config_and_normalisation_are_checked():
    with pytest.raises(ConfigError, match="dipole_target"):
        ModelConfig(num_targets=2, dipole_target=2)
    with pytest.raises(ConfigError, match="molecules"):
        ModelConfig(task="rna", num_atom_types=3, dipole_target=0)
    with pytest.raises(ConfigError, match="predicts"):
        with_dipole_head(ModelConfig(num_targets=3), _norm(), ["a", "mu", "b"], "dipole")
    norm = dipole_normalization(_norm(), K)
    assert norm.mean[K] == 0 and not norm.per_atom[K] and all(r[K] == 0 for r in norm.atom_ref)
    assert norm.mean[2] == -1.0 and norm.atom_ref[2][2] == -0.6  # others untouched
    from pamnet.training import GraphDataset, TrainConfig, Trainer

    _, dipole = _pair()
    data = GraphDataset([random_molecule(5, seed=1)], torch.zeros(1, 3))
    with pytest.raises(ConfigError, match="mean 0"):
        Trainer(dipole.float(), data, _norm(), ["a", "mu", "b"], TrainConfig(epochs=1))
    Trainer(dipole.float(), data, norm, ["a", "mu", "b"], TrainConfig(epochs=1))  # fine


def test_a_checkpoint_with_a_wrong_dipole_normalisation_is_refused(tmp_path):
    from pamnet.checkpoint import load_checkpoint, save_checkpoint
    from pamnet.errors import CheckpointError

    _, dipole = _pair()
    targets, units = ["a", "mu", "b"], {"mu": "D"}
    save_checkpoint(
        tmp_path / "ok.pt", dipole.float(), targets, units, dipole_normalization(_norm(), K)
    )
    assert load_checkpoint(tmp_path / "ok.pt").model.config.dipole_target == K
    save_checkpoint(tmp_path / "bad.pt", dipole.float(), targets, units, _norm())
    with pytest.raises(CheckpointError, match=r"bad.pt: the dipole head's target needs .* mean 0"):
        load_checkpoint(tmp_path / "bad.pt")


def test_debye_conversion_constant():
    # 1 e·Å = 4.80320 D (1 D = 3.33564e-30 C·m; e = 1.602177e-19 C)
    assert DEBYE_PER_E_ANGSTROM == pytest.approx(1.602177e-19 * 1e-10 / 3.33564e-30, rel=1e-5)


def test_a_run_started_from_a_dipole_checkpoint_records_its_head():
    # `pamnet train --init <a model with the head>` keeps the head; the card must say so
    from pamnet.qm9_recipe import heads_metadata

    targets = ["a", "mu", "b"]
    assert heads_metadata(ModelConfig(num_targets=3), targets) is None
    head, _ = with_dipole_head(ModelConfig(num_targets=3), _norm(), targets, "mu")
    assert heads_metadata(head, targets) == {"mu": "dipole"}
