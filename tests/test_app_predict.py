"""AppTest: the Predict page (current structure, one SMILES, CSV and SDF batches)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DRUGS = ROOT / "pamnet" / "examples" / "drugs.sdf"
CSV = b"name,smiles,mw\nethanol,CCO,46.07\nbroken,C1CC(,0\nmethylamine,CN,31.06\n"


@pytest.fixture()
def app(monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.syspath_prepend(str(ROOT))
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()


@pytest.fixture()
def at(app, tiny_registry):
    """The app on the Predict page, with the tiny checkpoint."""
    return app.switch_page("pages/2_Predict.py").run()


def click(at, label):
    return next(b for b in at.button if b.label == label).click().run()


def batch(at, mode, name, data):
    at.radio(key="predict.mode").set_value(mode).run()
    at.file_uploader[0].upload(name, data)
    return at.run()


def test_without_structure_offers_a_smiles(at):
    assert not at.exception
    assert at.radio(key="predict.mode").value == "One SMILES"
    assert "Type a SMILES" in at.info[0].value
    assert any("tiny" in c.value for c in at.sidebar.caption)


def test_one_smiles_gives_numbers_and_downloads(at):
    at.text_input(key="predict.smiles").input("CCO").run()
    at = click(at, "Predict")
    assert not at.exception and not at.error
    values = {m.label: float(m.value) for m in at.metric}
    assert set(values) == {"homo \\[eV\\]", "u0 \\[eV\\]"}
    assert all(math.isfinite(v) for v in values.values())
    homo = next(m for m in at.metric if m.label.startswith("homo"))
    assert "occupied orbital" in homo.proto.help  # each target says what it means
    assert "geometry" in at.warning[0].value  # MMFF geometry, model trained on DFT
    assert [d.label for d in at.get("download_button")] == ["Download CSV", "Download SDF"]
    assert "1 predicted, 0 failed" in " ".join(c.value for c in at.caption)
    at.run()  # results stay on a rerun (cached, not recomputed)
    assert {m.label for m in at.metric} == set(values)


def test_current_structure_from_the_structure_page(app, tiny_registry):
    at = app.switch_page("pages/1_Structure.py").run()
    at.text_input(key="structure.smiles").input("CC(=O)O")
    at = next(b for b in at.button if b.label == "Build 3D structure").click().run()
    at = at.switch_page("pages/2_Predict.py").run()
    assert at.radio(key="predict.mode").value == "Current structure"
    at = click(at, "Predict")
    assert not at.exception and not at.error
    assert len(at.metric) == 2


def test_csv_batch_with_a_bad_row(at):
    at = batch(at, "Batch: CSV of SMILES", "mols.csv", CSV)
    assert not at.exception and not at.error
    assert at.selectbox[1].value == "smiles"  # guessed; [0] is the checkpoint
    at.selectbox[2].set_value("name").run()
    at = click(at, "Predict")
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["name"]) == ["ethanol", "broken", "methylamine"]
    assert table["error"][1] and not table["error"][0] and not table["error"][2]
    assert math.isnan(table["u0 [eV]"][1]) and math.isfinite(table["u0 [eV]"][2])
    assert "2 predicted, 1 failed" in " ".join(c.value for c in at.caption)
    assert [d.label for d in at.get("download_button")] == ["Download CSV", "Download SDF"]


def test_csv_wrong_column_is_explained(at):
    at = batch(at, "Batch: CSV of SMILES", "mols.csv", CSV)
    at.selectbox[1].set_value("mw").run()
    assert not at.exception
    assert "does not look like SMILES" in at.error[0].value
    assert not [b for b in at.button if b.label == "Predict"]


def test_csv_too_many_rows_points_to_the_cli(at):
    rows = b"smiles\n" + b"C\n" * 5001
    at = batch(at, "Batch: CSV of SMILES", "big.csv", rows)
    assert "pamnet predict" in at.error[0].value


def test_sdf_batch(at):
    at = batch(at, "Batch: structure file", "drugs.sdf", DRUGS.read_bytes())
    at = click(at, "Predict")
    assert not at.exception and not at.error
    table = at.dataframe[0].value
    assert len(table) == 4 and (table["error"] == "").all()
    assert table["domain"].str.contains("heavy atoms; QM9 has at most 9").all()  # drugs: bigger


def test_no_checkpoint_keeps_the_page_usable(app, tmp_path, monkeypatch):
    monkeypatch.setenv("PAMNET_CHECKPOINTS", str(tmp_path / "none"))
    monkeypatch.setenv("PAMNET_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("PAMNET_DEFAULT_CHECKPOINT", raising=False)
    at = app.switch_page("pages/2_Predict.py").run()
    assert not at.exception
    assert "No checkpoint found" in at.warning[0].value


def test_smiles_input_defaults_to_the_mmff_model_until_the_user_picks(
    app, tiny_registry, monkeypatch
):
    import shutil

    from pamnet import registry

    for name in (registry.DEFAULT_MOLECULE, registry.DEFAULT_SMILES):
        shutil.copy(tiny_registry / "tiny.pt", tiny_registry / f"{name}.pt")
    monkeypatch.delenv("PAMNET_DEFAULT_CHECKPOINT")
    at = app.switch_page("pages/2_Predict.py").run()
    assert at.radio(key="predict.mode").value == "One SMILES"
    assert at.selectbox(key="predict.checkpoint").value == registry.DEFAULT_SMILES
    at.radio(key="predict.mode").set_value("Batch: structure file").run()  # files: the DFT model
    assert at.selectbox(key="predict.checkpoint").value == registry.DEFAULT_MOLECULE
    at.selectbox(key="predict.checkpoint").set_value("tiny").run()
    at.radio(key="predict.mode").set_value("One SMILES").run()  # a pick sticks
    assert at.selectbox(key="predict.checkpoint").value == "tiny"


def _drawn_sdf(smiles: list[str]) -> bytes:
    """A 2D SDF as drawing tools write it (marked 2D, implicit hydrogens)."""
    from rdkit import Chem
    from rdkit.Chem import AllChem

    blocks = []
    for k, smi in enumerate(smiles):
        mol = Chem.MolFromSmiles(smi)
        AllChem.Compute2DCoords(mol)
        mol.SetProp("_Name", f"drawn{k + 1}")
        blocks.append(Chem.MolToMolBlock(mol) + "$$$$\n")
    return "".join(blocks).encode()


def test_a_2d_sdf_is_predicted_record_by_record_with_the_reason_beside_each_failure(at):
    data = _drawn_sdf(["CCO", "CCS", "c1ccncc1"])
    broken = data.split(b"$$$$\n")
    broken.insert(
        2, b"bad\n\n\n  1  0  0  0  0  0  0  0  0  0999 V2000\n    0.0 0.0 0.0 Qq\nM  END\n"
    )
    at = batch(at, "Batch: structure file", "drawn.sdf", b"$$$$\n".join(broken))
    assert "4 records" in " ".join(c.value for c in at.caption)
    at = click(at, "Predict")
    assert not at.exception and not at.error
    table = at.dataframe[0].value
    assert table["name"].tolist() == ["drawn1", "drawn2", "bad", "drawn3"]
    assert list(table.columns[:2]) == ["name", "error"]  # the reason beside each row
    assert table["error"][0] == "" and table["error"][3] == ""
    assert "S at atom 3" in table["error"][1] and "fine-tune" in table["error"][1]
    assert "unknown element" in table["error"][2].lower()
    assert "3D built from the connection table" in table["warnings"][0]


def test_a_2d_file_selects_the_mmff_model_until_the_user_picks(app, tiny_registry, monkeypatch):
    import shutil

    from pamnet import registry

    for name in (registry.DEFAULT_MOLECULE, registry.DEFAULT_SMILES):
        shutil.copy(tiny_registry / "tiny.pt", tiny_registry / f"{name}.pt")
    monkeypatch.delenv("PAMNET_DEFAULT_CHECKPOINT")
    at = app.switch_page("pages/2_Predict.py").run()
    from rdkit import Chem
    from rdkit.Chem import AllChem

    mol = Chem.AddHs(Chem.MolFromSmiles("CCO"))
    AllChem.EmbedMolecule(mol, randomSeed=1)
    measured = (Chem.MolToMolBlock(mol) + "$$$$\n").encode()  # 3D of unknown origin
    at = batch(at, "Batch: structure file", "measured.sdf", measured)
    assert at.selectbox(key="predict.checkpoint").value == registry.DEFAULT_MOLECULE
    at = batch(at, "Batch: structure file", "drawn.sdf", _drawn_sdf(["CCO", "CCN"]))
    assert at.selectbox(key="predict.checkpoint").value == registry.DEFAULT_SMILES


def test_a_calibrated_checkpoint_shows_each_value_with_its_interval_and_the_domain(
    app, tiny_registry
):
    from pamnet.testing import calibrate_tiny

    calibrate_tiny(tiny_registry)
    at = app.switch_page("pages/2_Predict.py").run()
    at.radio(key="predict.mode").set_value("One SMILES").run()
    at.number_input(key="predict.conformers").set_value(1).run()
    at.text_input(key="predict.smiles").input("CCCCCCCCCCO").run()
    at = click(at, "Predict")
    assert not at.exception and not at.error[1:]
    assert all(m.delta.startswith("± ") for m in at.metric) and len(at.metric) == 2
    assert "90% interval" in " ".join(c.value for c in at.caption)
    # 11 heavy atoms: outside QM9, said with the reason (Markdown-escaped on screen)
    assert at.error[0].value.startswith("Outside the training domain: 11 heavy atoms")
    assert (
        "QM9 has at most 9" in at.error[0].value
        and "treat these numbers as rough" in at.error[0].value
    )
    at.slider(key="predict.level").set_value(0.99).run()
    at = click(at, "Predict")
    assert "99% interval" in " ".join(c.value for c in at.caption)


def test_an_uncalibrated_checkpoint_says_it_has_no_intervals(at):
    assert "no calibrated intervals" in " ".join(c.value for c in at.caption)
