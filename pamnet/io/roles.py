"""Residues and roles as a structural biologist reads a PDB/mmCIF (both readers use this).

- One conformer per residue: of a residue's alternate locations, the one with the
  highest mean occupancy (first on ties), so no residue mixes conformers A and B.
- A role per residue, not per record: HETATM records of a residue that has ATOM
  records (hydrogens written as HETATM by converters) share its role.
- Modified residues and caps written as HETATM (MSE, SME, FOR, ETA...) but joined to
  the chain by a peptide or phosphodiester bond are polymer.
- Hydrogens in a residue without heavy atoms (tools that put added hydrogens in a
  residue of their own) join the residue of the heavy atom they are bonded to.
"""

from __future__ import annotations

import numpy as np

from pamnet.io.residues import role_of

POLYMER = ("protein", "nucleic")
_LINK = 1.75  # Å: longer than a peptide C-N (1.33) or a P-O3' bond (1.61)
_XH = 1.35  # Å: longer than any X-H bond (C-H 1.09, N-H 1.01, O-H 0.96, S-H 1.34)
# (atom name in the polymer, atom name in the linked residue): backbone links only, so
# a covalent inhibitor on a side chain (Cys SG, Ser OG, Lys NZ) stays a ligand.
_BACKBONE_LINKS = {("C", "N"), ("N", "C"), ("O3'", "P"), ("P", "O3'"), ("O3*", "P"), ("P", "O3*")}


def altloc_keep(altloc, chain, resseq, icode, names, occupancy) -> np.ndarray:
    """Rows to keep [n] bool: per residue, the alternate location with the highest mean
    occupancy (first in the file on ties); an atom missing from that conformer keeps its
    own best record (highest occupancy, first on ties)."""
    keep = np.ones(len(altloc), dtype=bool)
    alt = np.nonzero(altloc != "")[0]
    if len(alt) == 0:
        return keep
    scores: dict[tuple, dict[str, list[float]]] = {}
    for i in alt.tolist():
        res = (chain[i], int(resseq[i]), icode[i])
        scores.setdefault(res, {}).setdefault(altloc[i], []).append(float(occupancy[i]))
    chosen = {  # dicts keep insertion order, and max() keeps the first of equal scores
        res: max(ids, key=lambda a, ids=ids: float(np.mean(ids[a]))) for res, ids in scores.items()
    }
    best: dict[tuple, int] = {}
    for i in alt.tolist():
        res = (chain[i], int(resseq[i]), icode[i])
        key = (*res, names[i])
        j = best.get(key)
        if j is None:
            best[key] = i
            continue
        mine, theirs = altloc[i] == chosen[res], altloc[j] == chosen[res]
        if (mine and not theirs) or (mine == theirs and occupancy[i] > occupancy[j]):
            best[key] = i
    keep[alt] = False
    keep[list(best.values())] = True
    return keep


def name_roles(resname: np.ndarray, hetatm: np.ndarray) -> np.ndarray:
    """Role of each record from its residue name and record type alone ([n] object)."""
    roles = np.empty(len(resname), dtype=object)
    key = np.char.add(resname, np.where(hetatm, "|H", "|A"))
    uniq, inverse = np.unique(key, return_inverse=True)
    for u, value in enumerate(uniq.tolist()):
        res, flag = value.rsplit("|", 1)
        roles[inverse.reshape(-1) == u] = role_of(res, flag == "H")
    return roles


def residue_roles(resname, hetatm, chain, resseq, icode, names, elements, coords):
    """(roles, resname, chain, resseq, icode) of each atom, after the rules in the
    module docstring; the residue arrays change only for hydrogens that join a residue."""
    resname, chain, icode = (np.asarray(a, dtype=str).copy() for a in (resname, chain, icode))
    resseq = np.asarray(resseq).copy()
    names = np.asarray(names, dtype=str)
    coords = np.asarray(coords, dtype=np.float64)
    heavy = np.array([e != "H" for e in elements], dtype=bool)
    roles = name_roles(resname, np.asarray(hetatm, dtype=bool))
    res = _residue_ids(chain, resseq, icode, resname)
    _share_atom_roles(roles, res, np.asarray(hetatm, dtype=bool))
    _backbone_links(roles, res, names, chain, heavy, coords)
    _join_lone_hydrogens(roles, res, heavy, coords, (resname, chain, resseq, icode))
    return roles.tolist(), resname, chain, resseq, icode


def _residue_ids(chain, resseq, icode, resname) -> np.ndarray:
    key = np.char.add(np.char.add(chain, "|"), np.char.add(resseq.astype(str), "|"))
    key = np.char.add(np.char.add(key, icode), np.char.add("|", resname))
    return np.unique(key, return_inverse=True)[1].reshape(-1)


def _share_atom_roles(roles, res, hetatm) -> None:
    """HETATM records of a residue that has ATOM records take the ATOM records' role."""
    atom = np.nonzero(~hetatm)[0][::-1]
    first = np.full(res.max() + 1 if len(res) else 0, -1)
    first[res[atom]] = atom  # reversed: the first ATOM record of each residue wins
    het = np.nonzero(hetatm & (first[res] >= 0))[0]
    roles[het] = roles[first[res[het]]]


def _backbone_links(roles, res, names, chain, heavy, coords) -> None:
    """Ligand (and unknown ATOM) residues bonded to the polymer backbone (a modified residue in the chain,
    a cap) become polymer; repeated so a run of modified residues joins too."""
    for _ in range(50):
        lig = np.nonzero(np.isin(roles, ("ligand", "other")) & heavy)[0]
        poly = np.nonzero(np.isin(roles, POLYMER) & np.isin(names, ["C", "N", "P", "O3'", "O3*"]))[
            0
        ]
        if len(lig) == 0 or len(poly) == 0:
            return
        from scipy.spatial import cKDTree

        pairs = cKDTree(coords[poly]).query_ball_point(coords[lig], _LINK)
        joined = False
        for i, near in zip(lig.tolist(), pairs):
            for k in near:
                j = int(poly[k])
                if chain[i] == chain[j] and (names[j], names[i]) in _BACKBONE_LINKS:
                    roles[(res == res[i]) & np.isin(roles, ("ligand", "other"))] = roles[j]
                    joined = True
                    break
        if not joined:
            return


def _join_lone_hydrogens(roles, res, heavy, coords, residue_arrays) -> None:
    """Hydrogens of ligand/other residues without a heavy atom move to the residue (and
    role) of the closest heavy atom within X-H bond length; others stay as they are."""
    lone = np.setdiff1d(res[np.isin(roles, ("ligand", "other"))], res[heavy])
    idx = np.nonzero(np.isin(res, lone))[0]
    if len(idx) == 0 or not heavy.any():
        return
    from scipy.spatial import cKDTree

    heavy_idx = np.nonzero(heavy)[0]
    dist, k = cKDTree(coords[heavy_idx]).query(coords[idx], distance_upper_bound=_XH)
    ok = dist <= _XH
    src, dst = idx[ok], heavy_idx[k[ok]]
    roles[src] = roles[dst]
    for a in residue_arrays:
        a[src] = a[dst]
