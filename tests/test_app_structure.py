"""AppTest: the Structure page (SMILES, uploads, examples, bad input, complexes)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DRUGS = ROOT / "pamnet" / "examples" / "drugs.sdf"


@pytest.fixture()
def at(monkeypatch, tiny_registry):
    """The app, switched to the Structure page."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.syspath_prepend(str(ROOT))
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    return app.switch_page("pages/1_Structure.py").run()


def button(at, label):
    return next(b for b in at.button if b.label == label)


def metrics(at) -> dict[str, int]:
    return {m.label: int(m.value.replace(",", "")) for m in at.metric}


def build(at, smiles):
    at.text_input(key="structure.smiles").input(smiles)
    return button(at, "Build 3D structure").click().run()


def upload(at, name, data):
    at.file_uploader[0].upload(name, data)
    return at.run()


def test_default_render_asks_for_input(at):
    assert not at.exception
    assert "Paste a SMILES" in at.info[0].value
    assert not at.get("iframe")


def test_smiles_gives_counts_view_table_and_sidebar(at):
    at = build(at, "CCO")
    assert not at.exception and not at.error
    # ethanol: 9 atoms, 8 bonds; every one of the 36 pairs within 5 Å. Counted as pairs,
    # as the view's legend counts them; the directed count is in the tooltip
    m = metrics(at)
    assert m["Atoms (model)"] == 9 and m["Local edges"] == 8 and m["Global edges"] == 36
    assert m["Non-local edges"] == 36 - 8  # the dashed ones
    local = next(x for x in at.metric if x.label == "Local edges")
    assert "16 directed messages" in local.proto.help
    assert m["Two-hop angles"] > 0 and m["One-hop angles"] > 0
    (view,) = at.get("iframe")
    assert "local edges (solid): 8 of 8 pairs" in view.proto.srcdoc
    assert "non-local edges (dashed): 28 of 28 pairs" in view.proto.srcdoc
    table = at.dataframe[0].value
    assert list(table["element"]).count("H") == 6 and table["degree"].max() == 4
    assert "C2H6O" in " ".join(c.value for c in at.sidebar.caption)

    at.toggle(key="structure.show_global").set_value(False).run()
    (view,) = at.get("iframe")
    assert "non-local edges (dashed): 0 of 28 pairs" in view.proto.srcdoc
    scope = f"{at.session_state['pamnet_session'].structure_key}:molecule"
    at.slider(key=f"structure.cutoff_g:{scope}").set_value(2.0).run()
    assert metrics(at)["Global edges"] < 72


def test_bad_smiles_keeps_previous_structure(at):
    at = build(at, "CCO")
    at = build(at, "C1CC(")
    assert not at.exception
    assert "RDKit cannot parse" in at.error[0].value
    assert metrics(at)["Atoms (model)"] == 9  # ethanol is still shown
    assert at.session_state["pamnet_session"].structure.formula == "C2H6O"


def test_upload_multi_record_sdf_and_pick_record(at):
    at = upload(at, "drugs.sdf", DRUGS.read_bytes())
    assert not at.exception and not at.error
    record = next(s for s in at.selectbox if s.label.startswith("Record"))
    assert len(record.options) == 4
    first = metrics(at)["Atoms (model)"]
    record.set_value(1).run()
    sess = at.session_state["pamnet_session"]
    assert sess.index == 1 and metrics(at)["Atoms (model)"] == sess.structure.n_atoms != first


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("broken.sdf", b"not\na\nmolfile\n  3  2  0  0  0  0  0  0  0  0999 V2000\nxx\n", "line"),
        ("empty.xyz", b"   \n", "empty"),
        ("binary.pdb", b"\x00\x01\x02garbage", "binary"),
        ("huge.xyz", b"1\n\nC 0 0 0\n" + b" " * 20_000_001, "limit"),
    ],
    ids=["malformed", "empty", "binary", "too-large"],
)
def test_bad_upload_shows_error_and_keeps_structure(at, name, data, message):
    at = build(at, "CCO")
    at = upload(at, name, data)
    assert not at.exception
    assert message in at.error[0].value.replace("\\", "")
    assert at.session_state["pamnet_session"].structure.formula == "C2H6O"
    assert metrics(at)["Atoms (model)"] == 9


