"""Task adapters: `Structure` -> `pamnet.data.GraphInput`.

molecule (QM9 mode)
    All atoms; atom_type H, C, N, O, F = 0..4; bond_index from the file's bonds
    (perceived from the geometry when the file has none), both directions; one
    part, sign +1.
rna (RNA-Puzzles mode)
    The C, N and O atoms of nucleic-acid residues (P and H are dropped, as in the
    official preprocessing); atom_type C, N, O = 0..2; one part, sign +1.
complex (PDBbind mode)
    Heavy atoms of the ligand plus the pocket: protein-side atoms closer than
    `pocket_cutoff` (6 Å) to any ligand atom. Three parts: 0 = complex (pocket then
    ligand, sign +1), 1 = pocket (sign -1), 2 = ligand (sign -1), so the readout
    is E(complex) - E(pocket) - E(ligand). Positions are not shifted: graphs are
    built within a part. atom_feat is [N, 18]: the official PDBbind features, see
    `pamnet.atom_features` (columns, and where RDKit and Open Babel differ).
"""

from __future__ import annotations

import numpy as np
import torch

from pamnet.atom_features import FEATURE_NAMES, atom_features, gasteiger_charges
from pamnet.data import GraphInput
from pamnet.errors import (
    EmptyInputError,
    NoLigandError,
    StructureError,
    UnsupportedElementError,
)
from pamnet.io import to_rdkit
from pamnet.io.residues import ADDITIVES
from pamnet.structure import Structure

QM9_TYPES = {"H": 0, "C": 1, "N": 2, "O": 3, "F": 4}
# Elements a molecule-mode model can be given (fine-tunes, new models): QM9's five first,
# so a QM9 model's rows keep their indices when its table is extended.
ORGANIC = ("H", "C", "N", "O", "F", "B", "Si", "P", "S", "Cl", "Br", "I", "Se")
RNA_TYPES = {"C": 0, "N": 1, "O": 2}
# Whole residues with an atom this far beyond the pocket cutoff are featurised, so
# every bonded neighbour of a pocket atom (bonds <= ~2.5 Å) is present.
_CONTEXT = 2.6


def _tensor_pos(coords: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.asarray(coords), dtype=torch.get_default_dtype())


# --- molecule ---------------------------------------------------------------
def molecule_input(s: Structure, elements: tuple[str, ...] | None = None) -> GraphInput:
    """QM9 mode: atom_type [N] (index in `elements`, default QM9's H,C,N,O,F = 0..4),
    bond_index [2, 2B], part 0, sign +1."""
    table = {e: k for k, e in enumerate(elements)} if elements else QM9_TYPES
    for i, el in enumerate(s.elements):
        if el not in table:
            raise UnsupportedElementError(unknown_element_message(el, i, tuple(table)))
    n = s.n_atoms
    bond_index = s.bond_index()
    return GraphInput(
        pos=_tensor_pos(s.coords),
        atom_type=torch.tensor([table[e] for e in s.elements], dtype=torch.long),
        bond_index=torch.as_tensor(bond_index, dtype=torch.long),
        part=torch.zeros(n, dtype=torch.long),
        sign=torch.ones(n, dtype=torch.get_default_dtype()),
        name=s.name,
        meta={
            "task": "molecule",
            "geometry": s.geometry,
            "source": s.source,
            "formula": s.formula,
            "smiles": s.smiles,
            "bonds_from": "file" if s.bonds is not None else "perceived",
            "elements": list(s.elements),
        },
    )


def unknown_element_message(element: str, i: int, known: tuple[str, ...]) -> str:
    """Why a molecule model cannot take `element` (atom i, 0-based), and what to do."""
    where = f"the structure has {element} at atom {i + 1} (1-based)"
    if element not in ORGANIC:
        return (
            f"{where}; molecule models here take {', '.join(ORGANIC)}. Remove the "
            f"{element} atom, or use complex mode for metal sites"
        )
    qm9 = (
        "; it was trained on QM9, which has only H, C, N, O, F" if known == tuple(QM9_TYPES) else ""
    )
    return (
        f"this model knows {', '.join(known)}{qm9}, and {where}. To predict for molecules "
        f"with {element}, fine-tune on data that has them: `pamnet finetune --data your.csv "
        f"--target y` adds {element} to the model's elements (any of {', '.join(ORGANIC[5:])})"
    )


