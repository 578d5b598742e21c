"""Fine-tuning: per-row data errors, new heads, freezing, a run that learns, exact resume,
and the same model from one process and from two Gloo processes under torchrun."""

import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch.testing import assert_close

from pamnet import finetune, registry
from pamnet.checkpoint import Normalization, load_checkpoint, save_checkpoint
from pamnet.config import ModelConfig
from pamnet.errors import DataError
from pamnet.finetune import FinetuneConfig
from pamnet.inference import predict_graphs
from pamnet.model import PAMNet
from pamnet.testing import random_molecule

ROOT = Path(__file__).resolve().parents[1]
SMILES = [
    "C",
    "CC",
    "CCC",
    "CCCC",
    "CCO",
    "CCN",
    "CC=O",
    "C=C",
    "C#C",
    "CO",
    "CN",
    "C=O",
    "OCCO",
    "NCCN",
    "CC(C)C",
    "CC(C)O",
    "CC(=O)O",
    "CC(=O)N",
    "c1ccccc1",
    "c1ccncc1",
    "C1CC1",
    "C1CCC1",
    "C1CCCC1",
    "CCCCC",
    "CCOC",
    "COC",
    "CC#N",
    "FC(F)F",
    "CF",
    "OC=O",
    "NC=O",
    "CCCO",
    "CCCN",
    "C1CCOC1",
    "C1COCCO1",
    "CC(C)(C)C",
]
FAST = dict(base="fast", batch_size=8, lr=1e-2, device="cpu", val_fraction=0.2)


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models gain nothing from intra-op threads; on a busy CI box they cost."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def mol_weight(smiles: str) -> float:
    from rdkit import Chem
    from rdkit.Chem import Descriptors

    return round(Descriptors.MolWt(Chem.MolFromSmiles(smiles)) / 10, 4)


@pytest.fixture(scope="module")
def mols_sdf(tmp_path_factory) -> Path:
    """36 small H/C/N/O/F molecules (MMFF geometry) with mw = molar mass / 10 as a field."""
    from pamnet.io import from_smiles, write_sdf

    path = tmp_path_factory.mktemp("data") / "mols.sdf"
    structures = [from_smiles(s) for s in SMILES]
    write_sdf(structures, path, predictions=[{"mw": mol_weight(s)} for s in SMILES])
    return path


@pytest.fixture()
def fast_base(tiny_registry) -> str:
    """A cheaper base than 'tiny' (1 block, small angle basis), saved beside it as 'fast'."""
    torch.manual_seed(0)
    cfg = ModelConfig(dim=16, n_layer=1, num_targets=2, num_rbf=6)  # 7x6 angle basis: precomputed
    norm = Normalization(
        [-6.5, -2.0],
        [0.6, 0.3],
        [False, True],
        [[0, -13.6], [0, -1030.0], [0, -1485.0], [0, -2042.0], [0, -2713.0]],
    )
    save_checkpoint(
        tiny_registry / "fast.pt",
        PAMNet(cfg),
        ["homo", "u0"],
        {"homo": "eV", "u0": "eV"},
        norm,
        {"dataset": "qm9", "geometry": "dft"},
    )
    return "fast"


def _csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# --- datasets -----------------------------------------------------------------------
def test_bad_csv_rows_are_reported_with_row_and_column(tmp_path):
    path = _csv(
        tmp_path / "d.csv",
        "smiles,mw,logp\nCCO,4.6,-0.3\nC1CC,3.0,1\nCC[Cu],5.0,1\nCC,abc,1\nCN,,\nCO,3.2,\n"
        "CCCl,5.0,1\n",
    )
    data = finetune.load_dataset(path, ["mw", "logp"])
    assert data.rows == [1, 6, 7] and data.task == "molecule" and data.geometry == "mmff"
    assert data.y.shape == (3, 2) and math.isnan(data.y[1, 1])  # empty cell = missing value
    got = [(e.row, e.column) for e in data.errors]
    assert got == [(2, "smiles"), (3, "smiles"), (4, "mw"), (5, "mw,logp")]
    messages = [e.message for e in data.errors]
    assert "RDKit cannot parse" in messages[0] and "Cu at atom 3" in messages[1]
    assert "'abc' is not a number" in messages[2] and "no target value" in messages[3]
    assert list(data.report().columns) == ["row", "column", "message"]


