"""pamnet.viz: edge views draw exactly the model's graphs, figures have the right
shapes, and nothing read from a file can reach a page unescaped."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch

from pamnet import geometry
from pamnet.data import GraphInput
from pamnet.io import from_smiles
from pamnet.structure import Structure
from pamnet.viz import (
    attention_heatmap,
    attention_view,
    channel_view,
    contribution_bars,
    contribution_view,
    cost_table,
    cost_vs_cutoff,
    edge_view,
    loss_curves,
    parity_plot,
    row_index,
)
from pamnet.viz import html as H
from pamnet.viz.colors import BLUE, ORANGE, PURPLE, RED
from pamnet.viz.edges import cap_pairs
from pamnet.viz.molblock import pdb_block, sdf_block
from pamnet.viz.plots import _two_hop_count
from pamnet.viz.view import LARGE_STRUCTURE

PAYLOAD = "</script><script>alert(1)</script>"
QUOTES = "\"');alert(2);//"


# --- fixtures ---------------------------------------------------------------
@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # Tiny tensors: intra-op threads only add contention on a busy machine (30x here).
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def ethanol() -> Structure:
    return from_smiles("CCO", seed=0)


def _synthetic_complex(
    n_res: int = 30, seed: int = 0, text: str = ""
) -> tuple[Structure, GraphInput]:
    """A helical 'protein' of ALA-like residues with a ligand in the middle, and the
    three-part model input featurize would give (pocket = protein atoms < 6 Å)."""
    rng = np.random.default_rng(seed)
    els, xyz, names, resn, resi, roles, chains = [], [], [], [], [], [], []
    for r in range(n_res):
        base = np.array([1.5 * r, 3 * np.cos(r / 3), 3 * np.sin(r / 3)])
        for an, el in (("N", "N"), ("CA", "C"), ("C", "C"), ("O", "O"), ("CB", "C")):
            els.append(el)
            xyz.append(base + rng.normal(0, 0.8, 3))
            names.append(an + text)
            resn.append("ALA" + text)
            resi.append(r + 1)
            roles.append("protein")
            chains.append("A" + text)
    centre = np.array([0.75 * n_res, 0.0, 0.0])
    for k in range(8):
        els.append("C")
        xyz.append(centre + rng.normal(0, 1.2, 3))
        names.append(f"C{k}{text}")
        resn.append("LIG")
        resi.append(900)
        roles.append("ligand")
        chains.append("B")
    s = Structure(
        elements=els, coords=np.array(xyz), atom_names=names, residue_names=resn,
        residue_numbers=np.array(resi), roles=roles, chain_ids=chains, name=text or "synthetic",
    )  # fmt: skip
    roles_a = np.array(roles)
    lig = np.nonzero(roles_a == "ligand")[0]
    d = np.linalg.norm(s.coords[:, None] - s.coords[lig][None], axis=-1).min(1)
    pocket = np.nonzero((d < 6.0) & (roles_a == "protein"))[0]
    idx = np.concatenate([pocket, lig, pocket, lig])
    n_p, n_l = len(pocket), len(lig)
    part = np.concatenate([np.zeros(n_p + n_l), np.ones(n_p), np.full(n_l, 2)])
    rows = [("pocket", int(i)) for i in pocket] + [("ligand", int(i)) for i in lig]
    inp = GraphInput(
        pos=torch.as_tensor(s.coords[idx]),
        atom_feat=torch.zeros(len(idx), 18, dtype=torch.float64),
        part=torch.as_tensor(part, dtype=torch.long),
        sign=torch.as_tensor(np.where(part == 0, 1.0, -1.0)),
        name=s.name,
        meta={"task": "complex", "rows": rows + rows},
    )
    return s, inp


@pytest.fixture(scope="module")
def complex_pair() -> tuple[Structure, GraphInput | None]:
    """The bundled complex example when there is one (featurised by the package),
    else the synthetic complex with its hand-built input."""
    from pamnet.errors import InputNotFoundError

    try:
        from pamnet.examples import load_example

        return load_example("complex")[0], None
    except (ImportError, KeyError, OSError, InputNotFoundError):  # no bundled example here
        return _synthetic_complex()


def _brute_pairs(s: Structure, cutoff: float) -> set[tuple[int, int]]:
    d = np.linalg.norm(s.coords[:, None] - s.coords[None], axis=-1)
    i, j = np.nonzero(np.triu(d <= cutoff, 1))
    return set(zip(i.tolist(), j.tolist()))


def _script_body(page: str) -> str:
    return page[page.rindex("<script>") + len("<script>") : page.rindex("</script>")]


# --- edge views -------------------------------------------------------------
def test_molecule_edges_are_bonds_and_nonlocal_pairs(ethanol):
    ev = edge_view(ethanol, "molecule", cutoff_g=5.0)
    bonds = {tuple(sorted(b)) for b in ethanol.bonds.tolist()}
    assert {tuple(p) for p in ev.local_pairs.tolist()} == bonds
    assert ev.n_local_drawn == ev.n_local_total == len(bonds) == 8
    assert {tuple(p) for p in ev.global_pairs.tolist()} == _brute_pairs(ethanol, 5.0) - bonds
    assert not ev.capped and ev.n_global_drawn == ev.n_global_total
    assert ev.cylinder_count() == ev.n_local_drawn and ev.line_count() == ev.n_global_drawn
    js = ev.view.startjs
    assert js.count('"dashed": true') == ev.n_global_drawn


def test_cap_toggles_and_rules(ethanol):
    ev = edge_view(ethanol, "molecule", max_global_edges=5)
    assert ev.capped and ev.n_global_drawn == 5 and ev.n_global_total == 28
    assert ev.cylinder_count() == ev.n_local_drawn and ev.line_count() == 5
    d = np.linalg.norm(
        ethanol.coords[ev.global_pairs[:, 0]] - ethanol.coords[ev.global_pairs[:, 1]], axis=1
    )
    all_d = np.sort(
        np.linalg.norm(ethanol.coords[:, None] - ethanol.coords[None], axis=-1)[
            np.triu_indices(9, 1)
        ]
    )
    bonds_d = np.linalg.norm(
        ethanol.coords[ethanol.bonds[:, 0]] - ethanol.coords[ethanol.bonds[:, 1]], axis=1
    )
    nonlocal_d = np.sort(np.setdiff1d(np.round(all_d, 9), np.round(bonds_d, 9)))
    assert np.allclose(np.sort(d), nonlocal_d[:5])  # shortest first
    dist = np.arange(10.0)[::-1]
    assert sorted(dist[cap_pairs(dist, 4, "even")]) == [0.0, 3.0, 6.0, 9.0]
    only_g = edge_view(ethanol, show_local=False)
    assert only_g.n_local_drawn == 0 == only_g.cylinder_count()
    assert only_g.line_count() == only_g.n_global_drawn
    only_l = edge_view(ethanol, show_global=False)
    assert only_l.n_global_drawn == 0 and not only_l.capped
    assert only_l.cylinder_count() == only_l.n_local_drawn and only_l.line_count() == 0


def test_complex_edges_match_graph_and_focus(complex_pair):
    s, inp = complex_pair
    ev = edge_view(s, "complex", cutoff_l=2.0, cutoff_g=6.0, max_global_edges=40, inp=inp)
    assert ev.cylinder_count() == ev.n_local_drawn and ev.line_count() == ev.n_global_drawn
    assert ev.capped and ev.n_global_drawn == 40 < ev.n_global_total
    pairs = np.concatenate([ev.local_pairs, ev.global_pairs])
    assert (pairs[:, 0] < pairs[:, 1]).all() and len(np.unique(pairs, axis=0)) == len(pairs)
    d_local = np.linalg.norm(
        s.coords[ev.local_pairs[:, 0]] - s.coords[ev.local_pairs[:, 1]], axis=1
    )
    assert (d_local <= 2.0 + 1e-6).all()
    # Edges only among the atoms the model sees; the view zooms to them.
    assert np.isin(pairs, ev.focus).all()
    assert re.search(r'zoomTo\(\{"index": \[[^)]*\)\s*;?\s*viewer_\w+\.zoom\(0\.8', ev.view.startjs)
    lig = edge_view(s, "complex", focus="ligand", max_global_edges=10**6, inp=inp)
    is_lig = np.array(s.roles) == "ligand"
    drawn = np.concatenate([lig.local_pairs, lig.global_pairs])
    assert is_lig[drawn].any(axis=1).all() and not lig.capped
    assert lig.cylinder_count() == lig.n_local_drawn and lig.line_count() == lig.n_global_drawn


def test_separate_ligand_gives_the_same_graphs(complex_pair):
    s, inp = complex_pair
    if inp is not None:
        pytest.skip("needs the bundled complex example (featurize on a real PDB)")
    is_lig = np.array(s.roles) == "ligand"
    whole = edge_view(s, "complex")
    split = edge_view(s.select(~is_lig), "complex", ligand=s.select(is_lig))
    assert (split.n_local_total, split.n_global_total) == (
        whole.n_local_total,
        whole.n_global_total,
    )
    order = np.concatenate([np.nonzero(~is_lig)[0], np.nonzero(is_lig)[0]])  # split -> whole index
    as_whole = {tuple(sorted(p)) for p in order[split.local_pairs].tolist()}
    assert as_whole == {tuple(p) for p in whole.local_pairs.tolist()}


def test_rna_rows_map_to_nucleic_heavy_atoms():
    from pamnet.errors import InputNotFoundError

    try:
        from pamnet.examples import load_example

        rna = load_example("rna")[0]
    except (ImportError, KeyError, OSError, InputNotFoundError):
        pytest.skip("no bundled RNA example")
    ev = edge_view(rna, "rna", max_global_edges=300)
    drawn = np.concatenate([ev.local_pairs, ev.global_pairs]).ravel()
    assert {rna.elements[i] for i in drawn} <= {"C", "N", "O"}
    assert ev.capped and ev.cylinder_count() == ev.n_local_drawn and ev.line_count() == 300


def test_large_structure_draws_cartoon_and_edges_near_focus():
    s, inp = _synthetic_complex(n_res=150)
    assert s.n_atoms > LARGE_STRUCTURE
    ev = edge_view(s, "complex", inp=inp, focus="ligand")
    assert '"cartoon"' in ev.view.startjs
    assert ev.cylinder_count() == ev.n_local_drawn and ev.line_count() == ev.n_global_drawn
    stick_ids = [
        json.loads(m)
        for m in re.findall(r'addStyle\(\{"index": (\[[\d, ]*\])\},\{"stick"', ev.view.startjs)
    ]
    sticks = set(sum(stick_ids, []))
    assert len(sticks) < s.n_atoms / 3  # not the whole protein in sticks
    assert set(np.concatenate([ev.local_pairs.ravel(), ev.global_pairs.ravel()]).tolist()) <= sticks


# --- colourings --------------------------------------------------------------
def test_attention_and_contribution_views():
    s, inp = _synthetic_complex()
    rows = row_index(inp, s.n_atoms)
    n = inp.num_atoms
    att = torch.full((2, n, 2), 0.5)
    att[:, 0] = torch.tensor([0.52, 0.48])  # one atom a little more global, one more local
    att[:, 1] = torch.tensor([0.46, 0.54])
    av = attention_view(s, att, atom_index=rows)
    js = av.view.startjs.lower()
    # the scale spans what the atoms show (0.48-0.54), so both ends are coloured in full,
    # in the interaction palette, never in the +/- one
    assert PURPLE in js and ORANGE in js and RED not in js and BLUE not in js
    assert "0.480 more global" in av.legend_html and "more local 0.540" in av.legend_html
    contrib = torch.zeros(1, n, 1)
    contrib[0, 0, 0] = -2.0  # first row (a pocket atom, complex part) negative
    cv = contribution_view(s, contrib, atom_index=rows, unit="kcal/mol")
    assert BLUE in cv.view.startjs and "-2 kcal/mol" in cv.legend_html
    mol = from_smiles("CCO")
    assert ORANGE in attention_view(mol, np.ones(mol.n_atoms)).view.startjs.lower()
    split = channel_view(mol, np.full(mol.n_atoms, 1.0), np.arange(mol.n_atoms, dtype=float))
    assert PURPLE in split.view.startjs.lower() and ORANGE in split.view.startjs.lower()
    assert "via local" in split.legend_html


# --- plots ---------------------------------------------------------------------
def test_heatmap_and_bars_shapes():
    att = torch.softmax(torch.randn(3, 7, 2), -1)
    fig = attention_heatmap(att, [f"C{i}" for i in range(7)])
    z = np.asarray(fig.data[0].z)
    assert z.shape == (3, 7)
    assert np.allclose(z, att[..., 0].numpy())
    bars = contribution_bars(np.linspace(-1, 1, 7), ["X"] * 7)  # repeated labels stay 7 bars
    assert len(bars.data[0].y) == 7 and len(bars.data[0].x) == 7


def test_plots_take_predictions_explanations_and_results(tiny_registry):
    """Package objects straight in: shapes are blocks x atoms, labels the atoms'."""
    from pamnet.checkpoint import LoadedModel
    from pamnet.examples import load_example
    from pamnet.explain import explain
    from pamnet.finetune.config import FinetuneResult
    from pamnet.predict import predict
    from pamnet.testing import tiny_model

    (pred,) = predict(["CCO"], checkpoint="tiny", attention=True)
    fig = attention_heatmap(pred)
    assert np.asarray(fig.data[0].z).shape == (2, 9)  # tiny: 2 blocks; ethanol: 9 atoms
    assert list(fig.data[0].customdata[0][:3]) == ["C1", "C2", "O3"]
    bars = contribution_bars(pred)
    assert np.isclose(np.sum(bars.data[0].y), pred.values[pred.targets[0]], atol=1e-5)
    cx = explain(load_example("complex")[0], LoadedModel(tiny_model("complex"), ["pK"]))
    fig = attention_heatmap(cx)
    assert np.asarray(fig.data[0].z).shape == (2, len(cx.rows))  # complex rows, both copies
    result = FinetuneResult("finished", 2, [{"epoch": 1, "train_loss": 1.0},
                                            {"epoch": 2, "train_loss": 0.5}])  # fmt: skip
    assert list(loss_curves(result).data[0].y) == [1.0, 0.5]


