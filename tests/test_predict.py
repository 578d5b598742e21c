"""Prediction service and `pamnet predict` / `pamnet checkpoints`."""

import io
import json

import numpy as np
import pytest
import torch

from pamnet.cli import main
from pamnet.io import from_smiles, write
from pamnet.predict import Predictor, to_frame, to_sdf
from pamnet.testing import TINY_TARGETS

TARGETS = list(TINY_TARGETS)


def test_predict_smiles_with_attention_sums(tiny_registry):
    pred = Predictor.from_name("tiny", "cpu")
    rows = pred.predict(["CCO", "c1ccccc1"], attention=True)
    assert [r.ok for r in rows] == [True, True]
    for r in rows:
        assert set(r.values) == set(TARGETS)
        assert r.attention.shape == (2, r.n_atoms, 2)
        np.testing.assert_allclose(r.attention.sum(-1), 1.0, atol=1e-6)
        np.testing.assert_allclose(
            r.contributions.sum((0, 1)), [r.values[t] for t in TARGETS], rtol=1e-6
        )
        assert any("geometry" in w for w in r.domain.reasons)  # MMFF geometry, DFT-trained model
    # The atom references make u0 a total energy: strongly negative, larger for benzene.
    assert rows[1].values["u0"] < rows[0].values["u0"] < -1000


def test_shipped_qm9_model_says_outside_its_domain():
    # the shipped model's own metadata (as `pamnet train` wrote it) must trigger the checks
    pred = Predictor.from_name("qm9_pamnet", "cpu")
    big, charged, small = pred.predict(["CCCCCCCCCCCC", "C[NH3+]", "CCO"])
    assert big.domain.level == "outside"
    assert any(w.startswith("12 heavy atoms; QM9 has at most 9") for w in big.domain.reasons)
    assert charged.domain.level == "outside"
    assert any("net charge +1" in w and "neutral" in w for w in charged.domain.reasons)
    # ethanol from SMILES: small and neutral (in QM9 itself); near, for the geometry kind
    assert small.domain.level == "near"
    assert small.domain.reasons[0].startswith("mmff geometry; the model was trained on dft")
    frame = to_frame([big, charged, small])
    assert frame["domain"].str.split(":").str[0].tolist() == ["outside", "outside", "near"]


def test_bad_rows_do_not_stop_the_batch(tiny_registry):
    rows = Predictor.from_name("tiny", "cpu").predict(["CCO", "CCS", "not a smiles((", "C"])
    assert [r.ok for r in rows] == [True, False, False, True]
    assert "S" in rows[1].error and "QM9" in rows[1].error
    frame = to_frame(rows)
    assert list(frame.columns[:4]) == ["name", "n_atoms", "homo [eV]", "u0 [eV]"]
    assert frame["error"].astype(bool).tolist() == [False, True, True, False]
    sdf = to_sdf(rows)
    assert sdf.count("$$$$") == 2 and "homo [eV]" in sdf


def test_batched_equals_single(tiny_registry):
    pred = Predictor.from_name("tiny", "cpu")
    smiles = ["CCO", "CC(=O)O", "C1CC1", "N#N"]
    together = pred.predict(smiles, batch_size=4)
    alone = [pred.predict([s])[0] for s in smiles]
    for a, b in zip(together, alone):
        assert a.values == pytest.approx(b.values, abs=1e-5)


def test_conformers_built_in_worker_processes_give_the_same_rows(tiny_registry, monkeypatch):
    """Two torch threads: SMILES conformers are built ahead in two processes (at least
    MIN_PARALLEL SMILES). Same values, same conformer counts, the same failed rows."""
    from pamnet.io import smiles as smiles_io

    pred = Predictor.from_name("tiny", "cpu", conformers=3)
    items = ["C" * k for k in range(1, 9)] + ["CCO", "not a smiles((", "CCS"]
    items += ["CC(=O)O", "OCCO", "CCN", "C1CCCCC1", "CC(C)O", "NCC(=O)O", "c1ccccc1"]
    assert len(items) - 2 >= smiles_io.MIN_PARALLEL
    pools = []
    real = smiles_io._in_order

    def counted(fn, jobs, workers):
        pools.append(workers)
        return real(fn, jobs, workers)

    monkeypatch.setattr(smiles_io, "_in_order", counted)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = pred.predict(items)
        torch.set_num_threads(2)
        two = pred.predict(items)
    finally:
        torch.set_num_threads(before)
    assert pools == [1, 2]
    assert [r.ok for r in two] == [r.ok for r in one] == [i not in (9, 10) for i in range(len(items))]
    assert [r.error for r in two] == [r.error for r in one]
    for a, b in zip(one, two):
        assert a.conformers == b.conformers and a.values == pytest.approx(b.values, abs=1e-6)


