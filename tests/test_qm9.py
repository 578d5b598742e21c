"""QM9 data: split, units, atom references, bonds like the readers', shipped checkpoint card."""

import json
import math
from pathlib import Path

import pytest
import torch
from torch.testing import assert_close

pytest.importorskip("pandas")
from pamnet import qm9, qm9_mmff  # noqa: E402

try:
    qm9.csv_dir()
except Exception:  # noqa: BLE001 - no qm9pack: nothing here can run
    pytest.skip("qm9pack is not installed", allow_module_level=True)

FIRST = list(range(12))  # methane, ammonia, water, ... in QM9 order


@pytest.fixture(scope="module")
def first() -> qm9.QM9:
    return qm9.load(FIRST)


def test_split_is_deterministic_disjoint_and_documented():
    a, b = qm9.split(0), qm9.split(0)
    assert {k: v.numel() for k, v in a.items()} == {"train": 110_000, "val": 10_000,
                                                     "test": 10_831}  # fmt: skip
    for k in a:
        assert torch.equal(a[k], b[k])
    every = torch.cat([a["train"], a["val"], a["test"]])
    assert torch.equal(every.sort().values, torch.arange(qm9.NUM_MOLECULES))
    assert qm9.split_hash(a) == qm9.split_hash(b) != qm9.split_hash(qm9.split(1))
    meta = qm9.split_metadata(0)
    assert meta["counts"] == {"train": 110_000, "val": 10_000, "test": 10_831}
    assert meta["sha256_16"] == qm9.split_hash(a)


def test_units_follow_the_paper(first):
    methane = first.y[0]
    assert first.smiles[0] == "C" and int(first.index[0]) == 1
    t = {name: float(v) for name, v in zip(qm9.TARGETS, methane)}
    assert t["mu"] == pytest.approx(0.0)
    assert t["alpha"] == pytest.approx(13.21)  # a0^3
    assert t["homo"] == pytest.approx(-0.3877 * 27.211386)  # Hartree -> eV
    assert t["gap"] == pytest.approx(0.5048 * 27.211386)
    assert t["r2"] == pytest.approx(35.3641)  # a0^2
    assert t["zpve"] == pytest.approx(0.044749 * 27.211386)
    assert t["u0"] == pytest.approx(-40.47893 * 27.211386)
    assert t["cv"] == pytest.approx(6.469)  # cal/mol/K
    assert list(qm9.UNITS) == list(qm9.TARGETS)


def test_atom_refs_make_u0_an_atomization_energy(first):
    ref = qm9.atom_ref()
    k = qm9.TARGETS.index("u0")
    assert ref[0][k] == pytest.approx(-13.61312172, abs=1e-6)  # H, eV (PyG's QM9 atomref)
    assert ref[1][k] == pytest.approx(-1029.86312267, abs=1e-5)  # C
    assert all(row[0] == 0.0 for row in ref)  # mu has no atom reference
    # methane: U0 - (C + 4 H) = -0.631066 Ha = -17.172 eV
    atomization = float(first.y[0, k]) - ref[1][k] - 4 * ref[0][k]
    assert atomization == pytest.approx(-0.631066 * 27.211386, abs=1e-5)


def test_atom_ref_normalization_round_trip(first):
    from pamnet.data import collate
    from pamnet.normalize import to_normalized, to_physical

    norm = qm9.normalization(first)
    assert norm.per_atom[qm9.TARGETS.index("u0")] and not norm.per_atom[0]
    batch = collate(first.graphs())
    raw = to_normalized(first.y, batch, norm)
    assert_close(to_physical(raw, batch, norm), first.y, rtol=0, atol=1e-9)
    # normalized atomization energies are O(1), not O(1000 eV / std)
    assert raw[:, qm9.TARGETS.index("u0")].abs().max() < 5


def test_bonds_are_what_the_xyz_reader_gives():
    from pamnet.featurize import molecule_input
    from pamnet.io import read
    from pamnet.io.xyz import format_xyz
    from pamnet.structure import Structure

    rows = [0, 5, 40, 500, 5000, 40_000, 90_000, 130_000]
    data = qm9.load(rows)
    for i in range(len(data)):
        g = data.graph(i)
        s = Structure([qm9.ELEMENTS[t] for t in g.atom_type], g.pos.double().numpy())
        text = format_xyz([s]).encode()
        ours = {tuple(e) for e in g.bond_index.T.tolist()}
        app = molecule_input(read(text, fmt="xyz", name="m.xyz")[0])
        assert ours == {tuple(e) for e in app.bond_index.T.tolist()}, data.smiles[i]