@pytest.mark.parametrize("task,which", [("molecule", "global"), ("complex", "local")])
def test_cost_vs_cutoff_monotone(ethanol, task, which):
    if task == "molecule":
        obj = from_smiles("CCCCCCO")
    else:
        _, obj = _synthetic_complex()
    cutoffs = [1.5, 2.5, 3.5, 5.0, 7.0]
    df = cost_table(obj, task, cutoffs, which=which)
    for col in ("n_local", "n_global", "n_two_hop", "n_one_hop", "dimenet_angles"):
        assert (np.diff(df[col].to_numpy()) >= 0).all(), col
    assert df["dimenet_angles"].iloc[-1] >= df["n_two_hop"].iloc[-1]  # global ⊇ local there
    fig = cost_vs_cutoff(obj, task, cutoffs, which=which)
    assert len(fig.data) == 4 and list(fig.data[0].x) == cutoffs
    assert fig.layout.yaxis.type == "log" and fig.layout.yaxis.dtick == 1  # 1, 10, 100 only


def test_dimenet_count_closed_form_matches_two_hop():
    g = torch.Generator().manual_seed(0)
    pos = torch.rand(60, 3, generator=g) * 8
    for edge in (geometry.radius_graph(pos, 3.0), geometry.knn_graph(pos, 6)[:, :300]):
        want = geometry.two_hop(edge, 60).idx_i.numel()
        assert _two_hop_count(edge, 60) == want == _two_hop_count(edge, 60, limit=0)