def test_smiles_embedded_in_worker_processes_give_the_same_dataset(tmp_path):
    """workers=2 forks a pool (20 SMILES >= MIN_PARALLEL): same geometries, same rows,
    the same errors in the same places, row order kept."""
    from pamnet.io.smiles import MIN_PARALLEL

    good = ["C" * k for k in range(1, 9)] + ["CO", "CN", "CCO", "CCN", "OCCO", "c1ccccc1"]
    good += ["CC(=O)O", "NCC(=O)O", "CC#N", "C=CC"]
    cells = good[:5] + ["C1CC", "CC[Cu]"] + good[5:]
    assert len(cells) - 2 >= MIN_PARALLEL
    path = _csv(
        tmp_path / "d.csv", "smiles,y\n" + "".join(f"{c},{i}\n" for i, c in enumerate(cells))
    )
    one = finetune.load_dataset(path, ["y"], workers=1)
    two = finetune.load_dataset(path, ["y"], workers=2)
    assert two.rows == one.rows == [r for r in range(1, len(cells) + 1) if r not in (6, 7)]
    assert [(e.row, e.column, e.message) for e in two.errors] == [
        (e.row, e.column, e.message) for e in one.errors
    ]
    assert [e.row for e in two.errors] == [6, 7]
    for a, b in zip(one.graphs, two.graphs):
        assert torch.equal(a.pos, b.pos) and torch.equal(a.atom_type, b.atom_type)
        assert torch.equal(a.bond_index, b.bond_index) and a.name == b.name
    assert torch.equal(one.y, two.y)


def test_wrong_columns_and_all_bad_rows_raise_data_errors_listing_columns(tmp_path):
    path = _csv(tmp_path / "d.csv", "SMILES,mw,note\nCCO,4.6,x\n")
    with pytest.raises(DataError, match="no target column 'nope'; available columns: SMILES, mw"):
        finetune.load_dataset(path, ["nope"])
    no_smiles = _csv(tmp_path / "n.csv", "mol,mw\nCCO,4.6\n")
    with pytest.raises(DataError, match="no SMILES column found; available columns: mol, mw"):
        finetune.load_dataset(no_smiles, ["mw"])
    all_bad = _csv(tmp_path / "b.csv", "smiles,mw\nC1CC,1\nCC,x\n")
    with pytest.raises(DataError, match=r"none of its 2 rows is usable.*Available columns"):
        finetune.load_dataset(all_bad, ["mw"])
    assert finetune.load_dataset(path, ["mw"], smiles_col="SMILES").rows == [1]


def test_sdf_property_fields_are_targets_and_broken_records_are_rows(tmp_path, mols_sdf):
    records = mols_sdf.read_text().split("$$$$\n")
    broken = "junk\n  x\n\n  2  1  0  0  0  0  0  0  0  0999 V2000\nnot an atom line\n"
    path = tmp_path / "mixed.sdf"
    path.write_text("$$$$\n".join([records[0], broken, records[4]]) + "$$$$\n")
    table = finetune.read_table(path)
    assert table.kind == "sdf" and "mw" in table.columns
    assert finetune.guess_columns(table).targets == ("mw",)
    data = finetune.load_dataset(path, ["mw"])
    assert data.rows == [1, 3] and data.geometry == "file"
    assert data.y[:, 0].tolist() == [mol_weight("C"), mol_weight("CCO")]
    assert [(e.row, e.column) for e in data.errors] == [(2, "structure")]


def _complex_files(folder: Path) -> tuple[Path, Path]:
    """A tripeptide (PDB) and ethanol (SDF) 4 Å from its centre: a toy complex."""
    from rdkit import Chem
    from rdkit.Chem import AllChem

    from pamnet.io import from_smiles, write_sdf

    pep = Chem.AddHs(Chem.MolFromSequence("GAG"))
    AllChem.EmbedMolecule(pep, randomSeed=1)
    protein = folder / "protein.pdb"
    protein.write_text(Chem.MolToPDBBlock(pep))
    lig = from_smiles("CCO")
    centre = pep.GetConformer().GetPositions().mean(0)
    lig.coords = lig.coords - lig.coords.mean(0) + centre + [4.0, 0.0, 0.0]
    ligand = folder / "ligand.sdf"
    write_sdf([lig], ligand)
    return protein, ligand