def test_cache_matches_a_fresh_parse():
    if not qm9.cache_path().is_file():
        pytest.skip("no QM9 cache on this machine")
    rows = [3, 777, 130_830]
    cached, fresh = qm9.load(rows), qm9.build(rows)
    for name in ("pos", "atom_type", "atom_ptr", "bonds", "bond_ptr", "y", "index"):
        assert torch.equal(getattr(cached, name), getattr(fresh, name)), name
    assert cached.smiles == fresh.smiles


SHIPPED = ["qm9_pamnet", "qm9_pamnet_mmff"]  # trained on DFT and on MMFF geometries


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_checkpoint_reproduces_its_card(name, capsys):
    from pamnet.checkpoint import load_checkpoint
    from pamnet.cli import main
    from pamnet.registry import resolve

    loaded = load_checkpoint(resolve(name))
    meta = loaded.metadata
    assert meta["split"]["sha256_16"] == qm9.split_hash(qm9.split(meta["split"]["seed"]))
    assert meta["geometry"] == ("mmff" if name.endswith("mmff") else "dft")
    assert set(meta["test_mae"]) == set(qm9.TARGETS)
    stored = meta["test_first_n"]
    assert stored["n"] == 2000 and stored["geometry"] == meta["geometry"]
    # evaluate uses the geometry the checkpoint was trained on
    assert main(["evaluate", "--checkpoint", name, "--limit", "2000", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert list(out["mae"]) == list(qm9.TARGETS) and out["units"] == qm9.UNITS
    assert out["n"] == 2000 - out.get("skipped", 0) and out.get("skipped", 0) < 40
    for t in qm9.TARGETS:
        assert math.isclose(out["mae"][t], stored["mae"][t], rel_tol=1e-3, abs_tol=1e-6), t
    # calibrated on the validation split: its 90% intervals cover 85-95% of test molecules
    assert loaded.calibration is not None and out["level"] == 0.9
    assert all(0.85 <= out["coverage"][t] <= 0.95 for t in qm9.TARGETS), out["coverage"]
    assert meta["intervals"]["n"] > 10_000  # the card's figures: the whole test split


def test_train_and_evaluate_cli_on_a_few_molecules(tmp_path, capsys):
    from pamnet.checkpoint import load_checkpoint
    from pamnet.cli import main

    args = ["train", "--limit-train", "24", "--limit-val", "8", "--epochs", "1", "--dim", "8",
            "--n-layer", "1", "--batch-size", "8", "--device", "cpu", "--out", str(tmp_path)]  # fmt: skip
    assert main(args) == 0
    loaded = load_checkpoint(tmp_path / "best.pt")
    assert loaded.targets == list(qm9.TARGETS) and loaded.metadata["data"]["n_train"] == 24
    capsys.readouterr()
    assert main(["evaluate", "--checkpoint", str(tmp_path / "best.pt"), "--split", "val",
                 "--limit", "8", "--json"]) == 0  # fmt: skip
    out = json.loads(capsys.readouterr().out)
    assert out["n"] == 8 and all(math.isfinite(v) for v in out["mae"].values())


def test_two_processes_train_what_one_process_trains(tmp_path, monkeypatch):
    """`pamnet train --processes 2` (two torchrun ranks, 4 molecules each of every batch
    of 8) makes the same updates as one process with batch 8, and a resume in one process
    keeps the whole batch of 8."""
    from pamnet import device
    from pamnet.cli import main
    from pamnet.training import load_state

    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parents[1]))
    monkeypatch.setattr(device, "idle_cores", lambda window=0.5: 2)  # CI's other worker
    args = ["train", "--limit-train", "40", "--limit-val", "8", "--epochs", "1", "--dim", "8",
            "--n-layer", "1", "--batch-size", "8", "--device", "cpu", "--lr", "1e-3"]  # fmt: skip
    assert main([*args, "--threads", "1", "--out", str(tmp_path / "one")]) == 0
    assert main([*args, "--processes", "2", "--out", str(tmp_path / "two")]) == 0
    one, two = (load_state(tmp_path / n / "state.pt") for n in ("one", "two"))
    assert (two["world_size"], two["train_config"]["batch_size"]) == (2, 4)  # really 2 ranks
    assert one["step"] == two["step"] == 5
    for k, v in one["model"].items():
        assert_close(two["model"][k], v, rtol=1e-4, atol=1e-6)
    for name in ("one", "two"):  # a second epoch in one process from each
        again = ["train", "--resume", str(tmp_path / name / "state.pt"), "--epochs", "2",
                 "--threads", "1", "--device", "cpu", "--out", str(tmp_path / f"{name}2")]  # fmt: skip
        assert main(again) == 0
    one, two = (load_state(tmp_path / n / "state.pt") for n in ("one2", "two2"))
    assert two["train_config"]["batch_size"] == 8 and two["world_size"] == 1
    for k, v in one["model"].items():
        assert_close(two["model"][k], v, rtol=1e-4, atol=1e-6)