def test_loss_curves_and_parity():
    metrics = [
        {"epoch": e, "train_loss": 1 / e, "val_loss": 1.2 / e, "lr": 1e-3} for e in range(1, 6)
    ]
    fig = loss_curves(metrics)
    assert [t.name for t in fig.data] == ["train_loss", "val_loss"]
    fig = parity_plot([1.0, 2.0, 3.0], [1.0, 2.5, 2.5], target="gap", unit="eV")
    assert "MAE 0.333" in fig.layout.title.text and len(fig.data[1].x) == 3


# --- model text ------------------------------------------------------------------
def test_model_text_round_trips_coordinates(ethanol):
    from rdkit import Chem

    mol = Chem.MolFromMolBlock(sdf_block(ethanol), removeHs=False)
    assert np.allclose(mol.GetConformer().GetPositions(), ethanol.coords, atol=1e-4)
    big = Structure(elements=["C"] * 1200, coords=np.arange(3600.0).reshape(1200, 3) * 0.01)
    text = sdf_block(big)
    assert "V3000" in text.splitlines()[3] and text.count("M  V30 1 C ") == 1
    s, _ = _synthetic_complex()
    lines = pdb_block(s).splitlines()
    assert lines[0][76:78].strip() == "N" and lines[0][17:20] == "ALA"
    assert float(lines[0][30:38]) == pytest.approx(s.coords[0, 0], abs=1e-3)


