"""Test oracles shipped with the package: random structures and invariance checks."""

from __future__ import annotations

import torch
from torch import Tensor

from pamnet.checkpoint import Normalization, save_checkpoint
from pamnet.config import ModelConfig
from pamnet.data import GraphInput, collate
from pamnet.model import PAMNet


def random_rotation(generator: torch.Generator | None = None, dtype=torch.float64) -> Tensor:
    """A uniformly random proper rotation matrix [3, 3]."""
    q = torch.randn(4, generator=generator, dtype=torch.float64)
    q = q / q.norm()
    a, b, c, d = q.tolist()
    rot = torch.tensor(
        [
            [a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c)],
            [2 * (b * c + a * d), a * a - b * b + c * c - d * d, 2 * (c * d - a * b)],
            [2 * (b * d - a * c), 2 * (c * d + a * b), a * a - b * b - c * c + d * d],
        ],
        dtype=torch.float64,
    )
    return rot.to(dtype)


def random_molecule(
    n: int, seed: int = 0, num_types: int = 5, spacing: float = 1.4, dtype=torch.float32
) -> GraphInput:
    """A random chain-like 'molecule' of n atoms (positions in Å): consecutive atoms
    0.9-1.1 x `spacing` apart, any two atoms at least 0.7 x `spacing` apart; bonds along
    the chain plus any pair closer than 1.6 Å; random types in [0, num_types).

    Step lengths and directions are continuous random numbers, so no two distances are
    exactly equal: kNN and cutoff graphs have no ties that a rotation could flip."""
    g = torch.Generator().manual_seed(seed)
    lengths = spacing * (0.9 + 0.2 * torch.rand(n, generator=g, dtype=torch.float64))
    pos = torch.zeros(n, 3, dtype=torch.float64)
    for i in range(1, n):
        for _ in range(100):  # rejection sampling; a dead end keeps the last try
            step = torch.randn(3, generator=g, dtype=torch.float64)
            pos[i] = pos[i - 1] + step / step.norm() * lengths[i]
            if (pos[:i] - pos[i]).norm(dim=1).min() >= 0.7 * spacing:
                break
    d = torch.cdist(pos, pos)
    close = (d < 1.6) & ~torch.eye(n, dtype=torch.bool)
    chain = torch.zeros(n, n, dtype=torch.bool)
    idx = torch.arange(n - 1)
    chain[idx, idx + 1] = chain[idx + 1, idx] = True
    bonds = (close | chain).nonzero().T
    types = torch.randint(0, num_types, (n,), generator=g)
    return GraphInput(
        pos=pos.to(dtype), atom_type=types, bond_index=bonds, name=f"random_{n}_{seed}"
    )


def transformed(
    inp: GraphInput, rot: Tensor | None = None, shift: Tensor | None = None
) -> GraphInput:
    pos = inp.pos
    if rot is not None:
        pos = pos @ rot.to(pos.dtype).T
    if shift is not None:
        pos = pos + shift.to(pos.dtype)
    return GraphInput(
        pos, inp.atom_type, inp.atom_feat, inp.bond_index, inp.part, inp.sign, inp.name
    )


def permuted(inp: GraphInput, perm: Tensor) -> GraphInput:
    """The same structure with atoms reordered: new atom a is old atom perm[a]."""
    inv = torch.empty_like(perm)
    inv[perm] = torch.arange(perm.numel())

    def take(t):
        return None if t is None else t[perm]

    bonds = None if inp.bond_index is None else inv[inp.bond_index]
    return GraphInput(
        inp.pos[perm],
        take(inp.atom_type),
        take(inp.atom_feat),
        bonds,
        take(inp.part),
        take(inp.sign),
        inp.name,
    )


@torch.no_grad()
def assert_invariant(model: PAMNet, inp: GraphInput, atol: float = 1e-4, seed: int = 0) -> None:
    """Prediction unchanged under a random rotation, a translation and an atom permutation;
    per-atom attention moves with the atoms."""
    g = torch.Generator().manual_seed(seed)
    base = model(collate([inp]), return_attention=True)
    rot = random_rotation(g)
    shift = torch.randn(3, generator=g) * 10
    for name, other in [
        ("rotation", transformed(inp, rot=rot)),
        ("translation", transformed(inp, shift=shift)),
    ]:
        out = model(collate([other]), return_attention=True)
        msg = f"{name} changed the prediction"
        torch.testing.assert_close(out.prediction, base.prediction, atol=atol, rtol=0, msg=msg)
        torch.testing.assert_close(out.attention, base.attention, atol=atol, rtol=0)
    perm = torch.randperm(inp.num_atoms, generator=g)
    out = model(collate([permuted(inp, perm)]), return_attention=True)
    msg = "permutation changed the prediction"
    torch.testing.assert_close(out.prediction, base.prediction, atol=atol, rtol=0, msg=msg)
    torch.testing.assert_close(out.attention, base.attention[:, perm], atol=atol, rtol=0)


def tiny_model(task: str = "molecule", variant: str = "PAMNet", seed: int = 0, **kw) -> PAMNet:
    """A small randomly initialised model for tests (dim 8, 2 layers)."""
    torch.manual_seed(seed)
    params = dict(task=task, variant=variant, dim=8, n_layer=2, cutoff_l=3.0, cutoff_g=5.0)
    if task == "rna":
        params.update(num_atom_types=3, cutoff_l=2.6, knn_k=8)
    params.update(kw)
    return PAMNet(ModelConfig(**params)).eval()


