"""An ideal alpha-helical peptide in 3D without full-molecule embedding.

RDKit's distance-geometry embedding of a 48-residue peptide takes minutes, so the
example is built like classic peptide builders: the backbone from ideal bond
lengths/angles and helical phi/psi (NeRF placement), side chains from small
per-residue RDKit conformers superposed on N, CA, C (the least clashing of a
few), hydrogens added by RDKit, then a short MMFF relaxation.
"""

from __future__ import annotations

import numpy as np

# Ideal backbone geometry (Engh & Huber): Å and degrees.
_N_CA, _CA_C, _C_N, _C_O = 1.458, 1.525, 1.329, 1.231
_N_CA_C, _CA_C_N, _C_N_CA, _CA_C_O = 111.2, 116.2, 121.7, 120.5
HELIX = (-57.0, -47.0)  # phi, psi


def _place(a, b, c, bond: float, angle: float, torsion: float) -> np.ndarray:
    """Atom d with |cd| = bond, angle bcd and dihedral abcd (degrees)."""
    angle, torsion = np.radians(angle), np.radians(torsion)
    bc = (c - b) / np.linalg.norm(c - b)
    n = np.cross(b - a, bc)
    n /= np.linalg.norm(n)
    d2 = bond * np.array(
        [-np.cos(angle), np.sin(angle) * np.cos(torsion), np.sin(angle) * np.sin(torsion)]
    )
    return c + d2[0] * bc + d2[1] * np.cross(n, bc) + d2[2] * n


def backbone(n_res: int, phi: float = HELIX[0], psi: float = HELIX[1]) -> dict:
    """(residue index, atom name) -> xyz for N, CA, C, O (and OXT on the last residue)."""
    t = np.radians(_N_CA_C)
    xyz = {
        (0, "N"): np.zeros(3),
        (0, "CA"): np.array([_N_CA, 0.0, 0.0]),
    }
    xyz[(0, "C")] = xyz[(0, "CA")] + _CA_C * np.array([-np.cos(t), np.sin(t), 0.0])
    for i in range(n_res - 1):
        n, ca, c = xyz[(i, "N")], xyz[(i, "CA")], xyz[(i, "C")]
        n1 = _place(n, ca, c, _C_N, _CA_C_N, psi)
        ca1 = _place(ca, c, n1, _N_CA, _C_N_CA, 180.0)
        xyz[(i + 1, "N")], xyz[(i + 1, "CA")] = n1, ca1
        xyz[(i + 1, "C")] = _place(c, n1, ca1, _CA_C, _N_CA_C, phi)
        xyz[(i, "O")] = _place(n1, ca, c, _C_O, _CA_C_O, 180.0)
    last = n_res - 1
    n, ca, c = xyz[(last, "N")], xyz[(last, "CA")], xyz[(last, "C")]
    xyz[(last, "O")] = _place(n, ca, c, _C_O, _CA_C_O, psi + 180.0)
    xyz[(last, "OXT")] = _place(n, ca, c, 1.25, 117.0, psi)
    return xyz


def _kabsch(src: np.ndarray, dst: np.ndarray):
    """Rotation R and translation t with R @ src_i + t ~= dst_i."""
    cs, cd = src.mean(0), dst.mean(0)
    u, _, vt = np.linalg.svd((src - cs).T @ (dst - cd))
    d = np.sign(np.linalg.det(vt.T @ u.T))
    r = vt.T @ np.diag([1.0, 1.0, d]) @ u.T
    return r, cd - r @ cs


def _templates(one_letter: str, n_conf: int, seed: int) -> list[dict]:
    """A few conformers of one amino acid: list of atom name -> xyz (heavy atoms)."""
    from rdkit import Chem
    from rdkit.Chem import AllChem

    mol = Chem.AddHs(Chem.MolFromSequence(one_letter), addResidueInfo=True)
    params = AllChem.ETKDGv3()
    params.randomSeed = seed
    params.numThreads = 1
    cids = list(AllChem.EmbedMultipleConfs(mol, n_conf, params))
    names = [a.GetPDBResidueInfo().GetName().strip() for a in mol.GetAtoms()]
    heavy = [k for k, a in enumerate(mol.GetAtoms()) if a.GetAtomicNum() > 1]
    out = []
    for cid in cids:
        pos = mol.GetConformer(cid).GetPositions()
        out.append({names[k]: pos[k] for k in heavy})
    return out


def build_helix(sequence: str, seed: int = 7, relax_iters: int = 300):
    """RDKit mol (with hydrogens, PDB residue info, one conformer) of an alpha helix."""
    from rdkit import Chem
    from rdkit.Chem import AllChem
    from rdkit.Geometry import Point3D
    from scipy.spatial import cKDTree

    xyz = backbone(len(sequence))
    cache: dict[str, list[dict]] = {}
    bb = np.array(list(xyz.values()))
    placed: list[np.ndarray] = []
    for i, aa in enumerate(sequence):
        if aa == "G":
            continue
        if aa not in cache:
            cache[aa] = _templates(aa, 8, seed)
        target = np.array([xyz[(i, a)] for a in ("N", "CA", "C")])
        others = cKDTree(np.concatenate([bb] + placed)) if placed else cKDTree(bb)
        best, best_score = None, None
        for tpl in cache[aa]:
            r, t = _kabsch(np.array([tpl[a] for a in ("N", "CA", "C")]), target)
            side = {k: r @ v + t for k, v in tpl.items() if k not in ("N", "CA", "C", "O", "OXT")}
            pts = np.array(list(side.values()))
            score = sum(len(x) for x in others.query_ball_point(pts, 3.0))
            if best_score is None or score < best_score:
                best, best_score = side, score
        for k, v in best.items():
            xyz[(i, k)] = v
        placed.append(np.array(list(best.values())))
    mol = Chem.MolFromSequence(sequence)
    conf = Chem.Conformer(mol.GetNumAtoms())
    for atom in mol.GetAtoms():
        info = atom.GetPDBResidueInfo()
        p = xyz[(info.GetResidueNumber() - 1, info.GetName().strip())]
        conf.SetAtomPosition(atom.GetIdx(), Point3D(*map(float, p)))
    mol.AddConformer(conf, assignId=True)
    mol = Chem.AddHs(mol, addCoords=True, addResidueInfo=True)
    if relax_iters:
        AllChem.MMFFOptimizeMolecule(mol, maxIters=relax_iters)
    return mol