def test_unsupported_element_still_shows_graphs(at):
    at = build(at, "CCS")  # S: not a QM9 element, but the graphs do not depend on it
    assert not at.exception and not at.error
    assert metrics(at)["Atoms (model)"] == 9


@pytest.mark.parametrize(
    ("name", "task", "formula"),
    [("benzene", "molecule", "C6H6"), ("complex", "complex", None), ("rna", "rna", None)],
)
def test_example_selection(at, name, task, formula):
    at.selectbox(key="structure.example").set_value(name)
    at = button(at, "Load example").click().run()
    assert not at.exception and not at.error
    sess = at.session_state["pamnet_session"]
    assert sess.task == task and sess.label == f"example {name}"
    assert formula is None or sess.structure.formula == formula
    m = metrics(at)
    assert m["Local edges"] > 0 and m["Global edges"] >= m["Local edges"]
    if name == "benzene":
        assert m["Local edges"] == 12  # 12 bonds
    if name == "rna":  # 20 Å global cutoff: more pairs than are drawn, and the page says so
        assert "Drawing 2,000 of" in at.info[0].value


def test_complex_upload_picks_ligand_pocket_and_focus(at):
    from browser.conftest import synthetic_complex_pdb

    at = upload(at, "complex.pdb", synthetic_complex_pdb(1))
    assert not at.exception and not at.error
    sess = at.session_state["pamnet_session"]
    assert sess.task == "complex" and (sess.cutoff_l, sess.cutoff_g) == (2.0, 6.0)
    ligand = next(s for s in at.selectbox if s.label == "Ligand residue")
    assert ligand.options == ["auto", "BEN"]
    n_model = metrics(at)["Atoms (model)"]
    assert 7 < n_model < sess.structure.n_atoms  # pocket + ligand heavy atoms only
    scope = f"{sess.structure_key}:complex"
    at.slider(key=f"structure.pocket:{scope}").set_value(10.0).run()
    assert metrics(at)["Atoms (model)"] > n_model
    at.radio(key=f"structure.focus:{scope}").set_value("ligand").run()
    assert not at.exception and at.get("iframe")


def test_text_from_files_cannot_reach_the_page_as_html(at):
    evil = "</script><script>alert(1)</script>![x](http://evil.example/x.png)"
    record = DRUGS.read_text().split("$$$$")[0].split("\n", 1)[1]
    at = upload(at, f"{evil}.sdf", f"{evil}\n{record}$$$$\n".encode())
    assert not at.exception and not at.error
    (view,) = at.get("iframe")
    assert "<script>alert" not in view.proto.srcdoc
    shown = " ".join(e.value for e in [*at.sidebar.markdown, *at.sidebar.caption])
    assert "![x](" not in shown and "<script>" not in shown


def test_a_file_with_a_bad_record_loads_the_others_and_names_the_bad_one(at):
    from rdkit import Chem
    from rdkit.Chem import AllChem

    blocks = []
    for smi in ("CCO", "CCN"):
        mol = Chem.MolFromSmiles(smi)
        AllChem.Compute2DCoords(mol)  # 2D, as drawing tools write it
        blocks.append(Chem.MolToMolBlock(mol))
    bad = "broken\n\n\n  1  0  0  0  0  0  0  0  0  0999 V2000\n    0.0 0.0 0.0 Qq\nM  END\n"
    at = upload(at, "three.sdf", "$$$$\n".join([blocks[0], bad, blocks[1]]).encode() + b"$$$$\n")
    assert not at.exception and not at.error
    s = at.session_state["pamnet_session"]
    assert [x.formula for x in s.structures] == ["C2H6O", "C2H7N"]
    warning = at.warning[0].value.replace("\\", "")
    assert "1 record(s)" in warning and "record 2 (broken)" in warning
