"""Sanity checks every reader runs on what it parsed."""

from __future__ import annotations

import numpy as np

from pamnet.errors import (
    EmptyInputError,
    MissingCoordinatesError,
    OverlappingAtomsError,
    ParseError,
)
from pamnet.io._text import Limits, check_atoms
from pamnet.structure import _COVALENT_RADII, Structure, atomic_numbers, covalent_bonds

MIN_DISTANCE = 0.5  # Å; closer than any real bond (H-H is 0.74 Å)
SMALL = 500  # atoms: up to here overlaps are found with a dense distance matrix (2 MB)
# A flat structure (all z equal) is a 2D drawing, not a planar molecule, when a bond is
# this much (Å) longer than the sum of covalent radii (depictions draw C-H and O-H as
# long as C-C, ~1.5 Å; real bonds are at most a few hundredths longer) ...
FLAT_BOND_DEVIATION = 0.4
# ... or when one of these atoms has 4 or more neighbours in the plane (sp3 centres).
TETRAHEDRAL = ("C", "Si", "N", "P", "B")
FLAT_NOTE = "all atoms lie in one plane (constant z); read as a planar 3D geometry"


def find_overlap(coords: np.ndarray, min_distance: float = MIN_DISTANCE) -> tuple[int, int, float]:
    """First pair (i, j, distance) closer than `min_distance` Å, or (-1, -1, inf).

    One nearest-neighbour query on a k-d tree: O(N log N), no N x N matrix.
    """
    if len(coords) < 2:
        return -1, -1, float("inf")
    if len(coords) <= SMALL:  # a dense check is faster than importing scipy.spatial (~1 s)
        d = np.linalg.norm(coords[:, None] - coords[None], axis=-1)
        d[np.diag_indices(len(coords))] = np.inf
        close = np.argwhere(d < min_distance)
        if not len(close):
            return -1, -1, float("inf")
        i = int(close[0][0])  # the first atom with a too-close neighbour, and its nearest
        j = int(np.argmin(d[i]))
        return min(i, j), max(i, j), float(d[i, j])
    from scipy.spatial import cKDTree

    dist, nbr = cKDTree(coords).query(coords, k=2)
    close = np.nonzero(dist[:, 1] < min_distance)[0]
    if len(close) == 0:
        return -1, -1, float("inf")
    i = int(close[0])
    # at distance 0 (a duplicated atom) the tree may list i itself second: take the other
    j = int(nbr[i, 1]) if int(nbr[i, 1]) != i else int(nbr[i, 0])
    return min(i, j), max(i, j), float(dist[i, 1])


def is_flat(coords: np.ndarray) -> bool:
    """Every z equal while the atoms span a plane (collinear atoms are not flat: a
    diatomic or CO2 along x is a fine 3D geometry)."""
    if len(coords) < 3 or np.ptp(coords[:, 2]) > 0:
        return False
    xy = coords[:, :2] - coords[:, :2].mean(0)
    return bool(np.linalg.matrix_rank(xy, tol=1e-3) == 2)


def drawing_2d(s: Structure) -> str | None:
    """Why a flat structure (every z equal) is a 2D drawing rather than a planar 3D
    molecule, or None when it is not flat or looks like a real planar geometry."""
    if not is_flat(s.coords):
        return None
    bonds = (
        s.bonds if s.bonds is not None and len(s.bonds) else covalent_bonds(s.elements, s.coords)
    )
    if len(bonds) == 0:
        return None
    degree = np.bincount(bonds.ravel(), minlength=s.n_atoms)
    for i in np.nonzero(degree >= 4)[0]:
        if s.elements[i] in TETRAHEDRAL:
            return f"atom {s.atom_label(int(i))} has {degree[i]} neighbours in one plane"
    radii = _COVALENT_RADII[atomic_numbers(s.elements)]
    d = np.linalg.norm(s.coords[bonds[:, 0]] - s.coords[bonds[:, 1]], axis=1)
    off = d - radii[bonds[:, 0]] - radii[bonds[:, 1]]  # too short is overlap, not drawing
    k = int(np.argmax(off))
    if off[k] > FLAT_BOND_DEVIATION:
        i, j = (int(x) for x in bonds[k])
        return (
            f"bond {s.atom_label(i)}-{s.atom_label(j)} is {d[k]:.2f} Å long, not a real bond length"
        )
    return None


def why_not_3d(s: Structure, marked: str = "") -> str | None:
    """Why a record with a connection table is a drawing, not a 3D geometry: no
    coordinates, `marked` '2D' (an SDF header's dimension code), or flat and either
    without hydrogens (a sketch, unless marked '3D') or drawn (`drawing_2d`); else None."""
    dim = marked.strip().upper()
    if s.n_atoms >= 2 and not s.coords.any():
        return "no coordinates (every atom at 0, 0, 0)"
    if dim == "2D" and not (s.n_atoms >= 3 and np.ptp(s.coords[:, 2]) > 0):
        return "2D coordinates (marked 2D)"
    if is_flat(s.coords):
        if dim != "3D" and "H" not in s.elements:
            return "2D coordinates (flat, no hydrogens)"
        drawn = drawing_2d(s)
        if drawn:
            return f"2D coordinates ({drawn})"
    return None


def check_3d(s: Structure, where: str) -> Structure:
    """`MissingCoordinatesError` for a flat 2D drawing (see `drawing_2d`); a
    flat structure that looks like a real planar molecule gets a warning instead."""
    why = drawing_2d(s)
    if why:
        raise MissingCoordinatesError(
            f"{where} has 2D coordinates (all z equal; {why}); PAMNet needs 3D. "
            "Generate 3D coordinates (e.g. give the SMILES, we embed it) and try again"
        )
    if is_flat(s.coords) and FLAT_NOTE not in s.warnings:
        s.warnings.append(FLAT_NOTE)
    return s


def check_structure(s: Structure, limits: Limits) -> Structure:
    """Raise the typed error for an empty, oversized, non-finite, coordinate-less, 2D or
    overlapping structure."""
    where = s.source or s.name or "input"
    if s.n_atoms == 0:
        raise EmptyInputError(f"{where} holds no atoms; give a structure with at least one atom")
    check_atoms(s.n_atoms, limits, where)
    if not np.isfinite(s.coords).all():
        bad = int(np.nonzero(~np.isfinite(s.coords).all(axis=1))[0][0])
        raise ParseError(f"atom {bad + 1} (1-based) has a non-finite coordinate", source=where)
    if np.abs(s.coords).max() > 1e6:
        raise ParseError("coordinates over 10^6 Å; check the units (Å expected)", source=where)
    if s.n_atoms >= 2 and not s.coords.any():
        raise MissingCoordinatesError(
            f"{where}: every atom is at (0, 0, 0), so the file has no coordinates; "
            "give a file with 3D coordinates (or the SMILES: we build 3D from it)"
        )
    check_3d(s, where)
    i, j, d = find_overlap(s.coords)
    if i >= 0:
        raise OverlappingAtomsError(
            f"{where}: atoms {s.atom_label(i)} and {s.atom_label(j)} (1-based) are {d:.2f} Å "
            f"apart, closer than {MIN_DISTANCE} Å; remove duplicate atoms or alternate "
            "locations, or check the coordinates"
        )
    return s