# --- rna --------------------------------------------------------------------
def rna_input(s: Structure) -> GraphInput:
    """RNA mode: C, N, O atoms of nucleic residues; atom_type [N] (C,N,O = 0..2)."""
    nucleic = np.array([r == "nucleic" for r in s.roles])
    if not nucleic.any():
        raise EmptyInputError(
            f"{s.name or 'the structure'} has no nucleic-acid residues (A, C, G, U, DA, ...); "
            "RNA mode needs a PDB/mmCIF of an RNA"
        )
    keep = nucleic & np.array([e in RNA_TYPES for e in s.elements])
    idx = np.nonzero(keep)[0]
    n = len(idx)
    return GraphInput(
        pos=_tensor_pos(s.coords[idx]),
        atom_type=torch.tensor([RNA_TYPES[s.elements[i]] for i in idx], dtype=torch.long),
        part=torch.zeros(n, dtype=torch.long),
        sign=torch.ones(n, dtype=torch.get_default_dtype()),
        name=s.name,
        meta={"task": "rna", "source": s.source, "atom_index": idx.tolist()},
    )


# --- complex ----------------------------------------------------------------
def _residue_keys(s: Structure) -> np.ndarray | None:
    if s.residue_names is None:
        return None
    chains = s.chain_ids or [""] * s.n_atoms
    icodes = s.insertion_codes or [""] * s.n_atoms
    nums = s.residue_numbers if s.residue_numbers is not None else np.zeros(s.n_atoms, int)
    return np.array(
        [f"{c}|{n}|{i}|{r}" for c, n, i, r in zip(chains, nums.tolist(), icodes, s.residue_names)]
    )


def find_ligand(s: Structure, resname: str | None = None) -> np.ndarray:
    """Atom indices of the ligand residue: by name, or the largest HETATM residue that
    is not water, an ion or (if anything else is there) a crystallisation additive.
    Residues without a heavy atom are never the ligand."""
    keys = _residue_keys(s)
    is_lig = np.array([r == "ligand" for r in s.roles])
    if keys is not None and is_lig.any():
        heavy_keys = keys[np.array([e != "H" for e in s.elements]) & is_lig]
        is_lig &= np.isin(keys, heavy_keys)
    if keys is None or not is_lig.any():
        raise NoLigandError(
            f"{s.name or 'the structure'} has no HETATM ligand (nothing but polymer, water "
            "and ions): complex mode needs a ligand: name its residue with "
            "--ligand RESNAME, or give the ligand as its own file (SDF/MOL2: --ligand FILE "
            "in `pamnet inspect`, `ligand=` in Python)"
        )
    names = {k.rsplit("|", 1)[1] for k in keys[is_lig]}
    candidates = np.unique(keys[is_lig])
    if resname is not None:
        want = resname.strip().upper()
        candidates = np.array([k for k in candidates if k.rsplit("|", 1)[1].upper() == want])
        if len(candidates) == 0:
            raise StructureError(
                f"no HETATM residue named {resname!r}; ligands here: {', '.join(sorted(names))}"
            )
    else:
        real = [k for k in candidates if k.rsplit("|", 1)[1].upper() not in ADDITIVES]
        candidates = np.array(real) if real else candidates
    sizes = [(int(np.sum(keys == k)), -i) for i, k in enumerate(candidates)]
    best = candidates[-max(sizes)[1]]
    return np.nonzero(keys == best)[0]


