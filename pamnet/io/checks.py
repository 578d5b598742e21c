"""Sanity checks every reader runs on what it parsed."""

from __future__ import annotations

import numpy as np

from pamnet.errors import EmptyInputError, OverlappingAtomsError, ParseError
from pamnet.io._text import Limits, check_atoms
from pamnet.structure import Structure

MIN_DISTANCE = 0.5  # Å; closer than any real bond (H-H is 0.74 Å)


def find_overlap(coords: np.ndarray, min_distance: float = MIN_DISTANCE) -> tuple[int, int, float]:
    """First pair (i, j, distance) closer than `min_distance` Å, or (-1, -1, inf).

    One nearest-neighbour query on a k-d tree: O(N log N), no N x N matrix.
    """
    if len(coords) < 2:
        return -1, -1, float("inf")
    from scipy.spatial import cKDTree

    dist, nbr = cKDTree(coords).query(coords, k=2)
    close = np.nonzero(dist[:, 1] < min_distance)[0]
    if len(close) == 0:
        return -1, -1, float("inf")
    i = int(close[0])
    j = int(nbr[i, 1])
    return min(i, j), max(i, j), float(dist[i, 1])


def check_structure(s: Structure, limits: Limits) -> Structure:
    """Raise the typed error for an empty, oversized, non-finite or overlapping structure."""
    where = s.source or s.name or "input"
    if s.n_atoms == 0:
        raise EmptyInputError(f"{where} holds no atoms; give a structure with at least one atom")
    check_atoms(s.n_atoms, limits, where)
    if not np.isfinite(s.coords).all():
        bad = int(np.nonzero(~np.isfinite(s.coords).all(axis=1))[0][0])
        raise ParseError(f"atom {bad + 1} (1-based) has a non-finite coordinate", source=where)
    if np.abs(s.coords).max() > 1e6:
        raise ParseError("coordinates over 10^6 Å; check the units (Å expected)", source=where)
    i, j, d = find_overlap(s.coords)
    if i >= 0:
        raise OverlappingAtomsError(
            f"{where}: atoms {s.atom_label(i)} and {s.atom_label(j)} (1-based) are {d:.2f} Å "
            f"apart, closer than {MIN_DISTANCE} Å; remove duplicate atoms or alternate "
            "locations, or check the coordinates"
        )
    return s
