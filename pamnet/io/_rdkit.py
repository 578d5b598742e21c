"""The bridge between `Structure` and RDKit, with RDKit's failures turned into our errors.

RDKit reports problems by returning None, raising its own exceptions (or plain
RuntimeError/ValueError from C++), and printing to its logger. Everything here
runs with the logger blocked and converts failures to `pamnet.errors` types.
"""

from __future__ import annotations

import numpy as np
from rdkit import Chem

from pamnet.errors import StructureError
from pamnet.io.pdb import format_pdb
from pamnet.rdkit_bonds import BOND_TYPES, bare_mol, bonds_of, determine_bonds, quiet
from pamnet.structure import MAX_ORDER_PERCEPTION_ATOMS, Structure


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
    mol = bare_mol(s.elements, s.coords, s.formal_charges)
    orders = s.bond_orders if s.bond_orders is not None else np.ones(len(s.bonds))
    seen = set()
    for (i, j), order in zip(s.bonds.tolist(), orders.tolist()):
        key = (min(i, j), max(i, j))
        if i == j or key in seen or not (0 <= i < s.n_atoms and 0 <= j < s.n_atoms):
            continue
        seen.add(key)
        btype = BOND_TYPES.get(float(order), Chem.BondType.SINGLE)
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
    """An RDKit `Chem.Mol` with one conformer (Å); also `pamnet.io.to_rdkit`.

    Bonds come from the structure, else from residue templates (PDB-like
    structures), else from `Structure.perceive_bonds()`. Raises `StructureError`s.
    """
    macromolecular = any(r in ("protein", "nucleic") for r in s.roles)
    if s.residue_names is not None and macromolecular and not _bonds_complete(s):
        return mol_from_residues(s, sanitize)
    if s.bonds is None:
        s = s.perceive_bonds()
    return mol_from_bonds(s, sanitize)


def mol_to_structure(mol: Chem.Mol, conf_id: int = -1, **fields) -> Structure:
    """A `Structure` from an RDKit mol with a 3D conformer (the first, or `conf_id`)."""
    if mol.GetNumConformers() == 0:
        raise StructureError("the RDKit molecule has no conformer; embed it in 3D first")
    bonds, orders = bonds_of(mol)
    return Structure(
        elements=[a.GetSymbol() for a in mol.GetAtoms()],
        coords=mol.GetConformer(conf_id).GetPositions(),
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
