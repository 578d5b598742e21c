"""QM9 (130,831 small organic molecules, B3LYP/6-31G(2df,p) geometries and properties).

Read from the CSV files shipped in the `qm9pack` package (we never import qm9pack
itself: its `__init__` needs `pkg_resources`). Parsing all molecules and perceiving
their bonds takes about a minute, so the result is cached as one tensor file under
`$PAMNET_DATA_DIR` (default `~/.cache/pamnet`); later loads take seconds.

Targets, in this order and in the paper's units (energies in eV, Hartree x 27.211386):
mu (D), alpha (a0^3), homo, lumo, gap (eV), r2 (a0^2), zpve (eV), u0, u, h, g (eV),
cv (cal/mol/K). U0/U/H/G are total energies; the model learns atomization energies
because the isolated-atom energies (`ATOM_REF_HARTREE`) go into `Normalization.atom_ref`.

Bonds (the local graph) are perceived from the DFT geometry exactly as the app's XYZ
reader does (`Structure.perceive_bonds`: RDKit rdDetermineBonds, falling back to
covalent radii + 0.45 Å; both give the same connectivity). For ~4.5 % of molecules,
strained rings put two atoms within bonding distance that the SMILES does not bond,
so SMILES/SDF inputs can have one bond fewer than the training graphs.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from pamnet.checkpoint import Normalization
from pamnet.data import GraphInput
from pamnet.errors import DataError
from pamnet.paths import atomic_write

HARTREE_TO_EV = 27.211386
TARGETS = ("mu", "alpha", "homo", "lumo", "gap", "r2", "zpve", "u0", "u", "h", "g", "cv")
UNITS = {
    "mu": "D",
    "alpha": "a0^3",
    "homo": "eV",
    "lumo": "eV",
    "gap": "eV",
    "r2": "a0^2",
    "zpve": "eV",
    "u0": "eV",
    "u": "eV",
    "h": "eV",
    "g": "eV",
    "cv": "cal/mol/K",
}
_COLUMNS = {  # target -> (CSV column, factor to the paper's unit)
    "mu": ("Dipole_debye", 1.0),
    "alpha": ("Polarizability_bohr3", 1.0),
    "homo": ("HOMO_au", HARTREE_TO_EV),
    "lumo": ("LUMO_au", HARTREE_TO_EV),
    "gap": ("HOMO_LUMO_gap_au", HARTREE_TO_EV),
    "r2": ("R2_bohr2", 1.0),
    "zpve": ("ZPVE_au", HARTREE_TO_EV),
    "u0": ("InternalEnergy_0K_au", HARTREE_TO_EV),
    "u": ("InternalEnergy_298K_au", HARTREE_TO_EV),
    "h": ("Enthalphy_298K_au", HARTREE_TO_EV),
    "g": ("GibbsFreeEnergy_298K_au", HARTREE_TO_EV),
    "cv": ("Heatcapacity_Cv_cal_mol_K", 1.0),
}
ELEMENTS = ("H", "C", "N", "O", "F")  # atom_type 0..4
# Isolated-atom energies (Hartree) of QM9's B3LYP/6-31G(2df,p) atomref table: U0, U, H, G.
ATOM_REF_HARTREE = {
    "u0": (-0.500273, -37.846772, -54.583861, -75.064579, -99.718730),
    "u": (-0.498857, -37.845355, -54.582445, -75.063163, -99.717314),
    "h": (-0.497912, -37.844411, -54.581501, -75.062219, -99.716370),
    "g": (-0.510927, -37.861317, -54.598897, -75.079532, -99.733544),
}
# Extensive targets get a per-atom mean (after the atom references for energies).
PER_ATOM = {"alpha", "zpve", "u0", "u", "h", "g", "cv"}

NUM_MOLECULES = 130_831
N_TRAIN, N_VAL = 110_000, 10_000
MAX_HEAVY, MAX_ATOMS = 9, 29  # the largest QM9 molecules: 9 heavy atoms, 29 with H
CACHE_VERSION = 1
_CSV_FILES = ("qm9_part1.csv", "qm9_part2.csv", "qm9_part3.csv")


def csv_dir() -> Path:
    """Folder of qm9pack's CSV files; `DataError` when the package is not installed."""
    spec = importlib.util.find_spec("qm9pack")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("QM9 needs the `qm9pack` package (pip install qm9pack)")
    return Path(list(spec.submodule_search_locations)[0]) / "data"


def cache_dir() -> Path:
    """`$PAMNET_DATA_DIR/cache` when that is set, else `~/.cache/pamnet`."""
    data = os.environ.get("PAMNET_DATA_DIR")
    return Path(data) / "cache" if data else Path.home() / ".cache" / "pamnet"


