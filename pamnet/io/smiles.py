"""SMILES -> 3D: RDKit ETKDGv3 embedding then MMFF94 (or UFF) optimisation, seeded."""

from __future__ import annotations

from rdkit import Chem
from rdkit.Chem import AllChem

from pamnet.errors import EmbeddingError, SmilesError, TooLargeError
from pamnet.io._rdkit import mol_to_structure, quiet
from pamnet.io._text import Limits, split_lines
from pamnet.structure import Structure

MAX_SMILES_ATOMS = 400  # with hydrogens; embedding takes seconds at ~200 atoms already
EMBED_TIMEOUT_S = 10  # RDKit's own per-attempt timeout for ETKDG
_MAX_SMILES_CHARS = 5000


def from_smiles(
    smiles: str,
    seed: int = 0,
    name: str | None = None,
    optimize: bool = True,
    max_atoms: int = MAX_SMILES_ATOMS,
) -> Structure:
    """One 3D `Structure` from a SMILES string (hydrogens added, coordinates in Å).

    The same SMILES and seed always give the same geometry (single-threaded
    ETKDGv3, fixed random seed; RDKit treats seeds 0 and 1 alike). geometry is
    'mmff', 'uff' or 'etkdg'.
    Raises SmilesError (unparseable), EmbeddingError (no 3D coordinates found) or
    TooLargeError (over `max_atoms` atoms with hydrogens).
    """
    text = smiles.strip()
    if not text:
        raise SmilesError("empty SMILES; give e.g. CC(=O)Oc1ccccc1C(=O)O")
    if len(text) > _MAX_SMILES_CHARS or any(c.isspace() for c in text):
        raise SmilesError(f"{text[:40]!r}... is not a single SMILES (too long or contains spaces)")
    with quiet():
        try:
            mol = Chem.MolFromSmiles(text)
        except Exception:  # RDKit may raise instead of returning None
            mol = None
    if mol is None:
        raise SmilesError(
            f"RDKit cannot parse the SMILES {text!r}; check brackets, ring-closure digits "
            "and valences (e.g. a carbon with five bonds)"
        )
    if mol.GetNumAtoms() == 0:
        raise SmilesError(f"the SMILES {text!r} has no atoms")
    molh = Chem.AddHs(mol)
    if molh.GetNumAtoms() > max_atoms:
        raise TooLargeError(
            f"the SMILES has {molh.GetNumAtoms()} atoms with hydrogens, over the "
            f"{max_atoms} we embed in 3D; give 3D coordinates as SDF/PDB instead"
        )
    geometry = _embed(molh, seed, text)
    if optimize:
        geometry = _optimize(molh) or geometry
    canonical = Chem.MolToSmiles(mol)
    return mol_to_structure(
        molh,
        name=name or text,
        source="smiles",
        smiles=canonical,
        geometry=geometry,
        properties={"input_smiles": text},
    )


def _embed(molh: Chem.Mol, seed: int, text: str) -> str:
    params = AllChem.ETKDGv3()
    params.randomSeed = int(seed) & 0x7FFFFFFF
    params.numThreads = 1
    params.timeout = EMBED_TIMEOUT_S
    with quiet():
        try:
            cid = AllChem.EmbedMolecule(molh, params)
            if cid < 0:
                params.useRandomCoords = True
                cid = AllChem.EmbedMolecule(molh, params)
        except Exception as exc:
            raise EmbeddingError(f"RDKit failed to embed {text!r} in 3D: {exc}") from exc
    if cid < 0:
        raise EmbeddingError(
            f"RDKit found no 3D coordinates for {text!r} (strained or contradictory "
            "stereochemistry?); try another seed, or give 3D coordinates as SDF"
        )
    return "etkdg"


def _optimize(molh: Chem.Mol) -> str | None:
    with quiet():
        try:
            if AllChem.MMFFHasAllMoleculeParams(molh):
                AllChem.MMFFOptimizeMolecule(molh, maxIters=500)
                return "mmff"
            if AllChem.UFFHasAllMoleculeParams(molh):
                AllChem.UFFOptimizeMolecule(molh, maxIters=500)
                return "uff"
        except Exception:  # keep the ETKDG geometry if the force field fails
            return None
    return None


def read_smiles(text: str, source: str, limits: Limits, seed: int = 0) -> list[Structure]:
    """A .smi file: one 'SMILES [name]' per line; '#' comments and blank lines skipped."""
    out = []
    for lineno, line in enumerate(split_lines(text), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        parts = stripped.split(None, 1)
        if lineno == 1 and parts[0].upper() in ("SMILES", "SMI"):
            continue  # header line
        try:
            s = from_smiles(
                parts[0],
                seed=seed,
                name=parts[1].strip() if len(parts) > 1 else None,
                max_atoms=min(MAX_SMILES_ATOMS, limits.max_atoms),
            )
        except SmilesError as exc:
            raise SmilesError(f"{source}:{lineno}: {exc}") from exc
        s.source = f"{source}#{len(out) + 1}"
        out.append(s)
    return out
