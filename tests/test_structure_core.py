"""Structure: summaries, select, bond perception (vs brute force), RDKit round trip."""

import numpy as np
import pytest
from rdkit import Chem

from pamnet.io import from_smiles, to_rdkit
from pamnet.structure import Structure, covalent_bonds, normalize_element


def _water() -> Structure:
    return Structure(["O", "H", "H"], [[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]], name="water")


def test_summaries():
    s = from_smiles("CC(=O)[O-]")
    assert s.n_atoms == 7 and s.formula == "C2H3O2-"
    assert s.element_counts() == {"C": 2, "H": 3, "O": 2}
    assert list(s.element_counts()) == ["C", "H", "O"]  # Hill order
    assert s.role_counts() == {"molecule": 7}
    assert _water().formula == "H2O"


def test_normalize_element():
    assert normalize_element("CL") == "Cl" and normalize_element("6") == "C"
    assert normalize_element("D") == "H" and normalize_element("Xx") is None


def test_select_reindexes_bonds():
    s = from_smiles("CCO")
    heavy = np.array([e != "H" for e in s.elements])
    sub = s.select(heavy)
    assert sub.elements == ["C", "C", "O"]
    assert sorted(map(tuple, np.sort(sub.bonds, 1).tolist())) == [(0, 1), (1, 2)]
    assert np.allclose(sub.coords, s.coords[heavy])
    assert len(sub.formal_charges) == 3 and len(sub.roles) == 3
    assert s.select([2, 0]).elements == ["O", "C"]


def test_covalent_bonds_match_brute_force():
    rng = np.random.default_rng(0)
    s = from_smiles("c1ccccc1CCN")
    coords = np.concatenate([s.coords, s.coords + 20.0 + rng.normal(0, 0.05, s.coords.shape)])
    elements = s.elements * 2
    fast = {tuple(p) for p in covalent_bonds(elements, coords).tolist()}
    from pamnet.structure import _COVALENT_RADII, atomic_numbers

    r = _COVALENT_RADII[atomic_numbers(elements)]
    d = np.linalg.norm(coords[:, None] - coords[None], axis=-1)
    i, j = np.nonzero(np.triu(d < r[:, None] + r[None] + 0.45, 1))
    assert fast == set(zip(i.tolist(), j.tolist()))


def test_perceive_bonds_orders_and_charge():
    ref = from_smiles("c1ccccc1C(=O)O")
    bare = Structure(ref.elements, ref.coords)
    got = bare.perceive_bonds()
    mol = to_rdkit(got)
    assert Chem.MolToSmiles(Chem.RemoveHs(mol)) == Chem.MolToSmiles(Chem.MolFromSmiles(ref.smiles))
    ion = from_smiles("C[NH3+]")
    got = Structure(ion.elements, ion.coords).perceive_bonds(charge=1)
    assert got.formal_charges.sum() == 1


def test_perceive_bonds_falls_back_to_connectivity():
    s = Structure(["C", "C"], [[0, 0, 0], [1.54, 0, 0]]).perceive_bonds()  # no H: no orders
    assert s.bonds.tolist() == [[0, 1]] and s.bond_orders is None and s.warnings


def test_to_rdkit_keeps_coordinates_and_bond_index():
    s = from_smiles("CC(=O)Nc1ccc(O)cc1")
    mol = to_rdkit(s)
    assert np.allclose(mol.GetConformer().GetPositions(), s.coords)
    bi = s.bond_index()
    assert bi.shape == (2, 2 * s.n_bonds)
    assert {tuple(e) for e in bi.T.tolist()} == {(b, a) for a, b in bi.T.tolist()}


def test_length_mismatch_is_rejected():
    with pytest.raises(ValueError):
        Structure(["C", "O"], [[0, 0, 0], [1, 0, 0]], roles=["ligand"])


def test_atom_table_degrees_and_residues():
    from pamnet.io import from_smiles, read

    t = from_smiles("CCO").atom_table()
    assert list(t.columns) == ["atom", "element", "role", "degree", "x", "y", "z"]
    assert t["degree"].sum() == 2 * 8
    pdb = (
        "ATOM      1  N   GLY A   1       0.000   0.000   0.000  1.00  0.00           N\n"
        "ATOM      2  CA  GLY A   1       1.450   0.000   0.000  1.00  0.00           C\n"
        "END\n"
    )
    t = read(pdb.encode(), name="gly.pdb")[0].atom_table(coords=False)
    assert list(t["residue"]) == ["GLY A1", "GLY A1"] and list(t["degree"]) == [1, 1]
    assert list(t.columns) == ["atom", "element", "role", "residue", "degree"]


def test_notebook_display_escapes_and_caps_rows():
    from pamnet.structure import MAX_HTML_ROWS

    s = Structure(["C"] * 40, np.arange(120).reshape(40, 3) * 1.0, name="<b>x</b>")
    text = s._repr_html_()
    assert "&lt;b&gt;x&lt;/b&gt;" in text and "<b>x</b>" not in text
    assert text.count("<tr") == MAX_HTML_ROWS + 1  # header + rows and "10 more atoms" in text
    assert repr(s) == "Structure('<b>x</b>', C40, 40 atoms, no bonds, file)"


def test_fragments_match_scipy_connected_components():
    import numpy as np
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    from pamnet.structure import _components

    rng = np.random.default_rng(1)
    for _ in range(200):
        n = int(rng.integers(1, 300))
        bonds = rng.integers(0, n, (int(rng.integers(0, 2 * n)), 2))
        ours = _components(n, bonds)
        graph = coo_matrix((np.ones(len(bonds)), (bonds[:, 0], bonds[:, 1])), shape=(n, n))
        ref = connected_components(graph, directed=False)[1]
        assert len(set(zip(ours, ref))) == len(set(ours)) == len(set(ref))  # same partition