def brute_radius_pairs(pos: Tensor, r: float, batch: Tensor | None = None) -> set[tuple[int, int]]:
    d = torch.cdist(pos.double(), pos.double())
    same = (
        torch.ones_like(d, dtype=torch.bool) if batch is None else batch[:, None] == batch[None, :]
    )
    mask = (d <= r) & same & ~torch.eye(len(pos), dtype=torch.bool)
    return {tuple(p) for p in mask.nonzero().tolist()}


# A glycine and a water in mmCIF (readers' and fuzz tests' seed).
SAMPLE_CIF = """data_t
loop_
_atom_site.group_PDB
_atom_site.id
_atom_site.type_symbol
_atom_site.label_atom_id
_atom_site.label_alt_id
_atom_site.label_comp_id
_atom_site.label_asym_id
_atom_site.label_entity_id
_atom_site.label_seq_id
_atom_site.pdbx_PDB_ins_code
_atom_site.Cartn_x
_atom_site.Cartn_y
_atom_site.Cartn_z
_atom_site.occupancy
_atom_site.B_iso_or_equiv
_atom_site.pdbx_formal_charge
_atom_site.auth_seq_id
_atom_site.auth_asym_id
_atom_site.pdbx_PDB_model_num
ATOM 1 N N . GLY A 1 1 ? 0.000 0.000 0.000 1.00 0.00 ? 1 A 1
ATOM 2 C CA . GLY A 1 1 ? 1.460 0.000 0.000 1.00 0.00 ? 1 A 1
ATOM 3 C C . GLY A 1 1 ? 2.010 1.420 0.000 1.00 0.00 ? 1 A 1
ATOM 4 O O . GLY A 1 1 ? 1.250 2.390 0.000 1.00 0.00 ? 1 A 1
HETATM 5 O O . HOH B 2 . ? 5.000 5.000 5.000 1.00 0.00 ? 101 B 1
"""


__all__ = [
    "calibrate_tiny",
    "SAMPLE_CIF",
    "assert_invariant",
    "brute_radius_pairs",
    "permuted",
    "random_molecule",
    "random_rotation",
    "tiny_model",
    "transformed",
]


TINY_TARGETS = ("homo", "u0")


def write_tiny_registry(folder) -> dict[str, str]:
    """A tiny untrained two-target molecule checkpoint 'tiny' (QM9-style normalization,
    DFT geometry) in folder/ckpts, and a data folder; returns the env variables that
    make it the registry's default (PAMNET_CHECKPOINTS, _DATA_DIR, _DEFAULT_CHECKPOINT)."""
    from pathlib import Path

    folder = Path(folder)
    ckpts = folder / "ckpts"
    norm = Normalization(
        mean=[-6.5, -2.0],
        std=[0.6, 0.3],
        per_atom=[False, True],
        atom_ref=[[0, -13.6], [0, -1030.0], [0, -1485.0], [0, -2042.0], [0, -2713.0]],
    )
    save_checkpoint(
        ckpts / "tiny.pt",
        tiny_model(num_targets=2),
        list(TINY_TARGETS),
        {"homo": "eV", "u0": "eV"},
        norm,
        {"dataset": "QM9 (tiny test model)", "geometry": "dft", "data": {"name": "qm9"}},
    )
    (ckpts / "tiny.md").write_text("# tiny\nA test model (untrained).")
    return {
        "PAMNET_CHECKPOINTS": str(ckpts),
        "PAMNET_DATA_DIR": str(folder / "data"),
        "PAMNET_DEFAULT_CHECKPOINT": "tiny",
    }


def calibrate_tiny(ckpts, n: int = 300):
    """Calibrate the tiny test model (`write_tiny_registry`) in place on its own
    predictions for 10 small molecules plus known noise; returns it loaded."""
    import numpy as np

    from pamnet.checkpoint import load_checkpoint, resave
    from pamnet.data import collate
    from pamnet.inference import run
    from pamnet.io import from_smiles
    from pamnet.uncertainty import calibrate

    lm = load_checkpoint(ckpts / "tiny.pt", "cpu")
    smiles = ["C" * k + "O" for k in range(1, 7)] + ["CC(=O)O", "c1ccccc1", "CCN", "CC#N"]
    graphs = [lm.model.task.featurize(from_smiles(s)) for s in smiles]
    out = run(lm.model, collate(graphs), lm.normalization, latent=True)
    reps = -(-n // len(graphs))
    pred = out.values.numpy().repeat(reps, 0)[:n]
    lat = out.latent.repeat_interleave(reps, 0)[:n]
    g = np.random.default_rng(0)
    y = pred + g.normal(scale=[0.1, 0.5], size=pred.shape)
    sizes = np.array([gr.num_atoms for gr in graphs]).repeat(reps)[:n]
    limits = {"dataset": "QM9", "max_heavy": 9, "max_atoms": 29, "charged": False}
    others = [lm.model.task.featurize(from_smiles(s)) for s in ("CC", "CCC", "CO", "CN", "OCCO")]
    bank = run(lm.model, collate(others), lm.normalization, latent=True).latent
    lm.calibration = calibrate(pred, y, lat, sizes, bank, lm.targets, limits, "test data")
    resave(lm, ckpts / "tiny.pt")
    return lm


def specialize_tiny(ckpts, target: str = "u0"):
    """Give the tiny test model (`write_tiny_registry`) a specialist for `target`: another
    tiny model, same config and normalisation (`pamnet.specialists`); returns it loaded."""
    from pamnet import specialists
    from pamnet.checkpoint import LoadedModel, load_checkpoint, resave

    base = load_checkpoint(ckpts / "tiny.pt", "cpu")
    other = LoadedModel(tiny_model(num_targets=2, seed=1), base.targets, base.units,
                        base.normalization, {})  # fmt: skip
    resave(specialists.attach(base, {target: other}), ckpts / "tiny.pt")
    return load_checkpoint(ckpts / "tiny.pt", "cpu")