def default_checkpoint() -> Path:
    """The shipped multi-target QM9 model (in `$PAMNET_CHECKPOINTS` when set)."""
    from pamnet.registry import shipped_dir

    return shipped_dir() / "qm9_pamnet.pt"


@dataclass
class QM9:
    """Molecules in QM9 order (sorted by QM9 index), stored as concatenated tensors.

    pos: [A, 3] float32 Å; atom_type: [A] int8 (H,C,N,O,F = 0..4); atom_ptr: [n+1];
    bonds: [B, 2] int16 atom pairs (i < j, local indices); bond_ptr: [n+1];
    y: [n, 12] float64 targets in `UNITS`; index: [n] QM9 ids; smiles: [n].
    """

    pos: Tensor
    atom_type: Tensor
    atom_ptr: Tensor
    bonds: Tensor
    bond_ptr: Tensor
    y: Tensor
    index: Tensor
    smiles: list[str]

    def __len__(self) -> int:
        return int(self.index.numel())

    def n_atoms(self) -> Tensor:
        """[n] atom counts."""
        return self.atom_ptr[1:] - self.atom_ptr[:-1]

    def graph(self, i: int) -> GraphInput:
        """Molecule i as model input (bonds both directions)."""
        a0, a1 = int(self.atom_ptr[i]), int(self.atom_ptr[i + 1])
        b0, b1 = int(self.bond_ptr[i]), int(self.bond_ptr[i + 1])
        b = self.bonds[b0:b1].long().T  # [2, B]
        return GraphInput(
            pos=self.pos[a0:a1],
            atom_type=self.atom_type[a0:a1].long(),
            bond_index=torch.cat([b, b.flip(0)], 1),
            name=f"gdb_{int(self.index[i])}",
        )

    def graphs(self, rows: Tensor | list[int] | None = None) -> list[GraphInput]:
        rows = range(len(self)) if rows is None else [int(r) for r in rows]
        return [self.graph(i) for i in rows]

    def subset(self, rows: Tensor | list[int]) -> QM9:
        """The molecules at `rows` (positions, not QM9 ids), in that order."""
        rows = torch.as_tensor(rows, dtype=torch.long)
        n_a, n_b = self.n_atoms(), self.bond_ptr[1:] - self.bond_ptr[:-1]
        atom_rows = torch.cat(
            [torch.arange(int(self.atom_ptr[r]), int(self.atom_ptr[r + 1])) for r in rows]
        )
        bond_rows = torch.cat(
            [torch.arange(int(self.bond_ptr[r]), int(self.bond_ptr[r + 1])) for r in rows]
        )
        return QM9(
            pos=self.pos[atom_rows],
            atom_type=self.atom_type[atom_rows],
            atom_ptr=_ptr(n_a[rows]),
            bonds=self.bonds[bond_rows],
            bond_ptr=_ptr(n_b[rows]),
            y=self.y[rows],
            index=self.index[rows],
            smiles=[self.smiles[int(r)] for r in rows],
        )


def _ptr(counts: Tensor) -> Tensor:
    return torch.cat([torch.zeros(1, dtype=torch.long), torch.cumsum(counts.long(), 0)])


def _read_csv():
    import pandas as pd

    cols = ["Index", "SMILES", "Elements", "XYZ_Ang"] + [c for c, _ in _COLUMNS.values()]
    d = csv_dir()
    frames = [pd.read_csv(d / f, usecols=cols) for f in _CSV_FILES]
    df = pd.concat(frames, ignore_index=True).sort_values("Index", kind="stable")
    return df.reset_index(drop=True)


def _coords(text: str) -> np.ndarray:
    # Values like "0." and Mathematica exponents "1.2*^-6" occur in the raw QM9 files.
    flat = text.replace("[", "").replace("]", "").replace("*^", "e").split(",")
    return np.array(flat, dtype=np.float64).reshape(-1, 3)


def _elements(text: str) -> list[str]:
    return [e.strip().strip("'\"") for e in text.strip("[]").split(",")]


def build(rows: list[int] | Tensor | None = None) -> QM9:
    """Parse the CSVs (all molecules, or positions `rows` in QM9 order) and perceive bonds."""
    from pamnet.structure import Structure

    df = _read_csv()
    if len(df) != NUM_MOLECULES:
        raise DataError(f"expected {NUM_MOLECULES} QM9 molecules in {csv_dir()}, found {len(df)}")
    if rows is not None:
        df = df.iloc[[int(r) for r in rows]]
    y = np.stack([df[c].to_numpy(np.float64) * f for c, f in _COLUMNS.values()], 1)
    type_of = {e: k for k, e in enumerate(ELEMENTS)}
    pos, types, bonds, n_atoms, n_bonds = [], [], [], [], []
    for els_text, xyz_text in zip(df["Elements"], df["XYZ_Ang"]):
        els, xyz = _elements(els_text), _coords(xyz_text)
        b = Structure(els, xyz).perceive_bonds().bonds
        b = np.sort(b, axis=1) if len(b) else np.zeros((0, 2), np.int64)
        pos.append(xyz)
        types.append([type_of[e] for e in els])
        bonds.append(b)
        n_atoms.append(len(els))
        n_bonds.append(len(b))
    return QM9(
        pos=torch.from_numpy(np.concatenate(pos)).float(),
        atom_type=torch.tensor(np.concatenate(types), dtype=torch.int8),
        atom_ptr=_ptr(torch.tensor(n_atoms)),
        bonds=torch.from_numpy(np.concatenate(bonds)).to(torch.int16),
        bond_ptr=_ptr(torch.tensor(n_bonds)),
        y=torch.from_numpy(y),
        index=torch.tensor(df["Index"].to_numpy(np.int64)),
        smiles=[str(s) for s in df["SMILES"]],
    )


