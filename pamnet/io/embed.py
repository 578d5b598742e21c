"""3D coordinates from a connection table: RDKit ETKDGv3 embedding, then MMFF94 (or UFF).

One path for everything drawn rather than measured: SMILES, and SDF/MOL/MOL2
records with 2D coordinates or none. Hydrogens are added where the table leaves
them implicit; the table's own atoms, formal charges, explicit hydrogens and
stereochemistry (RDKit's reading of wedges, or SMILES @/@@ and /\\) are kept.
"""

from __future__ import annotations

from rdkit import Chem
from rdkit.Chem import AllChem

from pamnet.errors import EmbeddingError, TooLargeError
from pamnet.io._rdkit import mol_from_bonds, mol_to_structure
from pamnet.rdkit_bonds import quiet
from pamnet.structure import Structure

MAX_EMBED_ATOMS = 400  # with hydrogens; embedding takes seconds at ~200 atoms already
EMBED_TIMEOUT_S = 10  # RDKit's own per-attempt timeout for ETKDG
EMBEDDED = "3D built from the connection table"  # how every such note starts
EMBEDDED_NOTE = (
    EMBEDDED + " (RDKit ETKDG + {ff}): the file had {why}; predictions are for this conformer"
)


def embed_3d(molh: Chem.Mol, seed: int, label: str, optimize: bool = True) -> str:
    """Give `molh` (hydrogens explicit) one 3D conformer in place; returns the geometry
    kind, 'mmff', 'uff' or 'etkdg' (no force field has parameters, or not `optimize`). The same
    molecule and seed always give the same coordinates (single-threaded, seeded)."""
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
        except Exception as exc:  # noqa: BLE001 - RDKit raises several unrelated types
            raise EmbeddingError(f"RDKit failed to embed {label} in 3D: {exc}") from exc
    if cid < 0:
        raise EmbeddingError(
            f"RDKit found no 3D coordinates for {label} (strained or contradictory "
            "stereochemistry?); try another seed, or give 3D coordinates"
        )
    kind = (_optimize(molh) if optimize else None) or "etkdg"
    _separate_fragments(molh)
    return kind


CONFORMER_RMSD = 0.5  # Å over heavy atoms: conformers closer than this are one


def embed_conformers(
    molh: Chem.Mol, k: int, seed: int, label: str, rmsd: float = CONFORMER_RMSD
) -> list[tuple[int, float]]:
    """Give `molh` up to k distinct MMFF94-minimised conformers in place (ETKDGv3 tries
    2k, pruned at `rmsd` before and after minimising); returns (conformer id, MMFF
    energy in kcal/mol) from the lowest energy up. Empty when MMFF has no parameters
    for the molecule (the caller falls back to one conformer)."""
    from rdkit.Chem import rdMolAlign

    if not AllChem.MMFFHasAllMoleculeParams(molh):
        return []
    params = AllChem.ETKDGv3()
    # seed 0 makes every attempt of EmbedMultipleConfs the same conformer: start at 1
    params.randomSeed = (int(seed) + 1) & 0x7FFFFFFF
    params.numThreads = 1
    params.timeout = EMBED_TIMEOUT_S
    params.pruneRmsThresh = rmsd
    with quiet():
        try:
            ids = list(AllChem.EmbedMultipleConfs(molh, 2 * k, params))
            if not ids:
                params.useRandomCoords = True
                ids = list(AllChem.EmbedMultipleConfs(molh, 2 * k, params))
            results = AllChem.MMFFOptimizeMoleculeConfs(molh, numThreads=1, maxIters=500)
        except Exception as exc:  # noqa: BLE001 - RDKit raises several unrelated types
            raise EmbeddingError(f"RDKit failed to embed conformers of {label}: {exc}") from exc
    if not ids:
        raise EmbeddingError(
            f"RDKit found no 3D coordinates for {label} (strained or contradictory "
            "stereochemistry?); try another seed, or give 3D coordinates"
        )
    order = sorted(ids, key=lambda c: results[c][1])
    heavy = Chem.RemoveHs(molh)
    kept: list[int] = []
    for cid in order:
        if len(kept) == k:
            break
        if all(
            rdMolAlign.GetBestRMS(heavy, heavy, ref, cid, maxMatches=100) > rmsd for ref in kept
        ):
            kept.append(cid)
    for cid in kept:
        _separate_fragments(molh, cid)
    return [(cid, float(results[cid][1])) for cid in kept]