def test_complex_table_trains_a_new_complex_model(tmp_path, tiny_registry):
    (tmp_path / "files").mkdir()
    _complex_files(tmp_path / "files")
    table = _csv(
        tmp_path / "complexes.csv",
        "protein,ligand,pK\nfiles/protein.pdb,files/ligand.sdf,6.1\n"
        "files/protein.pdb,files/ligand.sdf,5.2\nfiles/missing.pdb,files/ligand.sdf,4.0\n"
        "files/protein.pdb,files/nothere.sdf,7.0\nfiles/protein.pdb,files/ligand.sdf,6.6\n",
    )
    data = finetune.load_dataset(table, ["pK"])
    assert data.task == "complex" and data.rows == [1, 2, 5]
    assert [(e.row, e.column) for e in data.errors] == [(3, "protein"), (4, "ligand")]
    assert "missing file files/missing.pdb" in data.errors[0].message
    assert str(tmp_path) not in data.errors[0].message  # no server path in messages
    cfg = FinetuneConfig(
        data=str(table),
        targets=["pK"],
        epochs=1,
        dim=8,
        n_layer=1,
        batch_size=2,
        val_fraction=0.34,
        device="cpu",
    )
    result = finetune.run(cfg, tmp_path / "run", log=lambda m: None)
    loaded = load_checkpoint(result.checkpoint)
    assert loaded.config.task == "complex" and loaded.targets == ["pK"]
    assert loaded.metadata["finetune"]["base"] is None
    assert "trained from scratch" in result.card.read_text()


# --- heads and freezing ----------------------------------------------------------------
def test_new_targets_extend_every_w_out_and_keep_the_old_predictions(fast_base):
    base = load_checkpoint(registry.resolve(fast_base))
    y = torch.tensor([[1.0, 2.0], [3.0, 5.0], [2.0, math.nan]], dtype=torch.float64)
    ad = finetune.adapt(base, ["u0", "mw"], y)
    assert ad.targets == ["homo", "u0", "mw"] and ad.new == ["mw"]
    old = dict(base.model.named_parameters())
    for name, p in ad.model.named_parameters():
        if ".W_out." in name:
            assert p.shape[0] == 3
            assert_close(p[:2], old[name], rtol=0, atol=0)
        else:
            assert_close(p, old[name], rtol=0, atol=0)
    graphs = [random_molecule(4 + i, seed=i) for i in range(4)]
    before = predict_graphs(base.model, graphs, base.normalization)
    after = predict_graphs(ad.model, graphs, ad.normalization)
    assert_close(after[:, :2], before, rtol=0, atol=1e-9)  # old heads: same predictions
    assert ad.normalization.mean[2] == pytest.approx(3.5)
    assert ad.normalization.std[2] == pytest.approx(math.sqrt(4.5))
    assert [r[2] for r in ad.normalization.atom_ref] == [0.0] * 5

    fresh_u0 = finetune.adapt(base, ["u0", "mw"], y, new_heads=True)
    assert fresh_u0.new == ["mw", "u0"] and fresh_u0.normalization.per_atom[1] is False
    assert fresh_u0.normalization.mean[1] == pytest.approx(2.0)
    assert fresh_u0.normalization.atom_ref[3][1] == 0.0


def test_freeze_groups_leave_only_the_new_head_rows_training(fast_base):
    group = finetune.param_group
    assert (
        group("embeddings") == group("rbf_g.freq") == group("mlp_sbf2.0.0.weight") == ("embeddings")
    )
    assert group("global_layer.0.mlp_m.0.0.weight") == "global"
    assert group("local_layer.1.lin_rbf.weight") == "local"
    assert group("local_layer.0.W_out.bias") == group("global_layer.0.W") == "heads"

    base = load_checkpoint(registry.resolve(fast_base))
    y = torch.tensor([[4.0], [6.0]], dtype=torch.float64)
    ad = finetune.adapt(base, ["mw"], y)
    counts = finetune.freeze(ad.model, finetune.FREEZE_GROUPS, trainable_outputs=[2])
    dim = base.config.dim
    assert counts["global"][0] == 0 and counts["heads"][0] == 2 * (dim + 1)  # new W_out rows
    start = {k: v.detach().clone() for k, v in ad.model.named_parameters()}
    opt = torch.optim.Adam(ad.model.parameters(), lr=1e-2)
    from pamnet.data import collate

    batch = collate([random_molecule(5, seed=1), random_molecule(6, seed=2)])
    for _ in range(3):
        opt.zero_grad()
        ad.model(batch).prediction.pow(2).sum().backward()
        opt.step()
    for name, p in ad.model.named_parameters():
        if ".W_out." in name:
            assert_close(p[:2], start[name][:2], rtol=0, atol=0)
            assert not torch.equal(p[2], start[name][2]), name
        else:
            assert_close(p, start[name], rtol=0, atol=0)


