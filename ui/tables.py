"""Tables of pamnet objects for `st.dataframe` (pure pandas, no Streamlit)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pamnet.structure import Structure, covalent_bonds

POLYMER_ROLES = ("protein", "nucleic")


def atom_table(s: Structure) -> pd.DataFrame:
    """One row per atom: 1-based index, element, role, residue, degree (bonded atoms).

    Degrees come from the file's bonds, or from covalent radii when the file has none
    or holds polymers (PDB CONECT records usually cover only the ligands)."""
    if s.bonds is None or any(r in POLYMER_ROLES for r in s.roles):
        bonds = covalent_bonds(s.elements, s.coords)  # [B, 2]
    else:
        bonds = s.bonds
    degree = np.bincount(bonds.ravel(), minlength=s.n_atoms)
    table = {"atom": np.arange(1, s.n_atoms + 1), "element": s.elements, "role": s.roles}
    if s.residue_names is not None:
        nums = s.residue_numbers if s.residue_numbers is not None else [""] * s.n_atoms
        chains = s.chain_ids or [""] * s.n_atoms
        table["residue"] = [f"{r} {c}{n}".strip() for r, c, n in zip(s.residue_names, chains, nums)]
    table["degree"] = degree.astype(int)
    return pd.DataFrame(table)