FRAGMENT_GAP = 4.0  # Å between the boxes of a salt's or co-crystal's fragments


def _separate_fragments(molh: Chem.Mol, conf_id: int = -1) -> None:
    """Set the fragments of a salt or co-crystal side by side along x, `FRAGMENT_GAP`
    apart, each moved rigidly: ETKDG embeds disconnected fragments independently and
    may put them on top of each other (seen in RDKit's own ChEMBL and NCI files)."""
    frags = sorted(Chem.GetMolFrags(molh), key=len, reverse=True)
    if len(frags) < 2:
        return
    conf = molh.GetConformer(conf_id)
    pos = conf.GetPositions()
    edge = pos[list(frags[0]), 0].max() + FRAGMENT_GAP
    for frag in frags[1:]:
        idx = list(frag)
        pos[idx, 0] += edge - pos[idx, 0].min()
        edge = pos[idx, 0].max() + FRAGMENT_GAP
    for k, xyz in enumerate(pos):
        conf.SetAtomPosition(k, xyz.tolist())


def _optimize(molh: Chem.Mol) -> str | None:
    with quiet():
        try:
            if AllChem.MMFFHasAllMoleculeParams(molh):
                AllChem.MMFFOptimizeMolecule(molh, maxIters=500)
                return "mmff"
            if AllChem.UFFHasAllMoleculeParams(molh):
                AllChem.UFFOptimizeMolecule(molh, maxIters=500)
                return "uff"
        except Exception:  # noqa: BLE001 - keep the ETKDG geometry if the force field fails
            return None
    return None


def with_hydrogens(mol: Chem.Mol, label: str, max_atoms: int = MAX_EMBED_ATOMS) -> Chem.Mol:
    """`mol` with implicit hydrogens made explicit (stereo kept), size-checked."""
    with quiet():
        molh = Chem.AddHs(mol)
    if molh.GetNumAtoms() > max_atoms:
        raise TooLargeError(
            f"{label} has {molh.GetNumAtoms()} atoms with hydrogens, over the "
            f"{max_atoms} we embed in 3D; give 3D coordinates instead"
        )
    return molh


def rebuild_3d(
    drawn: Structure, mol: Chem.Mol, why: str, seed: int = 0, max_atoms: int = MAX_EMBED_ATOMS
) -> Structure:
    """`drawn` (a record with 2D coordinates or none) with 3D coordinates embedded from
    `mol`, its connection table as an RDKit mol (sanitized; stereo assigned). Name,
    source, properties and warnings are kept, with a note saying why and how."""
    label = drawn.source or drawn.name or "the record"
    molh = with_hydrogens(mol, label, max_atoms)
    kind = embed_3d(molh, seed, label)
    ff = {"mmff": "MMFF94", "uff": "UFF"}.get(kind, "no force field")
    note = EMBEDDED_NOTE.format(ff=ff, why=why)
    smiles = drawn.smiles
    if not smiles:
        with quiet():
            smiles = Chem.MolToSmiles(Chem.RemoveHs(molh)) or None
    return mol_to_structure(
        molh,
        properties=dict(drawn.properties),
        name=drawn.name,
        source=drawn.source,
        smiles=smiles,
        geometry=kind,
        warnings=[*drawn.warnings, note],
    )


def table_mol(s: Structure, where: str, read: Chem.Mol | None = None) -> Chem.Mol:
    """A sanitized RDKit mol of `s`'s atoms, bonds and formal charges (coordinates are
    not used): `read` (the same record as RDKit's reader saw it) when it has the same
    atoms, else built from our parse; `EmbeddingError` when there is nothing to embed."""
    if s.bonds is None or (len(s.bonds) == 0 and s.n_atoms > 1):
        raise EmbeddingError(
            f"{where} has no 3D coordinates and no bonds to build them from; "
            "give 3D coordinates, or a record with its bond block"
        )
    if read is not None and read.GetNumAtoms() == s.n_atoms:
        return read
    mol = mol_from_bonds(s)
    if mol.HasProp("_pamnet_warning"):
        raise EmbeddingError(
            f"{where} has no 3D coordinates and its connection table is not a valid "
            f"molecule ({mol.GetProp('_pamnet_warning')}); fix valences or charges and retry"
        )
    return mol