# --- runs -----------------------------------------------------------------------------------
def test_finetune_lowers_the_validation_error_and_registers_the_checkpoint(
    fast_base, mols_sdf, tmp_path
):
    cfg = FinetuneConfig(
        data=str(mols_sdf),
        targets=["mw"],
        epochs=20,
        units={"mw": "g/mol/10"},
        name="mols mw",
        **{**FAST, "batch_size": 4},
    )
    data = finetune.load_dataset(mols_sdf, ["mw"])
    train_idx, val_idx = finetune.split_indices(len(data.graphs), 0.2, 0)
    untrained = finetune.adapt(load_checkpoint(registry.resolve("fast")), ["mw"], data.y[train_idx])
    pred = predict_graphs(
        untrained.model, [data.graphs[i] for i in val_idx], untrained.normalization
    )
    mae_before = float((pred[:, 2] - data.y[val_idx, 0]).abs().mean())

    epochs = []
    result = finetune.run(cfg, tmp_path / "run", on_epoch=epochs.append, log=lambda m: None)
    assert result.status == "finished" and [m["epoch"] for m in epochs] == list(range(1, 21))
    assert result.val_mae["mw"] < 0.6 * mae_before, (result.val_mae, mae_before)
    assert result.checkpoint == registry.user_dir() / "mols-mw.pt"
    info = {i.name: i for i in registry.list_checkpoints()}["mols-mw"]
    # the whole model trained: the base's homo and u0 heads are stale, left out
    assert info.origin == "fine-tuned" and info.targets == ["mw"]
    assert r"| mw | g\/mol\/10 | new |" in info.card and "7 validation" in info.card
    assert "from base, not shown (layers retrained)" in info.card and "Not shown" in info.card
    val = finetune.val_predictions(tmp_path / "run")
    assert val["targets"] == ["mw"] and len(val["y_pred"]) == len(val_idx) == 7
    from pamnet.predict import Predictor

    (p,) = Predictor.from_name("mols-mw", "cpu").predict(["CCO"])
    assert math.isfinite(p.values["mw"]) and p.units["mw"] == "g/mol/10"
    assert p.targets == ["mw"] and list(p.values) == ["mw"]
    from pamnet.explain import attribute, explain

    ex = explain("CCO", checkpoint="mols-mw", device="cpu")  # the same targets as predict
    assert ex.targets == ["mw"] and ex.values["mw"] == pytest.approx(p.values["mw"], rel=1e-4)
    attribute(ex, target="mw", n_steps=8)  # the model's own output index of mw


def _weights(path: Path) -> dict:
    return load_checkpoint(path).model.state_dict()


def test_stop_saves_mid_epoch_and_resume_matches_an_uninterrupted_run(
    fast_base, mols_sdf, tmp_path
):
    def cfg(out):
        return FinetuneConfig(
            data=str(mols_sdf), targets=["mw"], epochs=2, output=str(tmp_path / out), **FAST
        )

    straight = finetune.run(cfg("straight.pt"), tmp_path / "a", log=lambda m: None)
    seen, reads = [], []

    def stop() -> bool:  # read after each epoch's callback and before every step
        if seen:
            reads.append(1)
        return len(reads) > 2  # after epoch 1's callback and batch 1 of epoch 2

    cut = finetune.run(
        cfg("cut.pt"), tmp_path / "b", on_epoch=seen.append, stop=stop, log=lambda m: None
    )
    assert cut.status == "cancelled" and cut.epochs_done == 1 and cut.checkpoint is None
    from pamnet.training import load_state

    state = load_state(tmp_path / "b" / "state.pt")
    assert (state["epoch"], state["batch_in_epoch"]) == (1, 1)
    lines = []
    resumed = finetune.run(cfg("cut.pt"), tmp_path / "b", log=lines.append)
    assert (
        "resuming from epoch 1 (step 5)" in lines and "data: 36 structures from the cache" in lines
    )
    assert resumed.status == "finished" and resumed.epochs_done == 2
    assert_close(_weights(resumed.checkpoint), _weights(straight.checkpoint), rtol=0, atol=1e-6)


