"""The bridge between `Structure` and RDKit, with RDKit's failures turned into our errors.

RDKit reports problems by returning None, raising its own exceptions (or plain
RuntimeError/ValueError from C++), and printing to its logger. Everything here
runs with the logger blocked and converts failures to `pamnet.errors` types.
"""

from __future__ import annotations

import numpy as np
from rdkit import Chem, rdBase

from pamnet.errors import StructureError
from pamnet.structure import AROMATIC, MAX_ORDER_PERCEPTION_ATOMS, Structure

quiet = rdBase.BlockLogs  # `with quiet(): ...` silences RDKit's logger

_BOND_TYPES = {
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


def _bare_mol(elements: list[str], coords: np.ndarray, charges=None) -> Chem.RWMol:
    from pamnet.structure import ATOMIC_NUMBERS

    mol = Chem.RWMol()
    for k, el in enumerate(elements):
        atom = Chem.Atom(ATOMIC_NUMBERS[el])
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

    mol = _bare_mol(elements, coords)
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


def sanitize_or_partial(mol: Chem.RWMol | Chem.Mol) -> tuple[Chem.Mol, str | None]:
    """Sanitize; on failure, perceive what can be (rings, hybridization) and say why."""
    try:
        with quiet():
            Chem.SanitizeMol(mol)
        return mol, None
    except Exception as exc:  # noqa: BLE001 - RDKit raises several unrelated types
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    with quiet():
        mol.UpdatePropertyCache(strict=False)
        ops = (
            Chem.SanitizeFlags.SANITIZE_SYMMRINGS
            | Chem.SanitizeFlags.SANITIZE_SETCONJUGATION
            | Chem.SanitizeFlags.SANITIZE_SETHYBRIDIZATION
        )
        Chem.SanitizeMol(mol, ops, catchErrors=True)
        if not mol.GetRingInfo().IsInitialized():
            Chem.FastFindRings(mol)
    return mol, f"RDKit could not fully sanitize the molecule ({reason}); features approximate"


def mol_from_bonds(s: Structure, sanitize: bool = True) -> Chem.Mol:
    """RDKit mol from a structure that has bonds (orders unknown -> single)."""
    mol = _bare_mol(s.elements, s.coords, s.formal_charges)
    orders = s.bond_orders if s.bond_orders is not None else np.ones(len(s.bonds))
    seen = set()
    for (i, j), order in zip(s.bonds.tolist(), orders.tolist()):
        key = (min(i, j), max(i, j))
        if i == j or key in seen or not (0 <= i < s.n_atoms and 0 <= j < s.n_atoms):
            continue
        seen.add(key)
        btype = _BOND_TYPES.get(float(order), Chem.BondType.SINGLE)
        mol.AddBond(int(i), int(j), btype)
        if btype == Chem.BondType.AROMATIC:
            bond = mol.GetBondBetweenAtoms(int(i), int(j))
            bond.SetIsAromatic(True)
            mol.GetAtomWithIdx(int(i)).SetIsAromatic(True)
            mol.GetAtomWithIdx(int(j)).SetIsAromatic(True)
    out = mol.GetMol()
    if not sanitize:
        return out
    out, warning = sanitize_or_partial(out)
    if warning:
        out.SetProp("_pamnet_warning", warning)
    return out


def mol_from_residues(s: Structure, sanitize: bool = True) -> Chem.Mol:
    """RDKit mol of a PDB-like structure via RDKit's PDB parser (residue-template bond
    orders for standard residues, proximity bonds elsewhere)."""
    from pamnet.io.pdb import format_pdb

    block = format_pdb([s], conect=s.bonds is not None)
    with quiet():
        mol = Chem.MolFromPDBBlock(block, removeHs=False, sanitize=False, proximityBonding=True)
    if mol is None or mol.GetNumAtoms() != s.n_atoms:
        raise StructureError(
            f"RDKit could not build a molecule from {s.name or 'the structure'}; "
            "give the molecule as SDF or MOL2 with bonds"
        )
    if not sanitize:
        return mol
    mol, warning = sanitize_or_partial(mol)
    if warning:
        mol.SetProp("_pamnet_warning", warning)
    return mol


def _bonds_complete(s: Structure) -> bool:
    """True when every atom that should be bonded (not water/ion) has a bond.

    A PDB's CONECT records usually cover HETATM only; those bonds are partial.
    """
    if s.bonds is None:
        return False
    bonded = np.zeros(s.n_atoms, dtype=bool)
    bonded[s.bonds.reshape(-1)] = True
    needs = np.array([r not in ("water", "ion") for r in s.roles])
    return bool(bonded[needs].all())


def structure_to_mol(s: Structure, sanitize: bool = True) -> Chem.Mol:
    """See `Structure.to_rdkit`."""
    macromolecular = any(r in ("protein", "nucleic") for r in s.roles)
    if s.residue_names is not None and macromolecular and not _bonds_complete(s):
        return mol_from_residues(s, sanitize)
    if s.bonds is None:
        s = s.perceive_bonds()
    return mol_from_bonds(s, sanitize)


def mol_to_structure(mol: Chem.Mol, **fields) -> Structure:
    """A `Structure` from an RDKit mol with a 3D conformer (first conformer)."""
    if mol.GetNumConformers() == 0:
        raise StructureError("the RDKit molecule has no conformer; embed it in 3D first")
    bonds, orders = bonds_of(mol)
    return Structure(
        elements=[a.GetSymbol() for a in mol.GetAtoms()],
        coords=mol.GetConformer().GetPositions(),
        bonds=bonds,
        bond_orders=orders,
        formal_charges=[a.GetFormalCharge() for a in mol.GetAtoms()],
        **fields,
    )


__all__ = [
    "MAX_ORDER_PERCEPTION_ATOMS",
    "bonds_of",
    "determine_bonds",
    "mol_from_bonds",
    "mol_from_residues",
    "mol_to_structure",
    "quiet",
    "sanitize_or_partial",
    "structure_to_mol",
]