def test_cli_predict_json_csv_sdf(tiny_registry, tmp_path, capsys):
    xyz = tmp_path / "w.xyz"
    xyz.write_text("3\nwater\nO 0 0 0.1173\nH 0 0.7572 -0.4692\nH 0 -0.7572 -0.4692\n")
    assert (
        main(
            [
                "predict",
                str(xyz),
                "--smiles",
                "CCO",
                "--checkpoint",
                "tiny",
                "--attention",
                "--format",
                "json",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert [o["name"] for o in out][1] == "CCO" and len(out) == 2
    first = out[0]
    assert set(first) >= {
        "name",
        "n_atoms",
        "predictions",
        "units",
        "warnings",
        "attention",
        "contributions",
    }
    assert np.array(first["attention"]).shape == (2, 3, 2)
    assert sum(first["contributions"]["u0"]) == pytest.approx(first["predictions"]["u0"], rel=1e-6)
    csv = tmp_path / "out.csv"
    assert main(["predict", "--smiles", "CCO", "C", "--checkpoint", "tiny", "-o", str(csv)]) == 0
    assert csv.read_text().splitlines()[0].startswith("name,n_atoms,homo [eV],u0 [eV]")
    sdf = tmp_path / "out.sdf"
    assert main(["predict", "--smiles", "CCO", "--checkpoint", "tiny", "-o", str(sdf)]) == 0
    assert "<u0 [eV]>" in sdf.read_text()


def test_cli_errors_are_messages(tiny_registry, tmp_path, capsys):
    assert main(["predict", "--smiles", "CCO", "--checkpoint", "nope"]) == 1
    assert "no checkpoint named" in capsys.readouterr().err
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"\x00garbage")
    assert main(["predict", "--smiles", "CCO", "--checkpoint", str(bad)]) == 1
    assert "corrupt" in capsys.readouterr().err
    empty = tmp_path / "empty.xyz"
    empty.write_text("")
    assert main(["predict", str(empty), "--smiles", "C", "--checkpoint", "tiny"]) == 0
    assert "1 failed" in capsys.readouterr().err


def test_checkpoint_listing(tiny_registry, capsys):
    assert main(["checkpoints", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed[0]["name"] == "tiny" and listed[0]["targets"] == TARGETS
    from pamnet.registry import list_checkpoints

    assert list_checkpoints()[0].card.startswith("# tiny")


def test_device_resolution():
    from pamnet.device import resolve
    from pamnet.errors import ConfigError

    assert resolve("cpu").type == "cpu"
    assert resolve("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA"):
            resolve("cuda")


def test_top_level_api(tiny_registry):
    import pamnet
    import pamnet.predict  # noqa: F401  (binds the module to pamnet.predict)

    rows = pamnet.predict(["CCO"])
    assert rows[0].ok and "<table" in rows._repr_html_()
    assert list(rows.to_frame()["name"]) == ["CCO"]
    assert pamnet.from_smiles("C").n_atoms == 5


def test_predict_sharded_over_two_gloo_ranks(tiny_registry, tmp_path):
    """`torchrun --nproc_per_node 2 -m pamnet predict` writes the one-process output."""
    import os
    import subprocess
    import sys

    smiles = ["CCO", "c1ccccc1", "CCS", "CC(=O)O", "N#N", "C1CC1", "OCCO"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    single, double = tmp_path / "one.csv", tmp_path / "two.csv"
    base = ["-m", "pamnet", "predict", "--smiles", *smiles, "--checkpoint", "tiny"]
    subprocess.run([sys.executable, *base, "-o", str(single)], env=env, check=True, timeout=120)
    run = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    out = subprocess.run(
        [*run, *base, "-o", str(double)], env=env, capture_output=True, text=True, timeout=180
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    import pandas as pd

    a, b = pd.read_csv(single), pd.read_csv(double)
    assert list(b["name"]) == smiles
    pd.testing.assert_frame_equal(a, b, atol=1e-5)


def test_callable_submodules_stay_modules():
    from pamnet import explain, finetune, predict

    for module, attr in (
        (predict, "Predictor"),
        (explain, "Explanation"),
        (finetune, "load_dataset"),
    ):
        assert callable(module) and hasattr(module, attr)


def test_default_checkpoint_follows_the_input_geometry(tmp_path, monkeypatch):
    from pamnet import registry
    from pamnet.structure import Structure

    monkeypatch.delenv("PAMNET_DEFAULT_CHECKPOINT", raising=False)
    monkeypatch.setenv("PAMNET_CHECKPOINTS", str(tmp_path))
    (tmp_path / "qm9_pamnet.pt").write_bytes(b"")
    assert registry.default_name("mmff") == "qm9_pamnet"  # no MMFF-trained model shipped
    (tmp_path / "qm9_pamnet_mmff.pt").write_bytes(b"")
    assert registry.default_name("mmff") == registry.default_name("etkdg") == "qm9_pamnet_mmff"
    assert registry.default_name("file") == registry.default_name(None) == "qm9_pamnet"
    water = Structure(["O", "H", "H"], [[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]])
    assert registry.input_geometry(["CCO", "C"]) == "mmff"
    assert registry.input_geometry(["CCO", water]) is None
    monkeypatch.setenv("PAMNET_DEFAULT_CHECKPOINT", "mine")
    assert registry.default_name("mmff") == "mine"


def test_smiles_go_to_the_mmff_model_files_to_the_dft_one(tiny_registry, monkeypatch, capsys):
    from pamnet import registry
    from pamnet.checkpoint import load_checkpoint, save_checkpoint
    from pamnet.predict import predict

    tiny = load_checkpoint(tiny_registry / "tiny.pt")
    for name, geometry in ((registry.DEFAULT_MOLECULE, "dft"), (registry.DEFAULT_SMILES, "mmff")):
        meta = {**tiny.metadata, "geometry": geometry}
        save_checkpoint(
            tiny_registry / f"{name}.pt", tiny.model, tiny.targets, tiny.units,
            tiny.normalization, meta,
        )  # fmt: skip
    monkeypatch.delenv("PAMNET_DEFAULT_CHECKPOINT")

    def geometry_warned(rows) -> list[bool]:
        return [any("geometry" in w for w in r["domain"]["reasons"]) for r in rows]

    assert main(["predict", "--smiles", "CCO", "C", "--format", "json"]) == 0
    assert geometry_warned(json.loads(capsys.readouterr().out)) == [False, False]
    water = tiny_registry / "water.xyz"
    water.write_text("3\nwater\nO 0 0 0\nH 0.96 0 0\nH -0.24 0.93 0\n")
    assert main(["predict", str(water), "--smiles", "CCO", "--format", "json"]) == 0
    assert geometry_warned(json.loads(capsys.readouterr().out)) == [False, True]
    rows = predict(["CCO"])  # the Python API picks the same way
    assert not rows[0].domain.reasons


def test_fragments_fail_the_row_for_a_qm9_model_only(tiny_registry):
    from pamnet.checkpoint import load_checkpoint, save_checkpoint
    from pamnet.predict import Predictor

    tiny = load_checkpoint(tiny_registry / "tiny.pt")
    assert tiny.metadata["data"]["name"] == "qm9"
    mine = {**tiny.metadata, "data": {"name": "my-salts.csv"}}
    save_checkpoint(tiny_registry / "mine.pt", tiny.model, tiny.targets, tiny.units,
                    tiny.normalization, mine)  # fmt: skip
    assert Predictor.from_name("mine", "cpu").predict(["CCO.O"])[0].ok  # not a QM9 model
    salt, fine = Predictor.from_name("tiny", "cpu").predict(["CC(=O)O.O", "CCO"])
    assert not salt.ok and "2 disconnected fragments (C2H4O2, H2O)" in salt.error
    assert fine.ok


def test_too_many_atoms_for_the_mode_fails_that_row_only(tiny_registry):
    from pamnet.predict import MAX_ATOMS, Predictor
    from pamnet.structure import Structure

    assert MAX_ATOMS["molecule"] < MAX_ATOMS["complex"] < MAX_ATOMS["rna"]
    chain = Structure(["C"] * 30, [[1.5 * i, 0, 0] for i in range(30)], name="chain")
    loaded = Predictor.from_name("tiny", "cpu").loaded
    big, small = Predictor(loaded, "cpu", max_atoms=20).predict([chain, "CCO"])
    assert (
        not big.ok and "30 atoms for the model, over the molecule mode's limit of 20" in big.error
    )
    assert small.ok


def test_cli_predicts_a_csv_of_smiles_row_by_row(tiny_registry, tmp_path, capsys):
    table = tmp_path / "lib.csv"
    table.write_text("id,Canonical_SMILES,y\nA,CCO,1\nB,C1CC(,2\nC,,3\nD,c1ccccc1,4\n")
    assert main(["predict", str(table), "--name-col", "id", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == ["A", "B", "C", "D"]
    assert [bool(r.get("error")) for r in rows] == [False, True, True, False]
    assert "cannot parse the SMILES" in rows[1]["error"] and "empty" in rows[2]["error"]
    assert main(["predict", str(table), "--smiles-col", "y"]) == 1  # not SMILES: one error row
    assert "does not look like SMILES" in capsys.readouterr().err


def test_cli_inputs_accumulate_in_order_and_stdin_and_a_table_on_request(tiny_registry, tmp_path):
    import subprocess
    import sys

    import pandas as pd

    sdf = tmp_path / "two.sdf"
    write([from_smiles("CCO", name="ethanol"), from_smiles("CCN", name="ethylamine")], sdf)
    out = tmp_path / "out.csv"
    # repeated --smiles add up; a file after --smiles is still a file; a positional
    # SMILES is a SMILES
    args = ["predict", "CO", "--smiles", "C", "--smiles", "CC", str(sdf)]
    assert main([*args, "--checkpoint", "tiny", "-o", str(out)]) == 0
    assert list(pd.read_csv(out)["name"]) == ["CO", "C", "CC", "ethanol", "ethylamine"]
    # - reads standard input: a .smi list, or a table with a SMILES column
    for text, names in (
        ("CCO a\nC1CC( broken\n", ["a", "broken"]),
        ("smiles,id\nCCO,x\n", ["CCO"]),
    ):
        run = subprocess.run(
            [sys.executable, "-m", "pamnet", "predict", "-", "--checkpoint", "tiny"],
            input=text, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr
        assert list(pd.read_csv(io.StringIO(run.stdout))["name"]) == names  # piped: CSV
    table = subprocess.run(
        [sys.executable, "-m", "pamnet", "predict", "CCO", "C1CC(", "--checkpoint", "tiny",
         "--format", "table"], capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    lines = table.stdout.splitlines()
    assert "homo [eV]" in lines[0] and "status" in lines[0] and "," not in lines[0]
    assert any(line.startswith("#2 C1CC(: RDKit cannot parse") for line in lines)


def test_api_gives_one_row_per_record_of_a_file(tiny_registry, tmp_path):
    from pathlib import Path

    import pamnet

    good = write([from_smiles("CCO", name="a"), from_smiles("CCS", name="b")], fmt="sdf")
    bad = "broken\n\n\n  1  0  0  0  0  0  0  0  0  0999 V2000\n    0.0 0.0 0.0 Qq\nM  END\n$$$$\n"
    path = tmp_path / "mixed.sdf"
    path.write_text(good + bad)
    for items in (Path(path), pamnet.read_records(path)):
        rows = pamnet.predict(items, checkpoint="tiny")
        assert [r.name for r in rows] == ["a", "b", "broken"]
        assert rows[0].ok and "S at atom 3" in rows[1].error and "Qq" in rows[2].error


def test_impossible_values_are_left_out_with_a_note_unless_kept():
    from pamnet.checkpoint import LoadedModel, Normalization
    from pamnet.testing import tiny_model

    norm = Normalization([-50.0, 3.0], [0.01, 1.0], [False, False])  # mu far below zero
    lm = LoadedModel(tiny_model(num_targets=2), ["mu", "homo"], {"mu": "D", "homo": "eV"}, norm)
    (row,) = Predictor(lm, "cpu").predict(["CCO"])
    assert np.isnan(row.values["mu"]) and np.isfinite(row.values["homo"])
    assert any(w.startswith("impossible value left out: mu = -") for w in row.warnings)
    (kept,) = Predictor(lm, "cpu", keep_impossible=True).predict(["CCO"])
    assert kept.values["mu"] < 0 and any("impossible value kept" in w for w in kept.warnings)