def test_patience_stops_when_validation_stops_improving(fast_base, mols_sdf, tmp_path):
    cfg = FinetuneConfig(
        data=str(mols_sdf), targets=["mw"], epochs=20, patience=1, **{**FAST, "lr": 1e-12}
    )
    result = finetune.run(cfg, tmp_path / "run", log=lambda m: None)
    assert result.status == "early-stopped" and result.epochs_done == 2
    frame = result.to_frame()
    assert list(frame["epoch"]) == [1, 2] and "val_mae_mw" in frame.columns
    assert "fine-tune early-stopped" in result._repr_html_()


def test_shard_and_unshard_round_trip():
    items = list(range(11))
    parts = [finetune.shard(items, r, 3) for r in range(3)]
    assert parts[0] == [0, 3, 6, 9] and sum(map(len, parts)) == 11
    assert finetune.unshard(parts) == items
    assert finetune.shard(items) == items  # no torchrun: one rank holds everything
    assert finetune.gather(items) == items


def test_torchrun_two_gloo_processes_give_the_one_process_model(fast_base, mols_sdf, tmp_path):
    """Global batch 8: one process with batch 8 == two DDP ranks with batch 4 each."""
    common = dict(data=str(mols_sdf), targets=["mw"], epochs=2, val_fraction=12 / 36)
    cfg = FinetuneConfig(**{**FAST, **common}, output=str(tmp_path / "1.pt"))
    single = finetune.run(cfg, tmp_path / "one", log=lambda m: None)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "pamnet",
        "finetune",
        "--data",
        str(mols_sdf),
        "--target",
        "mw",
        "--base",
        "fast",
        "--epochs",
        "2",
        "--batch-size",
        "4",
        "--lr",
        "1e-2",
        "--val-fraction",
        str(12 / 36),
        "--device",
        "cpu",
        "-o",
        str(tmp_path / "2.pt"),
    ]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=150)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    assert "x 2 processes" in out.stdout
    two = load_checkpoint(tmp_path / "2.pt")
    assert two.metadata["training"]["world_size"] == 2
    assert_close(two.model.state_dict(), _weights(single.checkpoint), rtol=1e-4, atol=1e-5)


def test_model_card_keeps_user_text_inert():
    """Targets, units, names and paths come from the user's file: no link, image or HTML."""
    from types import SimpleNamespace

    from pamnet.config import ModelConfig
    from pamnet.finetune.export import model_card

    evil = "![x](http://evil.example/a.png)<img src=x>"
    loaded = SimpleNamespace(
        config=ModelConfig(),
        targets=[evil],
        units={evil: "[u](javascript:alert(1))"},
        metadata={
            "finetune": {"base": evil, "data": f"/tmp/{evil}.csv", "targets": []},
            "intervals": {"note": evil},
        },
    )
    result = SimpleNamespace(metrics=[], epochs_done=1)
    card = model_card(evil, loaded, result, {evil: 0.5}, "finished")
    for raw in (r"<", r"\]\(", r"!\["):  # HTML, a link's "](", an image's "!["
        assert not re.search(r"(?<!\\)" + raw, card), raw
    assert "\\!\\[x\\]\\(http\u2060\\:\\/\\/evil" in card  # escaped; no autolink


def test_files_named_in_a_table_resolve_only_inside_its_folder(tmp_path):
    secret = tmp_path / "secret.pdb"
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n")
    (tmp_path / "files").mkdir()
    _complex_files(tmp_path / "files")
    (tmp_path / "files" / "link.pdb").symlink_to(secret)
    (tmp_path / "files" / "garbled.pdb").write_text("ATOM  token-from-inside-the-file\n")
    rows = [
        f"{secret},ligand.sdf",  # absolute
        "../secret.pdb,ligand.sdf",  # escapes the table's folder
        "sub/../../secret.pdb,ligand.sdf",
        "~/secret.pdb,ligand.sdf",
        "link.pdb,ligand.sdf",  # a symlink that leads out
        "garbled.pdb,ligand.sdf",  # inside but unreadable: named, never quoted
        "protein.pdb,ligand.sdf",
        "protein.pdb,ligand.sdf",
    ]
    body = "".join(f"{r},{k}\n" for k, r in enumerate(rows))
    table = _csv(tmp_path / "files" / "t.csv", "protein,ligand,pK\n" + body)
    data = finetune.load_dataset(table, ["pK"])
    assert data.rows == [7, 8]
    messages = {e.row: e.message for e in data.errors}
    for row in (1, 2, 3, 4):
        assert "relative path" in messages[row] or "outside" in messages[row], messages[row]
    assert "outside" in messages[5]
    assert "not a readable structure file" in messages[6]
    for text in messages.values():
        assert "root:x" not in text and "token-from-inside" not in text
        assert str(tmp_path) not in text.replace(str(secret), "")  # the root is never shown
    with pytest.raises(DataError, match="without its folder"):
        finetune.load_dataset(Path(table).read_bytes(), ["pK"], name="t.csv")


