"""Physics-aware heads beside the paper's readout (issue 16), selected in the config.

The dipole head (`ModelConfig.dipole_target`, see `pamnet.model`): one target, e.g.
QM9's μ, is read out as |Σ_i q_i (r_i − r̄)| from per-atom charges instead of as a sum
of atomic terms. The magnitude is what the model outputs, so it can never be negative;
and the per-atom, per-block, local/global contributions still add up to it exactly.

Its normalisation must have mean 0, no atom reference and be per structure: the
model's raw output is then |d| / std, and `pamnet.normalize` turns it into std·|d| ≥ 0
(the charges in e are q · std / 4.80320 when the target is in Debye and r in Å).

`with_dipole_head` turns a model and its normalisation (a shipped checkpoint, or a
training state being resumed) into the same weights with the head on one target: the
channel that held that target's atomic terms becomes its charges, and training adapts
it (benchmarks/ablate_heads.py measured this against the scalar readout).
"""

from __future__ import annotations

from dataclasses import replace

from pamnet.checkpoint import Normalization, check_dipole_normalization
from pamnet.config import ModelConfig
from pamnet.errors import ConfigError

DEBYE_PER_E_ANGSTROM = 4.80320


def dipole_normalization(norm: Normalization, k: int) -> Normalization:
    """`norm` with target k made fit for the dipole head: mean 0, per structure, no
    atom reference; its std (the spread of the target) is kept as the scale."""
    mean, per_atom = list(norm.mean), list(norm.per_atom)
    mean[k], per_atom[k] = 0.0, False
    atom_ref = None
    if norm.atom_ref is not None:
        atom_ref = [[0.0 if j == k else v for j, v in enumerate(row)] for row in norm.atom_ref]
    return Normalization(mean=mean, std=list(norm.std), per_atom=per_atom, atom_ref=atom_ref)


def with_dipole_head(
    config: ModelConfig, norm: Normalization, targets: list[str], target: str
) -> tuple[ModelConfig, Normalization]:
    """(config, normalisation) with `target` read out by the dipole head; the weights
    load unchanged (the head adds no parameters)."""
    if target not in targets:
        raise ConfigError(f"--dipole-head {target!r}: the model predicts {targets}")
    k = targets.index(target)
    if config.dipole_target not in (None, k):
        raise ConfigError(f"this model already reads {targets[config.dipole_target]} as a dipole")
    # ModelConfig refuses other tasks than 'molecule'
    return replace(config, dipole_target=k), dipole_normalization(norm, k)


__all__ = [
    "DEBYE_PER_E_ANGSTROM",
    "check_dipole_normalization",
    "dipole_normalization",
    "with_dipole_head",
]
