"""read -> write -> read keeps elements, coordinates and bonds (SDF, XYZ, PDB)."""

import numpy as np
import pytest

from pamnet.examples import load_example
from pamnet.io import from_smiles, read, write


def _bond_set(s):
    orders = s.bond_orders if s.bond_orders is not None else np.ones(len(s.bonds))
    return {(min(i, j), max(i, j), o) for (i, j), o in zip(s.bonds.tolist(), orders.tolist())}


@pytest.fixture(scope="module")
def molecules():
    return load_example("drugs") + [from_smiles("C[N+](C)(C)CC(=O)[O-]", name="betaine")]


def test_sdf_round_trip(molecules, tmp_path):
    path = tmp_path / "out.sdf"
    write(molecules, path, predictions=[{"gap_eV": 6.5}] * len(molecules))
    back = read(path)
    for a, b in zip(molecules, back):
        assert a.elements == b.elements and a.name == b.name
        assert np.abs(a.coords - b.coords).max() < 1e-4
        assert _bond_set(a) == _bond_set(b)
        assert a.formal_charges.tolist() == b.formal_charges.tolist()
        assert b.properties["gap_eV"] == "6.5"


def test_sdf_v3000_for_wide_coordinates(molecules):
    s = molecules[0].select(np.arange(molecules[0].n_atoms))
    s.coords = s.coords + 1e4  # too wide for V2000 columns -> V3000 (as over 999 atoms)
    text = write(s, fmt="sdf")
    assert "V3000" in text
    back = read(text.encode(), fmt="sdf")[0]
    assert np.abs(back.coords - s.coords).max() < 1e-4 and _bond_set(back) == _bond_set(s)


def test_xyz_round_trip(molecules):
    back = read(write(molecules, fmt="xyz").encode(), fmt="xyz")
    for a, b in zip(molecules, back):
        assert a.elements == b.elements and a.name == b.name and a.geometry == b.geometry
        assert np.abs(a.coords - b.coords).max() < 1e-6
        assert {p[:2] for p in _bond_set(a)} == {p[:2] for p in _bond_set(b)}  # perceived


def test_pdb_round_trip(molecules):
    for a in molecules:
        a = a.select(np.arange(a.n_atoms))
        a.coords = np.round(a.coords, 3)  # PDB stores 0.001 Å
        b = read(write(a, fmt="pdb").encode(), fmt="pdb")[0]
        assert a.elements == b.elements
        assert np.abs(a.coords - b.coords).max() < 1e-4
        assert _bond_set(a) == _bond_set(b)  # CONECT, double bonds written twice
        assert a.formal_charges.tolist() == b.formal_charges.tolist()


def test_pdb_round_trip_of_a_complex_keeps_residues():
    a = load_example("complex")[0]
    b = read(write(a, fmt="pdb").encode(), fmt="pdb")[0]
    assert a.elements == b.elements and a.roles == b.roles
    assert a.residue_names == b.residue_names and a.atom_names == b.atom_names
    assert np.array_equal(a.residue_numbers, b.residue_numbers)
    assert np.abs(a.coords - b.coords).max() < 1e-4
    assert _bond_set(a) == _bond_set(b)


def test_multi_model_pdb_round_trip():
    frames = load_example("drugs")[:2]
    frames = [f.select(np.arange(f.n_atoms)) for f in frames]
    back = read(write(frames, fmt="pdb").encode(), fmt="pdb", all_models=True)
    assert [b.elements for b in back] == [f.elements for f in frames]