# --- new elements -----------------------------------------------------------------------------
HALO = ["CCS", "CSC", "CCl", "ClCCl", "CBr", "CCBr", "CI", "OCCS", "c1ccsc1", "CC(Cl)C", "SCCS"]


def test_adding_elements_extends_the_embedding_and_keeps_the_base_rows(fast_base):
    from pamnet.finetune.elements import GROUP_DONOR, new_rows

    base = load_checkpoint(registry.resolve(fast_base))
    table = ("H", "C", "N", "O", "F", "S", "Cl")
    y = torch.tensor([[1.0], [2.0]], dtype=torch.float64)
    for how in ("group", "mean", "random"):
        ad = finetune.adapt(base, ["mw"], y, elements=table, element_init=how)
        emb, old = ad.model.embeddings.detach(), base.model.embeddings.detach()
        assert ad.model.config.elements == table and emb.shape[0] == 7
        assert_close(emb[:5], old, rtol=0, atol=0)
        if how == "group":  # S from O, Cl from F
            assert_close(emb[5], old[3]) and assert_close(emb[6], old[4])
            assert GROUP_DONOR["Br"] == "F"
        if how == "mean":
            assert_close(emb[5], old.mean(0))
        assert len(ad.normalization.atom_ref) == 7 and ad.normalization.atom_ref[6] == [0.0] * 3
    with pytest.raises(Exception, match="unknown element init"):
        new_rows(old, table[:5], ("S",), "nearest", emb[5:6])
    # a QM9-only molecule predicts exactly as before on the kept heads
    graphs = [random_molecule(4 + i, seed=i) for i in range(3)]
    before = predict_graphs(base.model, graphs, base.normalization)
    after = predict_graphs(ad.model, graphs, ad.normalization)
    assert_close(after[:, :2], before, rtol=0, atol=1e-9)


def test_finetune_on_new_elements_learns_them_and_keeps_the_base_for_its_own(fast_base, tmp_path):
    from rdkit import Chem
    from rdkit.Chem import Descriptors

    from pamnet.predict import Predictor

    rows = [f"{s},{Descriptors.MolWt(Chem.MolFromSmiles(s)) / 10:.4f}" for s in SMILES + HALO]
    data = _csv(tmp_path / "halo.csv", "smiles,mw\n" + "\n".join(rows) + "\n")
    assert finetune.load_dataset(data, ["mw"]).errors == []  # every row usable: S, Cl, Br, I too
    groups = ("embeddings", "global", "local", "heads")  # only new rows learn: base kept
    cfg = FinetuneConfig(
        data=str(data), targets=["mw"], epochs=6, name="halo", freeze=groups, **FAST
    )
    logs = []
    result = finetune.run(cfg, tmp_path / "run", log=logs.append)
    assert result.status == "finished"
    assert any("S, Cl, Br, I added (group init)" in m for m in logs), logs
    tuned = Predictor.from_name("halo", "cpu")
    assert tuned.model.config.elements == ("H", "C", "N", "O", "F", "S", "Cl", "Br", "I")
    base = Predictor.from_name("fast", "cpu")
    qm9_like = ["CCO", "c1ccncc1", "FC(F)F"]
    for b, t in zip(base.predict(qm9_like), tuned.predict(qm9_like)):
        for target in ("homo", "u0"):  # kept heads, H/C/N/O/F molecules: the base's values
            assert t.values[target] == pytest.approx(b.values[target], rel=1e-6, abs=1e-9)
        assert math.isfinite(t.values["mw"])
    (s,) = tuned.predict(["CCSCCl"])
    assert math.isfinite(s.values["mw"]) and s.ok
    assert math.isnan(s.values["homo"]) and math.isnan(s.values["u0"])
    assert any("not predicted: homo, u0" in w and "Cl, S" in w for w in s.warnings), s.warnings
    (se,) = tuned.predict(["C[Se]C"])  # an element the fine-tune did not add
    assert "knows H, C, N, O, F, S, Cl, Br, I" in se.error and "fine-tune" in se.error
    (q,) = base.predict(["CCS"])  # the base still refuses S, saying what to do
    assert "trained on QM9" in q.error and "pamnet finetune" in q.error


