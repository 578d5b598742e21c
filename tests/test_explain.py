"""pamnet.explain: exact contributions, attention, Integrated Gradients, summaries, CLI."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from pamnet.checkpoint import LoadedModel, Normalization
from pamnet.errors import ConfigError
from pamnet.explain import FUNCTIONAL_GROUPS, attribute, explain, match_groups
from pamnet.explain.groups import NO_GROUP
from pamnet.structure import Structure
from pamnet.testing import random_rotation, tiny_model

PARACETAMOL = "CC(=O)Nc1ccc(O)cc1"
ROOT = Path(__file__).resolve().parents[1]
NORM = Normalization(
    mean=[-6.5, -2.0],
    std=[0.6, 0.3],
    per_atom=[False, True],
    atom_ref=[[0, -13.6], [0, -1030.0], [0, -1485.0], [0, -2042.0], [0, -2713.0]],
)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Small graphs: intra-op threads only add overhead (and stall on a busy CPU)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def loaded():
    """Tiny two-target molecule model in float64 with QM9-style normalization."""
    model = tiny_model(num_targets=2).double()
    return LoadedModel(model, ["homo", "u0"], {"homo": "eV", "u0": "eV"}, NORM, path="tiny64")


@pytest.fixture(scope="module")
def molecule():
    from pamnet.io import from_smiles

    return from_smiles(PARACETAMOL)


@pytest.fixture(scope="module")
def exp(loaded, molecule):
    return explain(molecule, loaded, ig_steps=50, ig_target="u0", ig_on=("atoms",))


@pytest.fixture(scope="module")
def complex_exp():
    from pamnet.examples import load_example

    torch.manual_seed(0)
    model = tiny_model("complex", num_targets=1).double()
    return explain(load_example("complex")[0], LoadedModel(model, ["pK"], {"pK": ""}))


# --- exactness ------------------------------------------------------------------------
def test_contributions_sum_to_the_prediction(exp, loaded, molecule):
    total = exp.contributions.sum((0, 1))
    np.testing.assert_allclose(total, [exp.values["homo"], exp.values["u0"]], rtol=0, atol=1e-5)
    assert exp.contributions.dtype == np.float64 and exp.contributions.shape == (2, 20, 2)
    # the same numbers as the prediction service (float32 there)
    from pamnet.predict import Predictor

    f32 = LoadedModel(tiny_model(num_targets=2), loaded.targets, loaded.units, NORM)
    (pred,) = Predictor(f32, "cpu").predict([molecule])
    for t in loaded.targets:
        assert exp.values[t] == pytest.approx(pred.values[t], rel=1e-5, abs=1e-5)


def test_global_and_local_parts_add_up_per_atom_per_group_and_to_the_value(exp, complex_exp):
    for e in (exp, complex_exp):
        atoms = e.to_frame()
        for t in e.targets:
            col = e.column(t)
            offset = atoms[f"{col} offset"] if f"{col} offset" in atoms else 0.0
            parts = atoms[f"{col} via global"] + atoms[f"{col} via local"] + offset
            np.testing.assert_allclose(parts, atoms[col], rtol=0, atol=1e-6)
        lines = e.channel_frame().set_index("target")
        total = lines["via global"] + lines["via local"] + lines["offset"]
        np.testing.assert_allclose(total, [e.values[t] for t in e.targets], rtol=0, atol=1e-6)
        by = e.by_element()
        col = e.column(0)
        assert by[f"{col} via local"].sum() == pytest.approx(lines["via local"].iloc[0], abs=1e-9)
        assert ((lines["local fraction"] >= 0) & (lines["local fraction"] <= 1)).all()
    assert exp.to_dict()["channels"][0]["target"] == exp.targets[0]


def test_attention_rows_sum_to_one(exp):
    assert exp.attention.shape == (2, 20, 2)
    np.testing.assert_allclose(exp.attention.sum(-1), 1.0, atol=1e-12)
    assert (exp.attention >= 0).all()


def test_top_level_name_works_after_the_subpackage_is_imported():
    import pamnet
    import pamnet.explain  # binds the module to pamnet.explain

    assert pamnet.explain("CCO", tiny_model()).values


def test_private_copy_leaves_the_shared_model_alone():
    model = tiny_model()
    explain("CCO", model)
    assert all(p.dtype == torch.float32 and p.requires_grad for p in model.parameters())
    assert not model.global_layer[0]._forward_pre_hooks


# --- Integrated Gradients ---------------------------------------------------------------
def test_ig_on_atom_inputs_is_complete(exp):
    a = exp.attributions["atoms:u0"]
    assert a.values.shape == (20, 8)  # [rows, dim]
    assert a.f_input == pytest.approx(exp.values["u0"], abs=1e-8)
    assert abs(a.per_row.sum() - (a.f_input - a.f_baseline)) <= 0.01 * abs(a.f_input - a.f_baseline)


def test_ig_on_coordinates_is_complete(exp, loaded):
    a = attribute(exp, loaded, target="homo", on="coords", n_steps=25, tolerance=0.01)
    assert a.values.shape == (20, 3) and a.n_steps > 25  # 25 steps do not add up: doubled
    assert a.relative_error < 0.01, a.relative_error
    assert exp.attributions["coords:homo"] is a


@pytest.mark.parametrize("on", ["atoms", "coords"])
def test_ig_is_captums_arithmetic(exp, loaded, monkeypatch, on):
    """Our path integral against Captum's IntegratedGradients on the same function,
    path and rule (float64); ours in several passes along the path (chunked)."""
    import pamnet.explain.attribution as attribution

    inp = exp.input
    monkeypatch.setattr(attribution, "MAX_ROWS_PER_PASS", 7 * inp.num_atoms)  # 7 points a pass
    ours, f_in, f_base = attribution.integrated_gradients(
        loaded.model, inp, 1, on, n_steps=20, scale=0.6
    )
    reference = _captum_ig(attribution, loaded.model, inp, on)
    assert ours.shape == reference.shape
    # Captum rounds the rule's weights to float32 (`torch.tensor(step_sizes).float()`), a
    # relative 6e-8 each: we keep them in float64, so agreement is to ~1e-8, not 1e-15.
    np.testing.assert_allclose(ours, reference, rtol=1e-6, atol=1e-12)
    assert abs(ours.sum() - (f_in - f_base)) < abs(f_in - f_base)  # a sane path, not zeros


def _captum_ig(attribution, model, inp, on):
    """Captum's IntegratedGradients on the forward and baseline `integrated_gradients`
    builds (same model copy, graph kept, scale 0.6, target 1)."""
    from captum.attr import IntegratedGradients

    from pamnet.data import GraphInput, collate

    work = attribution.private_copy(model, None)
    one = collate([inp]).to("cpu", torch.float64)
    n, c = one.num_atoms, work.config
    with torch.no_grad():
        graphs = work.task.build_graphs(one, c.cutoff_l, c.cutoff_g)
        if on == "atoms":
            x = work.atom_input(one)
            base = torch.zeros_like(x)
        else:
            x = one.pos
            base = attribution.dissociated(
                GraphInput(x, part=one.part), max(c.cutoff_l, c.cutoff_g)
            )

    def forward(xs):
        s = xs.shape[0]
        batch = attribution._repeat(one, s)
        g = attribution._repeat_graphs(graphs, s, n)
        if on == "atoms":
            attribution._override.atom_input = xs.reshape(-1, xs.shape[-1])
            try:
                return work(batch, graphs=g).prediction[:, 1] * 0.6
            finally:
                attribution._override.atom_input = None
        batch.pos = xs.reshape(-1, 3)
        return work(batch, graphs=g).prediction[:, 1] * 0.6

    attr = IntegratedGradients(forward).attribute(
        x[None], baselines=base[None], n_steps=20, method="gausslegendre"
    )
    return attr[0].detach().numpy()


def test_attribute_defaults_to_the_explanations_model_which_copies_do_not_carry(exp, loaded):
    import copy
    import pickle

    a = attribute(exp, target="u0", on="atoms", n_steps=50)
    np.testing.assert_allclose(a.values, exp.attributions["atoms:u0"].values, atol=1e-12)
    for clone in (pickle.loads(pickle.dumps(exp)), copy.deepcopy(exp)):
        assert clone.model is None and clone.values == exp.values
        with pytest.raises(ConfigError, match="pass the checkpoint"):
            attribute(clone, on="atoms")
    assert exp.model is loaded


def test_default_checkpoint_follows_the_input_like_predict(tiny_registry, monkeypatch):
    from pamnet import registry
    from pamnet.checkpoint import load_checkpoint, save_checkpoint

    monkeypatch.delenv("PAMNET_DEFAULT_CHECKPOINT")
    tiny = load_checkpoint(tiny_registry / "tiny.pt")
    for name in (registry.DEFAULT_MOLECULE, registry.DEFAULT_SMILES):
        save_checkpoint(tiny_registry / f"{name}.pt", tiny.model, tiny.targets, tiny.units,
                        tiny.normalization, tiny.metadata)  # fmt: skip
    water = Structure(["O", "H", "H"], [[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]])
    assert Path(explain("CCO").checkpoint).stem == registry.DEFAULT_SMILES
    assert Path(explain(water).checkpoint).stem == registry.DEFAULT_MOLECULE


def test_per_atom_ig_is_rotation_and_translation_invariant(loaded, molecule):
    """Per-atom IG (atoms: sum over features; coords: (x - x') . mean gradient) does not
    depend on the frame. The x/y/z split of coordinate IG does: it is an elementwise
    product of two vectors that both rotate, so it is not itself a rotated vector."""
    rot = random_rotation(torch.Generator().manual_seed(3))
    moved = replace(molecule, coords=molecule.coords @ rot.numpy().T + [3.0, -1.0, 2.0])
    base = explain(molecule, loaded, ig_steps=20, ig_target=1, ig_tolerance=None)
    turned = explain(moved, loaded, ig_steps=20, ig_target=1, ig_tolerance=None)
    for on in ("atoms", "coords"):
        a0, a1 = base.attributions[f"{on}:u0"], turned.attributions[f"{on}:u0"]
        np.testing.assert_allclose(a1.per_row, a0.per_row, atol=1e-5, err_msg=on)
        assert a1.f_baseline == pytest.approx(a0.f_baseline, abs=1e-5)
    c0, c1 = base.attributions["coords:u0"], turned.attributions["coords:u0"]
    assert not np.allclose(c1.values, c0.values, atol=1e-5)  # components follow the axes


# --- summaries ----------------------------------------------------------------------------
def test_tables_add_up_to_the_per_atom_numbers(exp):
    atoms = exp.to_frame()
    assert len(atoms) == 20
    for k, t in enumerate(exp.targets):
        col = exp.column(k)
        np.testing.assert_allclose(atoms[col].sum(), exp.values[t], atol=1e-8)
        for table in (exp.by_element(), exp.by_side(), exp.layer_frame()):
            np.testing.assert_allclose(table[col].sum(), exp.values[t], atol=1e-8)
    by_el = exp.by_element().set_index("element")
    for el, rows in atoms.groupby("element"):
        np.testing.assert_allclose(by_el.loc[el, "u0 [eV]"], rows["u0 [eV]"].sum(), atol=1e-10)
        np.testing.assert_allclose(
            by_el.loc[el, "IG atoms u0 [eV]"], rows["IG atoms u0 [eV]"].sum(), atol=1e-10
        )
    np.testing.assert_allclose(exp.per_atom("u0"), atoms["u0 [eV]"])
    learned = exp.per_atom("u0", learned=True)
    np.testing.assert_allclose(learned + atoms["u0 [eV] offset"], atoms["u0 [eV]"])


def test_group_sums_are_sums_over_their_atoms(exp):
    atoms = exp.to_frame().set_index("atom")
    groups = exp.by_group().set_index("group")
    assert {"hydroxyl", "carbonyl", "amide", "aromatic ring", NO_GROUP} == set(groups.index)
    members = dict(exp.groups.atoms, **{NO_GROUP: exp.groups.ungrouped()})
    for name, idx in members.items():
        assert groups.loc[name, "n_atoms"] == len(idx)
        np.testing.assert_allclose(
            groups.loc[name, "homo [eV]"], atoms.loc[idx, "homo [eV]"].sum(), atol=1e-10
        )
    assert groups.loc["hydroxyl", "n_atoms"] == 2  # O and its H


def test_atom_layers_match_the_contributions(exp):
    per_layer = exp.atom_layers(2)  # the carbonyl O
    np.testing.assert_allclose(per_layer["u0 [eV]"], exp.contributions[:, 2, 1])
    np.testing.assert_allclose(per_layer["global share"], exp.attention[:, 2, 0])
    learned = exp.atom_layers(2, learned=True)["u0 [eV]"]
    np.testing.assert_allclose(learned.sum(), exp.per_atom("u0", learned=True)[2])


def test_functional_groups_dictionary():
    from pamnet.io import from_smiles

    aspirin = match_groups(from_smiles("CC(=O)Oc1ccccc1C(=O)O"))
    assert aspirin.n_matches["carbonyl"] == 2
    assert aspirin.n_matches["ester"] == 1 and aspirin.n_matches["carboxylic acid"] == 1
    assert "hydroxyl" not in aspirin.atoms  # the acid's OH is not an alcohol
    naphthalene = match_groups(from_smiles("c1ccc2ccccc2c1"))
    assert naphthalene.n_matches["aromatic ring"] == 2
    assert len(naphthalene.atoms["aromatic ring"]) == 18  # fused C once, plus 8 H
    others = match_groups(from_smiles("N#CCC(F)(Cl)COCCN"))
    assert {"nitrile", "halogen", "ether", "amine"} <= set(others.atoms)
    assert len(FUNCTIONAL_GROUPS) >= 10


def test_complex_ligand_and_pocket_add_up(complex_exp):
    e = complex_exp
    meta = e.input.meta
    value = e.values["pK"]
    np.testing.assert_allclose(e.contributions.sum(), value, atol=1e-10)
    atoms = e.to_frame()
    assert len(atoms) == meta["n_pocket"] + meta["n_ligand"]
    np.testing.assert_allclose(atoms["pK"], atoms["pK complex term"] + atoms["pK own term"])
    sides = e.by_side().set_index("side")
    assert set(sides.index) == {"ligand", "pocket"}
    assert sides.loc["ligand", "n_atoms"] == meta["n_ligand"]
    np.testing.assert_allclose(sides["pK"].sum(), value, atol=1e-10)
    # the atom's two copies, found through meta['rows']
    rows = np.array([f"{role}:{i}" for role, i in meta["rows"]])
    per_row = e.contributions.sum(0)[:, 0]
    lig0 = f"ligand:{meta['ligand_atoms'][0]}"
    got = atoms.set_index(atoms["side"] + ":" + atoms["atom"].astype(str)).loc[lig0, "pK"]
    np.testing.assert_allclose(got, per_row[rows == lig0].sum())
    assert (rows == lig0).sum() == 2
    np.testing.assert_allclose(e.by_part()["pK"].sum(), value, atol=1e-10)
    residues = e.by_residue()
    assert "BEN A101 (ligand)" in set(residues["residue"]) or (residues["side"] == "ligand").any()
    np.testing.assert_allclose(residues["pK"].sum(), value, atol=1e-10)
    assert set(e.by_group()["group"]) >= {"aromatic ring"}  # groups of the ligand


def test_rna_per_nucleotide():
    from pamnet.examples import load_example

    e = explain(load_example("rna")[0], tiny_model("rna").double())
    res = e.by_residue()
    assert len(res) == 8 and res["n_atoms"].sum() == e.rows.shape[0]
    np.testing.assert_allclose(res["target_0"].sum(), e.values["target_0"], atol=1e-10)


# --- display -------------------------------------------------------------------------------
def test_display_and_json(exp):
    html = exp._repr_html_()
    assert "<table" in html and "u0 [eV]" in html and "CC(=O)Nc1ccc(O)cc1" in html
    assert "<b>&lt;img" in replace(exp, name="<img src=x>")._repr_html_()
    d = exp.to_dict()
    text = json.dumps(d)
    assert d["predictions"] == exp.values and len(d["atoms"]) == 20
    assert d["attributions"][0]["on"] == "atoms" and "NaN" not in text
    assert "Explanation(" in repr(exp)


def test_cli_explain(tiny_registry, tmp_path, capsys):
    from pamnet.cli import main

    out = tmp_path / "e.json"
    assert main(["explain", "CCO", "--json", "-o", str(out)]) == 0
    (d,) = json.loads(out.read_text())
    assert set(d["predictions"]) == {"homo", "u0"} and len(d["atoms"]) == 9
    assert main(["explain", "CCO", "--ig-steps", "8", "--ig-on", "atoms", "--target", "u0"]) == 0
    text = capsys.readouterr().out
    assert "by element" in text and "IG atoms" in text and "completeness error" in text
    assert main(["explain", "missing.sdf"]) == 1


# --- Learn page numbers ------------------------------------------------------------------------
def test_force_field_terms_and_angle_cost():
    from pamnet import geometry
    from pamnet.explain.cost import angle_cost, angle_term_counts, mm_terms
    from pamnet.io import read_one
    from pamnet.tasks import get_task

    ethanol = get_task("molecule").featurize(
        read_one(ROOT / "pamnet" / "examples" / "qm9_ethanol.xyz")
    )
    terms = mm_terms(ethanol, "molecule", 5.0, 5.0).set_index("term")["count"]
    assert terms["bond stretching"] == 8 and terms["angle bending"] == 13
    assert terms["torsions"] == 12  # H-C-C-H 9, H-C-O-H 3
    edge = geometry.radius_graph(ethanol.pos, 4.0)
    one, two = angle_term_counts(edge, ethanol.num_atoms)
    assert one == geometry.one_hop(edge, ethanol.num_atoms).idx_i.numel()
    assert two == geometry.two_hop(edge, ethanol.num_atoms).idx_i.numel()
    cost = angle_cost(ethanol, "molecule", 5.0, 5.0, repeats=6).set_index("model")
    assert cost.loc["DimeNet-style", "angle_terms"] > cost.loc["PAMNet", "angle_terms"]
    assert (cost["forward_ms"] > 0).all() and cost["timed"].all()
    dime = cost.loc["DimeNet-style"]  # back-to-back rounds: a ratio with its spread
    assert 5 <= dime["rounds"] <= 6 and dime["ratio_low"] <= dime["ratio"] <= dime["ratio_high"]
    assert torch.get_num_threads() == 1  # restored (the module runs single-threaded)
    capped = angle_cost(ethanol, "complex", 2.0, 5.0, max_terms=10)
    assert not capped["timed"].any() and capped["forward_ms"].isna().all()


def test_ig_reports_progress_per_pass_and_stops_when_told(exp, monkeypatch):
    import pamnet.explain.attribution as attribution

    monkeypatch.setattr(attribution, "MAX_ROWS_PER_PASS", 4 * exp.input.num_atoms)  # 4 points
    seen = []
    attribute(
        exp, target=0, on="atoms", n_steps=10, progress=lambda f, text: seen.append((f, text))
    )
    assert [round(f, 2) for f, _ in seen] == [0.33, 0.67, 1.0]  # ceil(10 / 4) passes
    assert all(text == "Integrated Gradients on atoms, 10 steps" for _, text in seen)

    class Stop(Exception):
        pass

    def stop(fraction, text):
        raise Stop

    with pytest.raises(Stop):  # what the app's Stop button does: the next update raises
        attribute(exp, target=0, on="coords", n_steps=10, progress=stop)


def test_explain_reports_progress_per_layer_and_stops_when_told(loaded, molecule):
    """Large structures take seconds: progress before the forward pass, after each of
    its 2L layers and before the tables; a raise from the callback ends the work."""
    seen = []

    def note(fraction, what):
        seen.append((fraction, what))
        return "a Streamlit progress bar returns itself"  # must not replace a layer's output

    exp = explain(molecule, loaded, progress=note)
    n_layer = loaded.config.n_layer
    assert [f for f, _ in seen] == [k / (2 * n_layer + 1) for k in range(2 * n_layer + 1)] + [1]
    assert "block 1 of 2, global layer" in seen[1][1] and "local layer" in seen[2][1]
    assert exp.values == explain(molecule, loaded).values  # the hooks change nothing

    class Stop(Exception):
        pass

    def stop(fraction, what):
        if fraction > 0.3:
            raise Stop

    with pytest.raises(Stop):
        explain(molecule, loaded, progress=stop)
    shared = explain(molecule, loaded)  # the shared model carries no hook afterwards
    assert shared.values == exp.values