# --- escaping ---------------------------------------------------------------------
def _hostile_molecule() -> Structure:
    s = from_smiles("CCO")
    s.name = PAYLOAD + QUOTES
    s.atom_names = [PAYLOAD] * s.n_atoms
    s.residue_names = [PAYLOAD] * s.n_atoms
    s.chain_ids = [QUOTES] * s.n_atoms
    s.properties = {PAYLOAD: PAYLOAD, "title": QUOTES}
    s.source = PAYLOAD + ".sdf"
    return s


def _assert_safe(page: str, n_scripts: int = 1) -> None:
    assert PAYLOAD not in page
    assert "<script>alert" not in page
    assert page.count("<script") == n_scripts and page.count("</script>") == n_scripts
    assert "alert" not in _script_body(page)  # file text never reaches the script


@pytest.mark.parametrize("kind", ["edges", "attention", "contribution"])
def test_hostile_text_never_reaches_the_page(kind):
    s = _hostile_molecule()
    if kind == "edges":
        view = edge_view(s, "molecule")
    elif kind == "attention":
        view = attention_view(s, torch.softmax(torch.randn(2, s.n_atoms, 2), -1))
    else:
        view = contribution_view(s, np.linspace(-1, 1, s.n_atoms), unit=PAYLOAD)
    page = view.to_html(inline_js=False)
    _assert_safe(page)
    assert H.escape(PAYLOAD + QUOTES) in page  # the name is shown, escaped
    _assert_safe(view._repr_html_(), 1)
    complex_s, inp = _synthetic_complex(text=PAYLOAD)
    _assert_safe(edge_view(complex_s, "complex", inp=inp).to_html(inline_js=False))