def test_processes_must_split_the_batch():
    import argparse

    from pamnet.commands.train import _rank_batch
    from pamnet.errors import ConfigError

    with pytest.raises(ConfigError, match="--batch-size 7 does not split into 2"):
        _rank_batch(argparse.Namespace(resume=None, batch_size=7), 2)
    assert _rank_batch(argparse.Namespace(resume=None, batch_size=32), 2) == 16


def test_mmff_molecules_are_what_the_smiles_reader_builds():
    from pamnet.featurize import molecule_input
    from pamnet.io import from_smiles

    data = qm9.load([5, 20, 1000, 50_000])
    mmff, kept = qm9_mmff.build_mmff(data)
    assert kept == [0, 1, 2, 3]
    assert torch.equal(mmff.y, data.y) and torch.equal(mmff.index, data.index)
    for k in range(len(kept)):
        ours, app = mmff.graph(k), molecule_input(from_smiles(data.smiles[k]))
        assert torch.equal(ours.atom_type, app.atom_type)
        assert_close(ours.pos, app.pos)
        assert set(map(tuple, ours.bond_index.T.tolist())) == set(
            map(tuple, app.bond_index.T.tolist())
        )
        assert not torch.equal(ours.pos, data.graph(k).pos)  # not the DFT geometry


def test_mmff_cache_serves_any_rows(tmp_path, monkeypatch):
    monkeypatch.setenv("PAMNET_DATA_DIR", str(tmp_path))
    real = qm9.load  # "all of QM9" is its first 6 molecules here

    monkeypatch.setattr(qm9, "load", lambda rows=None: real(range(6) if rows is None else rows))
    everything, source = qm9_mmff.load_mmff()
    assert qm9_mmff.mmff_cache_path().is_file() and source == list(range(6))
    part, kept = qm9_mmff.load_mmff([4, 1, 100])  # 100 is not in this cache: left out
    assert kept == [0, 1] and part.smiles == [everything.smiles[4], everything.smiles[1]]
    assert torch.equal(part.graph(0).pos, everything.graph(4).pos)


def test_train_on_mmff_geometries_from_the_shipped_model(tmp_path):
    from pamnet.checkpoint import load_checkpoint
    from pamnet.cli import main

    shipped = load_checkpoint(qm9.default_checkpoint())
    args = ["train", "--geometry", "mmff", "--init", "qm9_pamnet", "--limit-train", "16",
            "--limit-val", "8", "--epochs", "1", "--batch-size", "8", "--device", "cpu",
            "--out", str(tmp_path)]  # fmt: skip
    assert main(args) == 0
    tuned = load_checkpoint(tmp_path / "best.pt")
    meta = tuned.metadata
    assert meta["geometry"] == "mmff" and meta["init"]["checkpoint"] == "qm9_pamnet.pt"
    assert tuned.config == shipped.config and tuned.normalization == shipped.normalization
    assert tuned.targets == shipped.targets


@pytest.mark.parametrize("name", SHIPPED)
def test_each_shipped_specialist_beats_the_base_on_its_target(name):
    """A specialist (pamnet.specialists) is shipped only where it pays: on the first 500
    test molecules its target's MAE is below the base model's own output for it."""
    from dataclasses import replace

    from pamnet import qm9_eval
    from pamnet.checkpoint import load_checkpoint
    from pamnet.registry import resolve

    loaded = load_checkpoint(resolve(name), "cpu")
    if not loaded.specialists:
        pytest.skip(f"{name} has no specialists")
    geometry = loaded.metadata["geometry"]
    both = qm9_eval.evaluate(loaded, "test", 500, geometry, device="cpu")["mae"]
    alone = replace(loaded, specialists={})
    base = qm9_eval.evaluate(alone, "test", 500, geometry, device="cpu")["mae"]
    for t in qm9.TARGETS:
        if t in loaded.specialists:
            assert both[t] < 0.97 * base[t], (t, both[t], base[t])
        else:
            assert math.isclose(both[t], base[t], rel_tol=1e-6), t  # the base's own output
