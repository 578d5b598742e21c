"""The Task record: looked up by name, owning cutoffs, elements, builder and featurizer."""

import pytest
import torch

from pamnet.config import ModelConfig
from pamnet.errors import ConfigError
from pamnet.io import from_smiles
from pamnet.tasks import TASK_NAMES, TASKS, Graphs, KnnGraphs, get_task, task_for
from pamnet.testing import random_molecule


def test_lookup_by_name_and_official_defaults():
    assert tuple(TASKS) == TASK_NAMES == ("molecule", "complex", "rna")
    assert get_task("molecule").cutoffs == (5.0, 5.0)  # main_qm9.py
    assert get_task("complex").cutoffs == (2.0, 6.0)  # main_pdbbind.py
    assert get_task("rna").cutoffs == (2.6, 20.0)  # main_rna_puzzles.py
    assert get_task("molecule").elements == ("H", "C", "N", "O", "F")
    assert get_task("rna").elements == ("C", "N", "O")
    assert get_task("complex").atom_input == "features" and get_task("rna").atom_input == "types"
    with pytest.raises(ConfigError, match="unknown task 'protein'"):
        get_task("protein")


def test_cutoffs_or_defaults_and_knn():
    assert get_task("rna").cutoffs_or_default(None, 12.0) == (2.6, 12.0)
    assert task_for(ModelConfig(task="rna", knn_k=7)).build_graphs == KnnGraphs(7)
    assert get_task("molecule", knn_k=7) is get_task("molecule")


def test_featurizer_and_graphs_without_a_model_config():
    inp = get_task("molecule").featurize(from_smiles("CCO"))
    assert inp.meta["task"] == "molecule" and inp.num_atoms == 9
    g = get_task("molecule").graphs(inp)  # default cutoffs, no ModelConfig needed
    assert g.sym_g and g.edge_l.shape[1] == 16  # 8 bonds, both ways


def test_symmetric_graphs_reverse_the_first_half():
    inp = random_molecule(7, seed=3)
    g = get_task("complex").graphs(inp, 2.0, 4.0)
    half = g.edge_g.shape[1] // 2
    assert g.sym_g and torch.equal(g.edge_g[:, half:], g.edge_g[:, :half].flip(0))
    assert torch.equal(g.dist_g[half:], g.dist_g[:half])
    assert not get_task("rna").graphs(inp).sym_g
    pairs = torch.tensor([[0], [1]])
    sym = Graphs.symmetric(pairs, torch.ones(1), pairs, torch.ones(1))
    assert sym.edge_g.tolist() == [[0, 1], [1, 0]] and sym.sym_g