def test_script_hardened_even_for_raw_py3dmol_calls(ethanol):
    ev = edge_view(ethanol)
    ev.view.addLabel(PAYLOAD, {"position": {"x": 0, "y": 0, "z": 0}})  # a careless caller
    page = ev.to_html(inline_js=False)
    assert PAYLOAD not in page and page.count("</script>") == 1
    assert "<\\/script><script>alert(1)<\\/script>" in page  # same JS string, inert in HTML


def test_plot_labels_escaped():
    labels = [PAYLOAD, QUOTES, "C3"]
    figs = [
        attention_heatmap(torch.softmax(torch.randn(2, 3, 2), -1), labels, title=PAYLOAD),
        contribution_bars([0.1, -0.2, 0.3], labels, unit=PAYLOAD),
        parity_plot([1, 2, 3], [1, 2, 3], target=PAYLOAD, unit=QUOTES, labels=labels),
        loss_curves([{"epoch": 1, PAYLOAD + "loss": 1.0}]),
    ]
    for fig in figs:
        text = json.dumps(fig.to_plotly_json(), default=str)
        assert "<script" not in text and "</script" not in text
        page = fig.to_html(include_plotlyjs=False, full_html=True)
        assert PAYLOAD not in page


def test_js_value_and_inline_js(tmp_path, monkeypatch, ethanol):
    assert "<" not in H.js_value({"a": PAYLOAD}) and json.loads(H.js_value(PAYLOAD)) == PAYLOAD
    with pytest.raises(ValueError):
        H.swatch("red;background:url(x)", "x")
    ev = edge_view(ethanol)
    # The vendored 3Dmol.js is inlined by default: no network needed.
    assert H.find_3dmol_js().parent.name == "static"
    assert "$3Dmolpromise = Promise.resolve()" in ev.to_html()
    found = H.find_3dmol_js
    monkeypatch.setattr(H, "find_3dmol_js", lambda: None)
    with pytest.raises(FileNotFoundError):
        ev.to_html(inline_js=True)
    assert H.CDN_3DMOL in ev.to_html()
    monkeypatch.setattr(H, "find_3dmol_js", found)
    fake = tmp_path / "3Dmol-min.js"
    fake.write_text("var $3Dmol = {s: '</script>'};")
    monkeypatch.setenv(H.ENV_3DMOL_JS, str(fake))
    page = ev.to_html()
    assert "var $3Dmol = {s: '<\\/script>'};" in page and page.count("</script>") == 3
    assert "$3Dmolpromise = Promise.resolve()" in page
    bundle = ev._repr_mimebundle_()
    assert set(bundle) == {"text/html", "application/3dmoljs_load.v0"}
    # Loaded from a URL instead (the app's static route): named, escaped, nothing inlined.
    page = ev.to_html(script_src='app/static/3Dmol-min.js"><script>x')
    assert '<script src="app/static/3Dmol-min.js&quot;&gt;&lt;script&gt;x"></script>' in page
    assert "var $3Dmol =" not in page and "$3Dmolpromise = Promise.resolve()" in page


