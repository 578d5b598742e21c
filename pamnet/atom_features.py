"""Complex-mode atom features: the 18 columns of `GraphInput.atom_feat`.

====  ============  =========================================================
col   name          meaning (computed with RDKit)
====  ============  =========================================================
0-8   B C N O P S   one-hot element class: B, C, N, O, P, S, Se, halogen
      Se halogen    (F, Cl, Br, I), metal (Li, Be, Na, Mg, Al, K-Ga, Rb-Sn,
      metal         Cs-Bi, Fr-No); all zero for other elements (e.g. H, Si)
9     hyb           hybridisation: sp 1, sp2 2, sp3 3, sp3d 5, sp3d2 6, else 0
10    heavydegree   number of bonded non-hydrogen atoms
11    heterodegree  number of bonded N, O, P, S, As, Se, Sb, Te, Bi, Po atoms
12    partialcharge partial charge (e): the file's (MOL2) if it has them,
                    else Gasteiger-Marsili
13    hydrophobic   SMARTS [#6+0!$(*~[#7,#8,F]),SH0+0v2,s+0,S^3,Cl+0,Br+0,I+0]
14    aromatic      SMARTS [a]
15    acceptor      SMARTS [!$([#1,#6,F,Cl,Br,I,o,s,nX3,#7v5,#15v5,#16v4,#16v6,
                    *+1,*+2,*+3])]
16    donor         SMARTS [!$([#6,H0,-,-2,-3]),$([!H0;#7,#8,#9])]
17    ring          SMARTS [r]
====  ============  =========================================================

These are the features of the official PAMNet PDBbind preprocessing (the
tfbio `Featurizer` with `save_molecule_codes=False`, whose SMARTS patterns
are reused above as the feature definitions), re-implemented on RDKit. The
official code uses Open Babel 3.1; values can differ where the toolkits do:

- hyb: Open Babel types hybridisation with its own SMARTS rules; RDKit calls
  atoms conjugated to a pi system sp2 (amide/aniline N, ester and phenol O),
  where Open Babel may say 3.
- partialcharge: PDBbind's MOL2 files carry charges and Open Babel uses them;
  so do we for MOL2 input. Otherwise both use Gasteiger charges, but the
  parameter sets differ (typically by < 0.05 e), and RDKit gives 0 where it
  has no parameters (metals), where Open Babel also gives 0 or NaN.
- aromatic/acceptor/hydrophobic: aromaticity models differ for some
  heterocycles, and "v" (valence) counts implicit hydrogens the same way only
  when the input has correct bond orders. Ligands read from PDB without
  CONECT orders and without hydrogens are featurised from connectivity
  alone (a warning is recorded in meta).
- Pocket atoms are featurised in the context of their whole residues and
  sequence neighbours (the official code uses PDBbind's 10 Å pocket file),
  so degrees at the pocket edge are the true ones.
- Hydrogens are left out, as in the official code (`hydrogens=True` keeps
  them, with all-zero element classes).
"""

from __future__ import annotations

import numpy as np

FEATURE_NAMES = (
    "B", "C", "N", "O", "P", "S", "Se", "halogen", "metal",
    "hyb", "heavydegree", "heterodegree", "partialcharge",
    "hydrophobic", "aromatic", "acceptor", "donor", "ring",
)  # fmt: skip
_METALS = (
    [3, 4, 11, 12, 13] + list(range(19, 32)) + list(range(37, 51))
    + list(range(55, 84)) + list(range(87, 104))
)  # fmt: skip
_CLASS_OF = {5: 0, 6: 1, 7: 2, 8: 3, 15: 4, 16: 5, 34: 6, 9: 7, 17: 7, 35: 7, 53: 7}
_CLASS_OF.update({z: 8 for z in _METALS})
_HETERO = {7, 8, 15, 16, 33, 34, 51, 52, 83, 84}  # Open Babel 3's IsHeteroatom()
_SMARTS = (
    "[#6+0!$(*~[#7,#8,F]),SH0+0v2,s+0,S^3,Cl+0,Br+0,I+0]",
    "[a]",
    "[!$([#1,#6,F,Cl,Br,I,o,s,nX3,#7v5,#15v5,#16v4,#16v6,*+1,*+2,*+3])]",
    "[!$([#6,H0,-,-2,-3]),$([!H0;#7,#8,#9])]",
    "[r]",
)
_HYB = {"SP": 1, "SP2": 2, "SP3": 3, "SP2D": 4, "SP3D": 5, "SP3D2": 6}


def atom_features(mol, indices: np.ndarray, charges: np.ndarray | None = None) -> np.ndarray:
    """[len(indices), 18] float32 features (see the module docstring) of RDKit atoms.

    charges: per-atom partial charges (e) of the whole mol; Gasteiger when None.
    """
    from rdkit import Chem

    from pamnet.io._rdkit import quiet

    if charges is None:
        charges = gasteiger_charges(mol)
    hits = np.zeros((mol.GetNumAtoms(), len(_SMARTS)), dtype=np.float32)
    with quiet():
        for c, smarts in enumerate(_SMARTS):
            pattern = Chem.MolFromSmarts(smarts)
            matched = [m[0] for m in mol.GetSubstructMatches(pattern, maxMatches=10**7)]
            hits[matched, c] = 1.0
    out = np.zeros((len(indices), len(FEATURE_NAMES)), dtype=np.float32)
    for row, i in enumerate(np.asarray(indices).tolist()):
        atom = mol.GetAtomWithIdx(int(i))
        cls = _CLASS_OF.get(atom.GetAtomicNum())
        if cls is not None:
            out[row, cls] = 1.0
        nbrs = [a.GetAtomicNum() for a in atom.GetNeighbors()]
        out[row, 9] = _HYB.get(str(atom.GetHybridization()), 0)
        out[row, 10] = sum(z > 1 for z in nbrs)
        out[row, 11] = sum(z in _HETERO for z in nbrs)
        out[row, 12] = charges[i]
        out[row, 13:] = hits[i]
    return out


def gasteiger_charges(mol) -> np.ndarray:
    """[n_atoms] Gasteiger-Marsili partial charges (e) of an RDKit mol; 0 where unknown."""
    from rdkit.Chem import rdPartialCharges

    from pamnet.io._rdkit import quiet

    try:
        with quiet():
            rdPartialCharges.ComputeGasteigerCharges(mol, throwOnParamFailure=False)
        q = np.array([a.GetDoubleProp("_GasteigerCharge") for a in mol.GetAtoms()])
    except Exception:  # no parameters at all: charges unknown, use 0
        q = np.zeros(mol.GetNumAtoms())
    return np.nan_to_num(q, nan=0.0, posinf=0.0, neginf=0.0)