def binding_site(s: Structure, ligand_resname: str | None, radius: float) -> Structure:
    """Whole residues with an atom within `radius` Å of the ligand (`find_ligand`: by
    residue name, or automatic when None), the ligand included, in file order. With
    `radius` at least the pocket cutoff + 2.6 Å, its complex input equals the whole
    structure's (featurization looks that far for whole residues)."""
    from scipy.spatial import cKDTree

    ligand = find_ligand(s, ligand_resname)
    dist, _ = cKDTree(s.coords[ligand]).query(s.coords, distance_upper_bound=radius)
    residues = _residue_keys(s)
    site = s.select(np.isin(residues, residues[dist < radius]))
    site.name = s.name
    return site


def _mol_and_charges(s: Structure, warnings: list[str]):
    mol = to_rdkit(s)
    if mol.HasProp("_pamnet_warning"):
        warnings.append(f"{s.name}: {mol.GetProp('_pamnet_warning')}")
    if (
        s.bonds is None
        and "H" not in s.elements
        and not any(r in ("protein", "nucleic") for r in s.roles)
    ):
        warnings.append(
            f"{s.name}: no bonds or hydrogens in the file, so bond orders are unknown; "
            "give the ligand as SDF/MOL2 for exact hybridisation/aromaticity features"
        )
    q = s.partial_charges if s.partial_charges is not None else gasteiger_charges(mol)
    return mol, q


def complex_input(
    protein: Structure,
    ligand: Structure | None = None,
    ligand_resname: str | None = None,
    pocket_cutoff: float = 6.0,
    hydrogens: bool = False,
) -> GraphInput:
    """PDBbind mode: 3 parts (complex +1, pocket -1, ligand -1), atom_feat [N, 18].

    protein: the receptor (PDB/mmCIF/MOL2), possibly holding the ligand as HETATM.
    ligand: the ligand as its own structure; if None it is taken from `protein`
    (`ligand_resname`, or the largest non-water, non-ion HETATM residue).
    pocket_cutoff: Å. meta['rows'][k] = (role, original atom index) of row k, the
    index into `protein` for 'pocket' rows and into the ligand's structure for
    'ligand' rows (which is `protein` when the ligand came from it).
    """
    warnings: list[str] = []
    keys = _residue_keys(protein)
    not_water = np.array([r != "water" for r in protein.roles])
    if ligand is None:
        lig_idx = find_ligand(protein, ligand_resname)
        ligand = protein.select(lig_idx)
        ligand.name = f"{protein.name} {ligand.residue_names[0]}"
        side = not_water.copy()
        side[lig_idx] = False
    else:
        lig_idx = np.arange(ligand.n_atoms)
        side = not_water & ~_copies_of(protein, ligand, keys)
    lig_heavy = np.array([hydrogens or e != "H" for e in ligand.elements])
    if not lig_heavy.any():
        raise EmptyInputError("the ligand has no heavy atoms")
    prot_heavy = np.array([hydrogens or e != "H" for e in protein.elements])
    cand = np.nonzero(side & prot_heavy)[0]
    from scipy.spatial import cKDTree  # heavy (0.3 s): only complexes need it

    tree = cKDTree(ligand.coords[lig_heavy])
    dist, _ = tree.query(protein.coords[cand], distance_upper_bound=pocket_cutoff)
    pocket = cand[dist < pocket_cutoff]
    if len(pocket) == 0:
        raise EmptyInputError(
            f"no protein atom within {pocket_cutoff} Å of the ligand; is the ligand placed "
            "in the binding site (same coordinate frame as the protein)?"
        )
    # Featurise the pocket inside its whole residues (and their bonded neighbours).
    if keys is not None:
        d_all, _ = tree.query(protein.coords, distance_upper_bound=pocket_cutoff + _CONTEXT)
        near = side & (d_all < pocket_cutoff + _CONTEXT)
        context = np.nonzero(np.isin(keys, np.unique(keys[near])) & side)[0]
    else:
        context = np.nonzero(side)[0]
    sub = protein.select(context)
    pmol, pq = _mol_and_charges(sub, warnings)
    pocket_feat = atom_features(pmol, np.searchsorted(context, pocket), pq)
    lmol, lq = _mol_and_charges(ligand, warnings)
    lig_rows = np.nonzero(lig_heavy)[0]
    lig_feat = atom_features(lmol, lig_rows, lq)
    return _three_parts(protein, ligand, pocket, lig_rows, lig_idx, pocket_feat, lig_feat, {
        "task": "complex",
        "source": protein.source,
        "pocket_cutoff": pocket_cutoff,
        "ligand_resname": (ligand.residue_names or ["UNL"])[0],
        "ligand_name": ligand.name,
        "feature_names": list(FEATURE_NAMES),
        "warnings": warnings,
    })  # fmt: skip