def test_the_app_inlines_3dmol_only_where_static_serving_is_off(ethanol):
    from streamlit import config

    from ui.viewer import SCRIPT_SRC, page_html

    ev = edge_view(ethanol)
    before = config.get_option("server.enableStaticServing")
    try:
        config.set_option("server.enableStaticServing", True)
        assert SCRIPT_SRC in page_html(ev) and len(page_html(ev)) < 50_000
        config.set_option("server.enableStaticServing", False)
        assert SCRIPT_SRC not in page_html(ev) and len(page_html(ev)) > 400_000
    finally:
        config.set_option("server.enableStaticServing", before)


def test_a_big_structure_sends_a_region_and_capped_edges_to_the_viewer():
    import time

    from pamnet.viz.edges import FOCUS_ATOMS, MAX_LOCAL_EDGES, VIEW_MAX_ATOMS

    # a box of 6,000 waters (18,000 atoms) on a jittered grid
    rng = np.random.default_rng(0)
    side = 19
    grid = np.stack(np.meshgrid(*[np.arange(side)] * 3, indexing="ij"), -1).reshape(-1, 3)
    o = grid[:6000] * 3.1 + rng.normal(scale=0.1, size=(6000, 3))
    coords = np.concatenate([o, o + [0.757, 0.586, 0.0], o + [-0.757, 0.586, 0.0]])
    water = Structure(elements=["O"] * 6000 + ["H"] * 12000, coords=coords)
    water = water.perceive_bonds()
    start = time.perf_counter()
    view = edge_view(water, "molecule", max_global_edges=500)
    assert time.perf_counter() - start < 60  # a hang guard; minutes before the region
    assert view.n_atoms_total == 18000 and view.n_atoms_drawn < VIEW_MAX_ATOMS
    assert view.n_atoms_drawn >= FOCUS_ATOMS and view.n_local_drawn <= MAX_LOCAL_EDGES
    assert view.n_global_drawn <= 500 and view.capped
    html = view.to_html(inline_js=False)
    assert len(html) < 3_000_000 and view.cylinder_count() == view.n_local_drawn
    # the region is built first, and exact: the same pairs as the whole structure's
    from pamnet.viz.edges import central_atoms, graph_pairs

    whole, focus = graph_pairs(water, "molecule"), central_atoms(water)
    for pairs, total in ((whole.local, view.n_local_total), (whole.nonlocal_, view.n_global_total)):
        assert total == int((np.isin(pairs[:, 0], focus) | np.isin(pairs[:, 1], focus)).sum())
    assert "Showing" in view.legend_html and "counts are for the whole structure" in html


def test_channel_bars_split_each_target_into_its_local_and_global_fractions():
    import pandas as pd

    from pamnet.viz import channel_bars

    frame = pd.DataFrame(
        {"target": ["homo", "<b>x</b>"], "unit": ["eV", ""], "value": [-7.0, 1.0],
         "via global": [-0.5, 0.0], "via local": [1.5, 0.0], "offset": [-8.0, 1.0]}
    )  # fmt: skip
    fig = channel_bars(frame)
    local, glob = fig.data
    assert list(local.x) == [0.75, 0.0] and list(glob.x) == [0.25, 0.0]
    assert local.marker.color == ORANGE and "<b>" not in "".join(local.y)
