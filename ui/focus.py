"""What to draw of a large structure, so that big complexes stay responsive in a browser.

Drawing a 5,000-atom protein as a cartoon costs the browser seconds (and much more
without a GPU); the graphs PAMNet builds for a complex only involve the binding site.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from pamnet.featurize import find_ligand
from pamnet.structure import Structure

LARGE = 2000  # atoms: complexes above this are drawn around their binding site
# Å beyond the pocket cutoff. Featurization looks 2.6 Å past the pocket (whole residues),
# so the site's model input, graphs and counts equal those of the whole structure.
SITE_MARGIN = 6.0


def binding_site(s: Structure, ligand_resname: str | None, radius: float) -> Structure:
    """Whole residues with an atom within `radius` Å of the ligand (`find_ligand`:
    by residue name, or automatic when None), the ligand included, in file order."""
    ligand = find_ligand(s, ligand_resname)
    dist, _ = cKDTree(s.coords[ligand]).query(s.coords, distance_upper_bound=radius)
    chains = s.chain_ids or [""] * s.n_atoms
    numbers = s.residue_numbers if s.residue_numbers is not None else np.zeros(s.n_atoms, int)
    codes = s.insertion_codes or [""] * s.n_atoms
    residues = np.array(
        [f"{c}|{n}|{i}|{r}" for c, n, i, r in zip(chains, numbers, codes, s.residue_names)]
    )
    site = s.select(np.isin(residues, residues[dist < radius]))
    site.name = s.name
    return site
