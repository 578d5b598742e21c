"""Bonds and bond orders with RDKit, on plain arrays (elements, coordinates in Å).

The layer below `pamnet.structure` (which perceives bonds through `determine_bonds`)
and `pamnet.io._rdkit` (the Structure <-> RDKit bridge); it imports nothing from
either, so neither import is a cycle.
"""

from __future__ import annotations

import numpy as np
from rdkit import Chem, rdBase

# Bond orders: 1, 2, 3 and 1.5 for aromatic; 0 when a file says "unknown/any".
AROMATIC = 1.5

quiet = rdBase.BlockLogs  # `with quiet(): ...` silences RDKit's logger

BOND_TYPES = {
    1.0: Chem.BondType.SINGLE,
    2.0: Chem.BondType.DOUBLE,
    3.0: Chem.BondType.TRIPLE,
    AROMATIC: Chem.BondType.AROMATIC,
}
_ORDER_OF = {
    Chem.BondType.SINGLE: 1.0,
    Chem.BondType.DOUBLE: 2.0,
    Chem.BondType.TRIPLE: 3.0,
    Chem.BondType.AROMATIC: AROMATIC,
}
# Bond-order search budget: keeps perception bounded on odd geometries.
_ORDER_ITERATIONS = 5000


def bare_mol(elements: list[str], coords: np.ndarray, charges=None) -> Chem.RWMol:
    """An RDKit mol of N atoms (symbols, [N, 3] Å, optional [N] formal charges), no bonds."""
    mol = Chem.RWMol()
    for k, el in enumerate(elements):
        atom = Chem.Atom(el)  # element symbols are normalized ('Cl', never 'CL')
        if charges is not None:
            atom.SetFormalCharge(int(charges[k]))
        mol.AddAtom(atom)
    conf = Chem.Conformer(len(elements))
    conf.SetPositions(np.ascontiguousarray(coords, dtype=np.float64))
    conf.Set3D(True)
    mol.AddConformer(conf, assignId=True)
    return mol


def bonds_of(mol: Chem.Mol) -> tuple[np.ndarray, np.ndarray]:
    """([B, 2] pairs, [B] orders) of an RDKit mol, Kekulé orders where possible."""
    work = Chem.Mol(mol)
    try:
        Chem.Kekulize(work, clearAromaticFlags=True)
    except Exception:  # noqa: BLE001 - keep aromatic 1.5 orders when RDKit cannot kekulize
        work = mol
    pairs = np.array(
        [(b.GetBeginAtomIdx(), b.GetEndAtomIdx()) for b in work.GetBonds()], dtype=np.int64
    ).reshape(-1, 2)
    orders = np.array(
        [_ORDER_OF.get(b.GetBondType(), 1.0) for b in work.GetBonds()], dtype=np.float64
    )
    return pairs, orders


def determine_bonds(
    elements: list[str], coords: np.ndarray, charge: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(bonds, orders, formal charges) from RDKit's rdDetermineBonds, or None if it fails."""
    from rdkit.Chem import rdDetermineBonds

    mol = bare_mol(elements, coords)
    try:
        with quiet():
            rdDetermineBonds.DetermineBonds(
                mol, charge=int(charge), maxIterations=_ORDER_ITERATIONS, embedChiral=False
            )
            Chem.SanitizeMol(mol)
    except Exception:  # noqa: BLE001 - any RDKit failure means "fall back to connectivity"
        return None
    bonds, orders = bonds_of(mol)
    charges = np.array([a.GetFormalCharge() for a in mol.GetAtoms()], dtype=np.int64)
    return bonds, orders, charges


__all__ = ["AROMATIC", "BOND_TYPES", "bare_mol", "bonds_of", "determine_bonds", "quiet"]
