"""Task adapters: molecule, RNA and complex inputs; pocket vs brute force; the 18 features."""

import numpy as np
import pytest
import torch
from rdkit import Chem

from pamnet.data import collate
from pamnet.errors import EmptyInputError, StructureError
from pamnet.examples import load_example
from pamnet.featurize import (
    FEATURE_NAMES,
    atom_features,
    binding_site,
    complex_input,
    find_ligand,
    guess_task,
    molecule_input,
    rna_input,
)
from pamnet.io import from_smiles


@pytest.fixture(scope="module")
def complex_structure():
    return load_example("complex")[0]


def test_molecule_input():
    s = load_example("ethanol")[0]
    g = molecule_input(s)
    assert g.atom_type.tolist() == [{"H": 0, "C": 1, "O": 3}[e] for e in s.elements]
    assert g.bond_index.shape == (2, 16)  # 8 bonds, both directions
    edges = {tuple(e) for e in g.bond_index.T.tolist()}
    assert all((j, i) in edges for i, j in edges)
    assert g.part.eq(0).all() and g.sign.eq(1).all()
    assert g.meta["geometry"] == "dft" and g.name == "ethanol"
    assert torch.allclose(g.pos.double(), torch.as_tensor(s.coords), atol=1e-6)


def test_rna_input_keeps_nucleic_c_n_o():
    s = load_example("rna")[0]
    g = rna_input(s)
    want = [i for i, (e, r) in enumerate(zip(s.elements, s.roles))
            if r == "nucleic" and e in ("C", "N", "O")]  # fmt: skip
    assert g.meta["atom_index"] == want and g.num_atoms == len(want)
    assert set(g.atom_type.tolist()) == {0, 1, 2}
    with pytest.raises(EmptyInputError, match="nucleic"):
        rna_input(from_smiles("CCO"))


def test_complex_layout(complex_structure):
    g = complex_input(complex_structure)
    n_p, n_l = g.meta["n_pocket"], g.meta["n_ligand"]
    assert n_l == 9 and n_p > 0 and g.meta["ligand_resname"] == "BEN"
    assert g.num_atoms == 2 * (n_p + n_l) and g.atom_feat.shape == (g.num_atoms, 18)
    assert g.part.tolist() == [0] * (n_p + n_l) + [1] * n_p + [2] * n_l
    assert g.sign.tolist() == [1.0] * (n_p + n_l) + [-1.0] * (n_p + n_l)
    # every row maps back to its atom: same coordinates, roles as laid out
    rows = g.meta["rows"]
    coords = np.stack([complex_structure.coords[i] for _, i in rows])
    assert np.allclose(g.pos.double().numpy(), coords, atol=1e-5)
    assert [r for r, _ in rows[: n_p + n_l]] == ["pocket"] * n_p + ["ligand"] * n_l
    assert torch.equal(g.atom_feat[: n_p + n_l], g.atom_feat[n_p + n_l :])
    assert collate([g, g]).part.max() == 5


def test_pocket_matches_brute_force(complex_structure):
    s = complex_structure
    for cutoff in (4.0, 6.0, 8.0):
        g = complex_input(s, pocket_cutoff=cutoff)
        lig = np.array(g.meta["ligand_atoms"])
        heavy_side = [i for i, (e, r) in enumerate(zip(s.elements, s.roles))
                      if e != "H" and r != "water" and i not in set(lig)]  # fmt: skip
        d = np.linalg.norm(s.coords[heavy_side][:, None] - s.coords[lig][None], axis=-1)
        brute = np.array(heavy_side)[d.min(axis=1) < cutoff]
        assert g.meta["pocket_atoms"] == brute.tolist()


def test_ligand_given_separately_gives_the_same_input(complex_structure):
    s = complex_structure
    idx = find_ligand(s, "ben")
    auto = complex_input(s)
    sep = complex_input(s, ligand=s.select(idx))
    assert sep.meta["pocket_atoms"] == auto.meta["pocket_atoms"]  # the copy in s is skipped
    assert torch.allclose(sep.atom_feat, auto.atom_feat) and torch.equal(sep.pos, auto.pos)


def test_binding_site_gives_the_whole_structures_complex_input(complex_structure):
    from ui.focus import SITE_MARGIN

    s = complex_structure
    site = binding_site(s, None, 6.0 + SITE_MARGIN)
    assert site.n_atoms < s.n_atoms and site.name == s.name
    whole, part = complex_input(s), complex_input(site)
    assert torch.equal(part.pos, whole.pos) and torch.allclose(part.atom_feat, whole.atom_feat)
    tight = binding_site(s, "BEN", 3.0)
    assert tight.n_atoms < site.n_atoms and "BEN" in tight.residue_names