def test_a_new_model_takes_the_elements_its_data_have(tiny_registry, tmp_path):
    rows = [f"{s},{len(s)}" for s in SMILES[:12] + HALO]
    data = _csv(tmp_path / "new.csv", "smiles,n\n" + "\n".join(rows) + "\n")
    cfg = FinetuneConfig(
        data=str(data), targets=["n"], base="none", dim=8, n_layer=1, epochs=1, name="new",
        batch_size=8, device="cpu", val_fraction=0.2,
    )  # fmt: skip
    logs = []
    assert finetune.run(cfg, tmp_path / "run", log=logs.append).status == "finished"
    from pamnet.predict import Predictor

    model = Predictor.from_name("new", "cpu")
    # the data have no F: the model has no F row, and says so for a molecule with F
    assert model.model.config.elements == ("H", "C", "N", "O", "S", "Cl", "Br", "I")
    assert any("(a new model)" in m for m in logs)
    (row, f) = model.predict(["ClCCS", "CCF"])
    assert row.ok and math.isfinite(row.values["n"])
    assert "this model knows H, C, N, O, S, Cl, Br, I" in f.error


def test_a_split_column_keeps_test_rows_out_and_calibrates_on_val(fast_base, tmp_path):
    from pamnet.predict import Predictor

    smiles = (SMILES * 3)[:72]
    rows = [
        f"{s},{mol_weight(s)},{'train' if k < 40 else 'Validation'}" for k, s in enumerate(smiles)
    ]
    rows += ["not a smiles((,1.0,test", "CCO,,test"]  # never read: no row errors for them
    data = _csv(tmp_path / "split.csv", "smiles,mw,split\n" + "\n".join(rows) + "\n")
    cfg = FinetuneConfig(data=str(data), targets=["mw"], epochs=1, name="split", split_col="split",
                         **FAST)  # fmt: skip
    logs = []
    result = finetune.run(cfg, tmp_path / "run", log=logs.append)
    split = result.data["split"]
    assert (split["n_train"], split["n_val"], split["held_out_test_rows"]) == (40, 32, 2)
    assert any("2 test rows held out" in m and "0 errors" in m for m in logs), logs
    assert any("intervals: calibrated on 32 validation structures" in m for m in logs)
    (row,) = Predictor.from_name("split", "cpu", conformers=1).predict(["CCO"])
    low, high = row.intervals["mw"]
    assert low < row.values["mw"] < high and row.level == 0.9

    few = _csv(tmp_path / "few.csv", "smiles,mw,split\n" + "\n".join(rows[:45]) + "\n")
    cfg = FinetuneConfig(data=str(few), targets=["mw"], epochs=1, name="few", split_col="split",
                         **FAST)  # fmt: skip
    finetune.run(cfg, tmp_path / "few", log=logs.append)
    loaded = load_checkpoint(registry.resolve("few"))
    assert loaded.calibration is None
    assert "5 structures, under the 30 needed" in loaded.metadata["intervals"]["note"]
    assert Predictor(loaded, "cpu", conformers=1).predict(["CCO"])[0].intervals == {}

    bad = _csv(tmp_path / "bad.csv", "smiles,mw,split\nCCO,1,val\nCCC,2,holdout\n")
    (err,) = finetune.load_dataset(bad, ["mw"], split_col="split").errors  # a row's own error
    assert (err.row, err.column) == (
        2,
        "split",
    ) and "'holdout' is not train, val or test" in err.message
    cfg = FinetuneConfig(data=str(bad), targets=["mw"], epochs=1, name="bad", split_col="split",
                         **FAST)  # fmt: skip
    with pytest.raises(DataError, match="marks no usable row 'train'"):
        finetune.run(cfg, tmp_path / "bad", log=logs.append)
    with pytest.raises(DataError, match="no column 'fold' for the split"):
        finetune.load_dataset(bad, ["mw"], split_col="fold")