def heavy_atoms() -> np.ndarray:
    """[130,831] heavy-atom count of every molecule in QM9 order (from the CSVs: seconds)."""
    return np.array([sum(e != "H" for e in _elements(t)) for t in _read_csv()["Elements"]])


def cache_path() -> Path:
    return cache_dir() / f"qm9_v{CACHE_VERSION}.pt"


def load(rows: list[int] | Tensor | None = None, cache: bool = True) -> QM9:
    """QM9 from the cache (built on first use), or only `rows` parsed fresh when there is
    no cache yet and `rows` is given (fast for tests and `--limit`)."""
    path = cache_path()
    if path.is_file():
        d = torch.load(path, map_location="cpu", weights_only=True)
        if d.get("version") == CACHE_VERSION:
            data = QM9(**{k: v for k, v in d.items() if k != "version"})
            return data if rows is None else data.subset(rows)
    if rows is not None:
        return build(rows)
    data = build()
    if cache:
        payload = {"version": CACHE_VERSION, **data.__dict__}
        atomic_write(path, lambda tmp: torch.save(payload, tmp))
    return data


# --- split ------------------------------------------------------------------
def split(
    seed: int = 0, n_train: int = N_TRAIN, n_val: int = N_VAL, n: int = NUM_MOLECULES
) -> dict[str, Tensor]:
    """{'train', 'val', 'test'}: positions in QM9 order from `torch.randperm` seeded with
    `torch.Generator().manual_seed(seed)`; the first n_train, the next n_val, the rest."""
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return {
        "train": perm[:n_train],
        "val": perm[n_train : n_train + n_val],
        "test": perm[n_train + n_val :],
    }


def split_hash(parts: dict[str, Tensor]) -> str:
    """sha256 (first 16 hex) of the train, val, test index order."""
    h = hashlib.sha256()
    for name in ("train", "val", "test"):
        h.update(name.encode())
        h.update(parts[name].to(torch.int64).numpy().tobytes())
    return h.hexdigest()[:16]


def split_metadata(seed: int = 0) -> dict:
    parts = split(seed)
    return {
        "seed": seed,
        "method": "torch.randperm(130831, generator=torch.Generator().manual_seed(seed)); "
        "train = first 110000, val = next 10000, test = rest (positions in QM9-index order)",
        "counts": {k: int(v.numel()) for k, v in parts.items()},
        "sha256_16": split_hash(parts),
    }


# --- normalization ----------------------------------------------------------
def atom_ref() -> list[list[float]]:
    """[5][12] per-element reference added per atom (eV for U0/U/H/G, 0 elsewhere)."""
    table = [[0.0] * len(TARGETS) for _ in ELEMENTS]
    for t, refs in ATOM_REF_HARTREE.items():
        for k, e_h in enumerate(refs):
            table[k][TARGETS.index(t)] = e_h * HARTREE_TO_EV
    return table


def normalization(data: QM9) -> Normalization:
    """Mean/std of the (atomization) targets of `data`, per atom for extensive ones."""
    ref = torch.tensor(atom_ref(), dtype=torch.float64)  # [5, T]
    counts = torch.zeros(len(data), len(ELEMENTS), dtype=torch.float64)
    mol = torch.repeat_interleave(torch.arange(len(data)), data.n_atoms())
    counts.index_put_(
        (mol, data.atom_type.long()), torch.ones(mol.numel(), dtype=torch.float64), accumulate=True
    )
    resid = data.y - counts @ ref  # [n, T]
    n = data.n_atoms().to(torch.float64)[:, None]
    per_atom = torch.tensor([t in PER_ATOM for t in TARGETS])
    mean = torch.where(per_atom, (resid / n).mean(0), resid.mean(0))
    centred = resid - torch.where(per_atom, mean * n, mean)
    return Normalization(
        mean=mean.tolist(),
        std=centred.std(0).tolist(),
        per_atom=per_atom.tolist(),
        atom_ref=atom_ref(),
    )