def test_find_ligand_errors(complex_structure):
    with pytest.raises(StructureError, match="ligands here: BEN"):
        find_ligand(complex_structure, "ATP")
    with pytest.raises(StructureError, match="no HETATM ligand"):
        find_ligand(load_example("rna")[0])


def test_hydrogens_option(complex_structure):
    g = complex_input(complex_structure, hydrogens=True)
    assert g.meta["n_ligand"] == 17  # benzamidine with its 8 hydrogens


def test_18_features_on_paracetamol():
    mol = Chem.AddHs(Chem.MolFromSmiles("CC(=O)Nc1ccc(O)cc1"))
    f = atom_features(mol, np.arange(11))
    cols = [FEATURE_NAMES.index(c) for c in ("hyb", "heavydegree", "heterodegree",
            "hydrophobic", "aromatic", "acceptor", "donor", "ring")]  # fmt: skip
    expected = {
        0: [3, 1, 0, 1, 0, 0, 0, 0],  # methyl C
        1: [2, 3, 2, 0, 0, 0, 0, 0],  # carbonyl C
        2: [2, 1, 0, 0, 0, 1, 0, 0],  # carbonyl O: acceptor
        3: [2, 2, 0, 0, 0, 1, 1, 0],  # amide N-H: acceptor and donor (tfbio SMARTS)
        4: [2, 3, 1, 0, 1, 0, 0, 1],  # aromatic C-N
        5: [2, 2, 0, 1, 1, 0, 0, 1],  # aromatic C-H: hydrophobic
        8: [2, 1, 0, 0, 0, 1, 1, 0],  # phenol O (RDKit: sp2, conjugated)
    }
    for i, row in expected.items():
        assert f[i, cols].tolist() == row, i
    assert f[[0, 1, 4], FEATURE_NAMES.index("C")].tolist() == [1, 1, 1]
    assert f[3, FEATURE_NAMES.index("N")] == 1 and f[8, FEATURE_NAMES.index("O")] == 1
    q = f[:, FEATURE_NAMES.index("partialcharge")]
    assert q[2] < 0 and q[8] < 0 and q[1] > 0  # Gasteiger signs


def test_element_classes_and_heterodegree():
    mol = Chem.AddHs(Chem.MolFromSmiles("OB(O)c1ccc(Cl)cc1[Se]C.CS(=O)(=O)N.[Na+]"))
    sym = [a.GetSymbol() for a in mol.GetAtoms()]
    f = atom_features(mol, np.arange(mol.GetNumAtoms()))
    for el, col in (("B", "B"), ("Cl", "halogen"), ("Se", "Se"), ("S", "S"), ("Na", "metal")):
        assert f[sym.index(el), FEATURE_NAMES.index(col)] == 1, el
        assert f[sym.index(el), :9].sum() == 1
    assert f[sym.index("S"), FEATURE_NAMES.index("heterodegree")] == 3  # O, O, N
    assert f[sym.index("B"), FEATURE_NAMES.index("heterodegree")] == 2  # O, O
    assert f[sym.index("H"), :9].sum() == 0


def test_tasks_are_one_record_each_looked_up_by_name(complex_structure):
    from pamnet.config import ModelConfig
    from pamnet.errors import ConfigError
    from pamnet.tasks import TASK_NAMES, KnnGraphs, get_task, task_for

    assert TASK_NAMES == ("molecule", "complex", "rna")
    assert guess_task(complex_structure) == "complex"
    assert guess_task(load_example("rna")[0]) == "rna"
    assert guess_task(from_smiles("CCO")) == "molecule"
    cx = get_task("complex")
    g = cx.featurize(complex_structure, ligand_resname="BEN", pocket_cutoff=5.0)
    assert g.meta["pocket_cutoff"] == 5.0 and cx.atom_input == "features"
    assert cx.cutoffs == (2.0, 6.0) and cx.cutoffs_or_default(None, 8.0) == (2.0, 8.0)
    assert get_task("molecule").elements == ("H", "C", "N", "O", "F")
    assert get_task("rna").elements == ("C", "N", "O")
    assert task_for(ModelConfig(task="rna", knn_k=8)).build_graphs == KnnGraphs(8)
    with pytest.raises(ConfigError, match="unknown task 'protein'"):
        get_task("protein")
    # graphs without a model configuration: the task's defaults, or given cutoffs
    graphs = cx.graphs(g)
    assert graphs.sym_g and bool((graphs.dist_l <= 2.0).all())
