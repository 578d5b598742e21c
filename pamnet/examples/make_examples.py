"""Regenerate the bundled example files deterministically: `python -m pamnet.examples.make_examples`.

- qm9_*.xyz: DFT (B3LYP/6-31G(2df,p)) geometries and reference targets read from
  the CSV files shipped in the `qm9pack` package (read directly; the package's
  __init__ needs pkg_resources, so it is not imported).
- drugs.sdf: aspirin, caffeine, ibuprofen, paracetamol from SMILES (ETKDG + MMFF).
- complex_synthetic.pdb: a 48-residue ideal alpha helix (`_peptide.build_helix`)
  plus benzamidine placed against it as HETATM. Synthetic: not an experimental
  structure.
- rna_synthetic.pdb: an 8-nt RNA strand embedded by RDKit (ETKDG). Synthetic too.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np

from pamnet.examples._peptide import build_helix
from pamnet.io import from_smiles, write_pdb, write_sdf
from pamnet.structure import Structure

HERE = Path(__file__).resolve().parent

QM9 = {  # name -> SMILES as written in the QM9 CSV
    "methane": "C",
    "water": "O",
    "ethanol": "CCO",
    "benzene": "C1=CC=CC=C1",
    "pyridine": "C1=CC=NC=C1",
    "trifluoroacetaldehyde": "FC(F)(F)C=O",
}
DRUGS = {
    "aspirin": "CC(=O)Oc1ccccc1C(=O)O",
    "caffeine": "Cn1c(=O)c2c(ncn2C)n(C)c1=O",
    "ibuprofen": "CC(C)Cc1ccc(cc1)C(C)C(=O)O",
    "paracetamol": "CC(=O)Nc1ccc(O)cc1",
}
PEPTIDE = "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQAPILSRVGDGTQDNL"
LIGAND = ("BEN", "NC(=N)c1ccccc1")  # benzamidine, a classic small protease ligand
RNA = "GGCGCUUG"
SEED = 20240501


def qm9_dir() -> Path:
    spec = importlib.util.find_spec("qm9pack")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("qm9pack is not installed: pip install qm9pack")
    return Path(list(spec.submodule_search_locations)[0]) / "data"


def make_qm9() -> list[Path]:
    import pandas as pd

    cols = ["XYZ_file", "Index", "SMILES", "Elements", "XYZ_Ang", "HOMO_au", "LUMO_au",
            "HOMO_LUMO_gap_au", "Dipole_debye", "InternalEnergy_0K_au"]  # fmt: skip
    wanted = set(QM9.values())
    found: dict[str, pd.Series] = {}
    for chunk in pd.read_csv(qm9_dir() / "qm9_part1.csv", usecols=cols, chunksize=5000):
        for _, row in chunk[chunk["SMILES"].isin(wanted)].iterrows():
            found.setdefault(row["SMILES"], row)
        if len(found) == len(wanted):
            break
    paths = []
    for name, smi in QM9.items():
        row = found[smi]
        elements = json.loads(row["Elements"].replace("'", '"'))
        xyz = np.array(json.loads(row["XYZ_Ang"]), dtype=float).reshape(-1, 3)
        comment = (
            f'name={name} geometry=dft source=QM9 qm9_index={int(row["Index"])} smiles="{smi}" '
            f"homo_au={row['HOMO_au']} lumo_au={row['LUMO_au']} gap_au={row['HOMO_LUMO_gap_au']} "
            f"mu_debye={row['Dipole_debye']} U0_au={row['InternalEnergy_0K_au']}"
        )
        lines = [str(len(elements)), comment]
        lines += [f"{e:<2s} {x:15.8f} {y:15.8f} {z:15.8f}" for e, (x, y, z) in zip(elements, xyz)]
        path = HERE / f"qm9_{name}.xyz"
        path.write_text("\n".join(lines) + "\n")
        paths.append(path)
    return paths


def make_drugs() -> Path:
    structures = [from_smiles(smi, seed=0, name=name) for name, smi in DRUGS.items()]
    path = HERE / "drugs.sdf"
    write_sdf(structures, path)
    return path


def _embed_sequence(seq: str, flavor: int):
    from rdkit import Chem
    from rdkit.Chem import AllChem

    mol = Chem.AddHs(Chem.MolFromSequence(seq, flavor=flavor), addCoords=False,
                     addResidueInfo=True)  # fmt: skip
    params = AllChem.ETKDGv3()
    params.randomSeed = SEED
    params.useRandomCoords = True  # much faster for hundreds of atoms
    params.numThreads = 1
    if AllChem.EmbedMolecule(mol, params) < 0:
        raise SystemExit(f"embedding {seq} failed")
    return mol


def _residue_structure(mol, role: str):
    info = [a.GetPDBResidueInfo() for a in mol.GetAtoms()]
    return Structure(
        elements=[a.GetSymbol() for a in mol.GetAtoms()],
        coords=mol.GetConformer().GetPositions(),
        formal_charges=[a.GetFormalCharge() for a in mol.GetAtoms()],
        atom_names=[i.GetName().strip() for i in info],
        roles=[role] * mol.GetNumAtoms(),
        residue_names=[i.GetResidueName().strip() for i in info],
        residue_numbers=[i.GetResidueNumber() for i in info],
        chain_ids=["A"] * mol.GetNumAtoms(),
    )


def _place_ligand(protein_xyz: np.ndarray, ligand_xyz: np.ndarray) -> np.ndarray:
    """Translate the ligand to the grid point with the most protein atoms within 6 Å
    whose closest protein atom is 3.2-4.0 Å away (in contact, not clashing)."""
    from scipy.spatial import cKDTree

    tree = cKDTree(protein_xyz)
    lig = ligand_xyz - ligand_xyz.mean(axis=0)
    lo, hi = protein_xyz.min(axis=0) - 4, protein_xyz.max(axis=0) + 4
    axes = [np.arange(a, b, 1.0) for a, b in zip(lo, hi)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
    d, _ = tree.query(grid)
    grid = grid[(d > 4.0) & (d < 6.0)]
    best, best_score = None, -1
    for g in grid:
        d_lig, _ = tree.query(lig + g)
        if d_lig.min() < 3.2 or d_lig.min() > 4.0:
            continue
        score = sum(len(x) for x in tree.query_ball_point(lig + g, 6.0))
        if score > best_score:
            best, best_score = g, score
    if best is None:
        raise SystemExit("no contact position found for the ligand")
    return lig + best


def make_complex() -> Path:
    protein = _residue_structure(build_helix(PEPTIDE, relax_iters=0), "protein")
    lig = from_smiles(LIGAND[1], seed=0, name="benzamidine")
    xyz = _place_ligand(protein.coords, lig.coords)
    n_p, n_l = protein.n_atoms, lig.n_atoms
    names = [f"{e}{k + 1}" for k, e in enumerate(lig.elements)]
    both = Structure(
        elements=protein.elements + lig.elements,
        coords=np.concatenate([protein.coords, xyz]),
        bonds=lig.bonds + n_p,  # CONECT for the ligand only, as in deposited PDB files
        bond_orders=lig.bond_orders,
        formal_charges=np.concatenate([protein.formal_charges, lig.formal_charges]),
        atom_names=protein.atom_names + names,
        roles=protein.roles + ["ligand"] * n_l,
        residue_names=protein.residue_names + [LIGAND[0]] * n_l,
        residue_numbers=np.concatenate([protein.residue_numbers, np.full(n_l, 101)]),
        chain_ids=protein.chain_ids + ["A"] * n_l,
    )
    path = HERE / "complex_synthetic.pdb"
    text = write_pdb(both)
    header = (
        "REMARK   1 SYNTHETIC EXAMPLE: IDEAL 48-RESIDUE ALPHA HELIX WITH BENZAMIDINE\n"
        "REMARK   1 PLACED IN CONTACT. NOT AN EXPERIMENTAL STRUCTURE.\n"
    )
    path.write_text(header + text)
    return path


def make_rna() -> Path:
    rna = _residue_structure(_embed_sequence(RNA, flavor=2), "nucleic")
    path = HERE / "rna_synthetic.pdb"
    header = f"REMARK   1 SYNTHETIC EXAMPLE: RDKIT-EMBEDDED RNA 5'-{RNA}-3'. NOT EXPERIMENTAL.\n"
    path.write_text(header + write_pdb(rna))
    return path


def main() -> None:
    for path in [*make_qm9(), make_drugs(), make_complex(), make_rna()]:
        print(f"{path.name:28s} {path.stat().st_size / 1024:7.1f} KB")


if __name__ == "__main__":
    main()
