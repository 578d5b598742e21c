"""Functional groups by SMARTS, for summing per-atom numbers by chemistry.

`FUNCTIONAL_GROUPS` is a small, fixed dictionary (name -> SMARTS). Patterns are
matched on the structure's RDKit molecule *with its explicit hydrogens*, so
`H1`/`H0` in a pattern count real hydrogen atoms. A group's atoms are the atoms
its pattern matches plus the hydrogens bonded to them (a hydroxyl is O and H).

How atoms are counted:

* within one group, an atom counts once, however many matches hold it (the
  fused carbons of naphthalene are in "aromatic ring" once);
* across groups, an atom can count in several (the O of a carboxylic acid's
  C=O is in "carbonyl" and "carboxylic acid"); so group totals do not add up
  to the whole molecule. Atoms in no group form the row "(no group)".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pamnet.io import to_rdkit
from pamnet.io._rdkit import quiet

AROMATIC = "[a]"

# name -> SMARTS. Every atom of a match belongs to the group (recursive `$()`
# parts only give context). Kept small and textbook-like on purpose.
FUNCTIONAL_GROUPS: dict[str, str] = {
    "hydroxyl": "[OX2H1;!$(O[CX3]=[O,S])]",  # alcohols and phenols, not acids
    "carbonyl": "[CX3]=[OX1]",  # ketones, aldehydes, acids, esters, amides
    "carboxylic acid": "[CX3](=[OX1])[OX2H1]",
    "carboxylate": "[CX3](=[OX1])[OX1-]",
    "ester": "[CX3](=[OX1])[OX2H0;$(O[#6])]",
    "amide": "[NX3][CX3]=[OX1]",
    "amine": "[NX3+0,NX4+;!$(N[#6,#16,#15]=[O,S,N]);!$(N-[N,O]);!$(N#*);!$(N=*)]",
    "nitrile": "[CX2]#[NX1]",
    "nitro": "[$([NX3](=O)=O),$([NX3+](=O)[O-])](~[OX1])~[OX1]",
    "ether": "[OX2H0;$(O([#6])[#6]);!$(O[#6]=[O,S,N])]",
    "aromatic ring": AROMATIC,  # n_matches counts aromatic rings (RDKit ring info)
    "alkene": "[CX3;!a]=[CX3;!a]",
    "halogen": "[F,Cl,Br,I]",
    "thiol / thioether": "[SX2;$(S([#6,#1])[#6,#1])]",
}

NO_GROUP = "(no group)"


@dataclass
class GroupMatches:
    """atoms: group -> sorted atom indices (hydrogens included); n_matches: group ->
    number of distinct pattern matches (aromatic rings: number of rings). Only
    groups that occur are listed."""

    atoms: dict[str, list[int]]
    n_matches: dict[str, int]
    n_atoms: int

    def ungrouped(self) -> list[int]:
        """Atoms in no group."""
        seen = np.zeros(self.n_atoms, dtype=bool)
        for idx in self.atoms.values():
            seen[idx] = True
        return np.nonzero(~seen)[0].tolist()


def match_groups(structure, groups: dict[str, str] | None = None) -> GroupMatches:
    """Atoms of `structure` (a `Structure` or an RDKit mol with explicit H) per group.

    Raises the `StructureError` of `pamnet.io.to_rdkit` when RDKit cannot build a
    molecule (unusual valences, broken geometry).
    """
    from rdkit import Chem

    groups = FUNCTIONAL_GROUPS if groups is None else groups
    mol = structure if isinstance(structure, Chem.Mol) else to_rdkit(structure)
    n = mol.GetNumAtoms()
    atoms: dict[str, list[int]] = {}
    n_matches: dict[str, int] = {}
    with quiet():
        for name, smarts in groups.items():
            pattern = Chem.MolFromSmarts(smarts)
            if pattern is None:
                raise ValueError(f"invalid SMARTS for group {name!r}: {smarts}")  # our table: a bug
            matches = mol.GetSubstructMatches(pattern, uniquify=True, maxMatches=100_000)
            if not matches:
                continue
            hit = {i for m in matches for i in m}
            hit |= {
                h.GetIdx()
                for i in list(hit)
                for h in mol.GetAtomWithIdx(i).GetNeighbors()
                if h.GetAtomicNum() == 1
            }
            atoms[name] = sorted(hit)
            n_matches[name] = len({frozenset(m) for m in matches})
            if smarts == AROMATIC:  # count rings, not atoms
                n_matches[name] = sum(
                    all(mol.GetAtomWithIdx(i).GetIsAromatic() for i in ring)
                    for ring in mol.GetRingInfo().AtomRings()
                )
    return GroupMatches(atoms, n_matches, n)


__all__ = ["FUNCTIONAL_GROUPS", "NO_GROUP", "GroupMatches", "match_groups"]
