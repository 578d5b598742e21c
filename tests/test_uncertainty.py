"""Calibrated intervals, the domain and conformer ensembles (`pamnet.uncertainty`)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from pamnet.checkpoint import load_checkpoint
from pamnet.errors import ConfigError, DataError
from pamnet.predict import Predictor, to_frame, to_sdf
from pamnet.testing import calibrate_tiny
from pamnet.uncertainty import (
    MIN_CALIBRATION,
    Calibration,
    assess,
    calibrate,
    conformal_quantiles,
    knn_distance,
)


def test_conformal_quantile_is_the_finite_sample_order_statistic():
    scores = np.arange(1.0, 20.0)  # 19 scores: (n + 1) * 0.9 = 18 -> the 18th smallest
    assert conformal_quantiles(scores, [0.9]) == [18.0]
    assert conformal_quantiles(scores, [0.5]) == [10.0]
    assert conformal_quantiles(scores, [0.99]) == [math.inf]  # needs a 20th score
    assert conformal_quantiles(np.array([np.nan, 1.0, 2.0]), [0.5]) == [2.0]


def _synthetic(n: int, seed: int, dim: int = 8):
    """Latents whose distance from the origin cluster sets the noise: far = noisier."""
    g = np.random.default_rng(seed)
    far = g.random(n) < 0.1
    lat = g.normal(size=(n, dim)) * np.where(far, 4.0, 1.0)[:, None]
    noise_scale = np.where(far, 3.0, 1.0)
    pred = g.normal(size=(n, 1))
    y = pred + g.normal(size=(n, 1)) * noise_scale[:, None]
    n_atoms = g.integers(5, 25, n)
    return pred, y, torch.tensor(lat, dtype=torch.float32), n_atoms, far


def test_intervals_cover_held_out_data_at_their_level_and_widen_far_away():
    pred, y, lat, n_atoms, _ = _synthetic(4000, 0)
    bank = torch.tensor(np.random.default_rng(1).normal(size=(3000, 8)), dtype=torch.float32)
    cal = calibrate(pred, y, lat, n_atoms, bank, ["t"], {"dataset": "synthetic"}, "test")
    tp, ty, tlat, tn, far = _synthetic(4000, 2)
    r = cal.ratio(tlat)
    for level in (0.8, 0.9, 0.95):
        hw = cal.half_width("t", r, tn, level)
        covered = np.abs(tp[:, 0] - ty[:, 0]) <= hw
        assert abs(covered.mean() - level) < 0.03, (level, covered.mean())
    hw = cal.half_width("t", r, tn, 0.9)
    assert hw[far].mean() > 1.5 * hw[~far].mean()  # the difficulty follows the distance
    # in the far group alone, coverage holds roughly too (normalised, not one width)
    assert np.mean((np.abs(tp[:, 0] - ty[:, 0]) <= hw)[far]) > 0.8
    assert cal.r_near < cal.r_outside


def test_too_few_held_out_structures_are_refused_and_few_get_one_width():
    pred, y, lat, n_atoms, _ = _synthetic(200, 3)
    with pytest.raises(DataError, match=f"at least {MIN_CALIBRATION}"):
        calibrate(pred[:10], y[:10], lat[:10], n_atoms[:10], lat, ["t"], {}, "x")
    small = calibrate(pred[:60], y[:60], lat[:60], n_atoms[:60], lat, ["t"], {}, "x")
    assert small.sigma["t"] == [1.0, 0.0, 0.0] and small.n == 60
    assert small.describe().startswith("split-conformal on 60")


def test_knn_distance_is_zero_on_the_bank_and_grows_away_from_it():
    bank = torch.randn(50, 4)
    d = knn_distance(bank, bank, torch.ones(4), k=1)
    np.testing.assert_allclose(d, 0, atol=1e-5)
    assert knn_distance(bank[:1] + 100, bank, torch.ones(4), k=1)[0] > 50


def test_a_calibrated_checkpoint_gives_intervals_everywhere(tiny_registry):
    calibrate_tiny(tiny_registry)
    loaded = load_checkpoint(tiny_registry / "tiny.pt")
    assert isinstance(loaded.calibration, Calibration)  # survives save/load (weights_only)
    pred = Predictor(loaded, "cpu", conformers=1)
    (row,) = pred.predict(["CCO"])
    assert row.level == 0.9 and set(row.intervals) == {"homo", "u0"}
    for t, (low, high) in row.intervals.items():
        assert low < row.values[t] < high
        assert high - row.values[t] == pytest.approx(row.errors[t])
    wider = Predictor(loaded, "cpu", conformers=1, level=0.99).predict(["CCO"])[0]
    assert all(wider.errors[t] > row.errors[t] for t in row.errors)
    d = json.loads(json.dumps(row.to_dict()))
    assert d["level"] == 0.9 and d["intervals"]["homo"] == list(row.intervals["homo"])
    assert d["domain"]["level"] in ("in-domain", "near", "outside")
    frame = to_frame([row])
    assert {"homo [eV]", "homo ± [eV]", "u0 ± [eV]", "level", "domain"} <= set(frame.columns)
    assert "homo ± [eV]" in to_sdf([row])
    with pytest.raises(ConfigError, match="outside 0.5"):
        Predictor(loaded, "cpu", level=1.2)


def test_cli_predict_reports_intervals(tiny_registry, capsys):
    from pamnet.cli import main

    calibrate_tiny(tiny_registry)
    assert main(["predict", "CCO", "--conformers", "1", "--format", "json", "--level", "80"]) == 0
    (rec,) = json.loads(capsys.readouterr().out)
    assert rec["level"] == 0.8 and rec["intervals"]["u0"][0] < rec["predictions"]["u0"]
    assert main(["predict", "CCO", "--conformers", "1", "--format", "table"]) == 0
    out = capsys.readouterr().out
    assert " ± " in out and "90% prediction intervals" in out
    with pytest.raises(SystemExit) as exit_:
        main(["predict", "CCO", "--level", "100"])
    assert exit_.value.code == 2 and "outside 0.5-0.995" in capsys.readouterr().err


def test_domain_rules_say_why():
    from pamnet.io import from_smiles

    limits = {"dataset": "QM9", "max_heavy": 9, "max_atoms": 29, "charged": False,
              "geometry": "mmff"}  # fmt: skip
    ok = assess(from_smiles("CCO"), limits, None, None)
    assert ok.level == "in-domain" and not ok.reasons and ok.summary() == "in-domain"
    zwitterion = assess(from_smiles("[NH3+]CC(=O)[O-]"), limits, None, None)
    assert zwitterion.level == "outside" and "zwitterion" in zwitterion.reasons[0]
    big = assess(from_smiles("CCCCCCCCCCO"), limits, None, None)
    assert big.reasons == ["11 heavy atoms; QM9 has at most 9"]
    dft = assess(from_smiles("CCO"), {**limits, "geometry": "dft"}, None, None)
    assert dft.level == "near" and "mmff geometry" in dft.reasons[0]


def test_latent_distance_sets_the_domain_level():
    from pamnet.io import from_smiles

    pred, y, lat, n_atoms, _ = _synthetic(1000, 4)
    bank = torch.tensor(np.random.default_rng(5).normal(size=(500, 8)), dtype=torch.float32)
    cal = calibrate(pred, y, lat, n_atoms, bank, ["t"], {}, "synthetic")
    assert 1 < cal.r_near < cal.r_outside

    s = from_smiles("CCO")
    limits = {}
    assert assess(s, limits, 0.5 * cal.r_near, cal).level == "in-domain"
    assert assess(s, limits, 0.5 * (cal.r_near + cal.r_outside), cal).level == "near"
    far = assess(s, limits, 2 * cal.r_outside, cal)
    assert far.level == "outside" and "far from every training structure" in far.reasons[0]


def test_conformers_are_distinct_minimised_and_sorted():
    from rdkit import Chem
    from rdkit.Chem import rdMolAlign

    from pamnet.io.smiles import conformers_from_smiles

    confs = conformers_from_smiles("CCCCCCO", k=5)
    assert len(confs) == 5
    energies = [c.properties["mmff_energy"] for c in confs]
    assert energies == sorted(energies)
    assert all(c.geometry == "mmff" for c in confs)
    mol = Chem.MolFromSmiles("CCCCCCO")  # heavy atoms come first in each structure
    heavy = [c.coords[: mol.GetNumAtoms()] for c in confs]
    for i in range(5):
        for j in range(i):
            a, b = Chem.Mol(mol), Chem.Mol(mol)
            for m, xyz in ((a, heavy[i]), (b, heavy[j])):
                conf = Chem.Conformer(len(xyz))
                for k, p in enumerate(xyz):
                    conf.SetAtomPosition(k, p.tolist())
                m.AddConformer(conf)
            assert rdMolAlign.GetBestRMS(a, b) > 0.5
    assert len(conformers_from_smiles("C", k=5)) == 1  # methane has one


def test_an_ensemble_reports_mean_spread_and_a_wider_interval(tiny_registry):
    lm = calibrate_tiny(tiny_registry)
    one = Predictor(lm, "cpu", conformers=1).predict(["CCCCCCO"], attention=True)[0]
    many = Predictor(lm, "cpu", conformers=5).predict(["CCCCCCO"], attention=True)[0]
    assert one.conformers == 1 and many.conformers == 5 and set(many.spread) == {"homo", "u0"}
    assert all(many.spread[t] > 0 for t in many.spread)
    # contributions (averaged over conformers) still sum to the (mean) values
    np.testing.assert_allclose(
        many.contributions.sum((0, 1)), [many.values[t] for t in many.targets], rtol=1e-6
    )
    from pamnet.io.smiles import conformers_from_smiles

    confs = conformers_from_smiles("CCCCCCO", k=5)
    each = Predictor(lm, "cpu", conformers=1).predict(confs)
    for t in many.targets:
        vals = [r.values[t] for r in each]
        assert many.values[t] == pytest.approx(np.mean(vals), rel=1e-9)
        assert many.spread[t] == pytest.approx(np.std(vals, ddof=1), rel=1e-6)
    assert to_frame([many])["conformers"].tolist() == [5]
    assert json.loads(json.dumps(many.to_dict()))["conformers"] == 5


def test_the_bank_spreads_over_sizes_so_rare_small_molecules_are_in_it():
    from pamnet.uncertainty import bank_rows

    sizes = np.array([9] * 5000 + [8] * 800 + [3] * 4 + [1] * 1)  # QM9-like: few small ones
    rows = bank_rows(sizes, 100)
    assert len(rows) == len(set(rows)) == 100
    picked = np.bincount(sizes[rows], minlength=10)
    assert picked[1] == 1 and picked[3] == 4  # every small one
    assert sorted(picked[8:]) == [47, 48]  # the rest shared evenly
    assert np.array_equal(rows, bank_rows(sizes, 100))  # seeded
    assert len(bank_rows(sizes[:10], 100)) == 10  # fewer than asked: all