def _copies_of(protein: Structure, ligand: Structure, keys) -> np.ndarray:
    """Protein-side HETATM residues that sit on the given ligand (the same molecule twice)."""
    out = np.zeros(protein.n_atoms, dtype=bool)
    het = np.array([r == "ligand" for r in protein.roles])
    if not het.any():
        return out
    from scipy.spatial import cKDTree

    d, _ = cKDTree(ligand.coords).query(protein.coords[het], distance_upper_bound=0.5)
    clash = np.nonzero(het)[0][d < 0.5]
    if len(clash) and keys is not None:
        out = np.isin(keys, np.unique(keys[clash])) & het
    else:
        out[clash] = True
    return out


def _three_parts(protein, ligand, pocket, lig_rows, lig_idx, pocket_feat, lig_feat, meta):
    pos_p, pos_l = protein.coords[pocket], ligand.coords[lig_rows]
    n_p, n_l = len(pocket), len(lig_rows)
    pos = np.concatenate([pos_p, pos_l, pos_p, pos_l])
    feat = np.concatenate([pocket_feat, lig_feat, pocket_feat, lig_feat])
    part = np.concatenate([np.zeros(n_p + n_l), np.ones(n_p), np.full(n_l, 2)])
    sign = np.where(part == 0, 1.0, -1.0)
    rows_p = [("pocket", int(i)) for i in pocket]
    rows_l = [("ligand", int(lig_idx[i])) for i in lig_rows]
    meta.update(
        rows=rows_p + rows_l + rows_p + rows_l,
        pocket_atoms=[int(i) for i in pocket],
        ligand_atoms=[int(lig_idx[i]) for i in lig_rows],
        n_pocket=n_p,
        n_ligand=n_l,
    )
    return GraphInput(
        pos=_tensor_pos(pos),
        atom_feat=torch.as_tensor(feat, dtype=torch.get_default_dtype()),
        part=torch.as_tensor(part, dtype=torch.long),
        sign=torch.as_tensor(sign, dtype=torch.get_default_dtype()),
        name=f"{protein.name} + {ligand.name}" if ligand.name != protein.name else protein.name,
        meta=meta,
    )


def ligand_residues(s: Structure, additives: bool = False) -> list[str]:
    """Names of the HETATM residues with a heavy atom that could be the ligand, sorted;
    crystallisation additives (`ADDITIVES`) only with `additives`."""
    names = s.residue_names or [""] * s.n_atoms
    return sorted(
        {
            n
            for r, e, n in zip(s.roles, s.elements, names)
            if r == "ligand" and e != "H" and (additives or n.upper() not in ADDITIVES)
        }
    )


# --- dispatch ---------------------------------------------------------------
def guess_task(s: Structure) -> str:
    """'complex' for a protein with a HETATM ligand (not only crystallisation additives),
    'rna' for nucleic acids, else 'molecule'."""
    roles = set(s.roles)
    if "protein" in roles and ligand_residues(s):
        return "complex"
    if "nucleic" in roles and "protein" not in roles:
        return "rna"
    return "molecule"


__all__ = [
    "FEATURE_NAMES",
    "atom_features",
    "binding_site",
    "complex_input",
    "find_ligand",
    "guess_task",
    "ligand_residues",
    "molecule_input",
    "unknown_element_message",
    "rna_input",
]
