"""The one inference path and the normalisation module."""

import math

import pytest
import torch
from torch.testing import assert_close

from pamnet.checkpoint import Normalization
from pamnet.data import collate
from pamnet.inference import predict_graphs, run
from pamnet.normalize import (
    per_atom_reference,
    reference_term,
    to_normalized,
    to_physical,
)
from pamnet.predict import Predictor
from pamnet.testing import random_molecule

NORM = Normalization(
    mean=[0.5, 2.0],
    std=[0.7, 1.5],
    per_atom=[True, False],
    atom_ref=[[-1.0, 0.0], [-2.0, 0.0], [-3.0, 0.0], [-4.0, 0.0], [-5.0, 0.0]],
)


def test_reference_term_is_the_graph_sum_of_the_per_atom_shares():
    graphs = [random_molecule(n, seed=n) for n in (3, 5, 8)]
    batch = collate(graphs)
    ref = reference_term(batch, NORM)
    share = per_atom_reference(batch, NORM)
    g = graphs[1]
    by_hand = 0.5 * g.num_atoms + sum(NORM.atom_ref[int(t)][0] for t in g.atom_type)
    assert math.isclose(float(ref[1, 0]), by_hand, abs_tol=1e-12)
    assert float(ref[1, 1]) == pytest.approx(2.0, abs=1e-12)  # intensive: split, then summed
    assert_close(share[batch.graph == 1].sum(0), ref[1])


def test_normalisation_round_trip():
    batch = collate([random_molecule(6, seed=1), random_molecule(4, seed=2)])
    y = torch.tensor([[-20.0, 3.0], [-11.5, 1.25]], dtype=torch.float64)
    assert_close(to_physical(to_normalized(y, batch, NORM), batch, NORM), y, rtol=0, atol=1e-12)
    assert_close(to_normalized(y, batch, None), y)


def test_predict_explain_and_evaluate_agree_through_one_path(tiny_registry):
    from pamnet.explain import explain

    pred = Predictor.from_name("tiny", "cpu")
    (row,) = pred.predict(["CCO"], attention=True)
    exp = explain(row.input, pred, dtype=torch.float32)
    evaluated = predict_graphs(pred.model, [row.input], pred.loaded.normalization)
    values = [row.values[t] for t in row.targets]
    assert_close(torch.tensor([exp.values[t] for t in row.targets]), torch.tensor(values))
    assert_close(evaluated[0], torch.tensor(values, dtype=torch.float64))
    assert_close(torch.as_tensor(exp.contributions), torch.as_tensor(row.contributions))
    # contributions plus nothing else make the prediction; offset is already inside them
    out = run(pred.model, collate([row.input]), pred.loaded.normalization, contributions=True)
    assert_close(out.contributions.sum((0, 1)), out.values[0])
    assert out.offset.shape == (row.n_atoms, len(row.targets))
