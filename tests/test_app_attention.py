"""AppTest: the Attention page (SMILES, current structure, complexes, Integrated Gradients)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PARACETAMOL = "CC(=O)Nc1ccc(O)cc1"


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Small graphs: intra-op threads only add overhead (and stall on a busy CPU)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture()
def app(monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.syspath_prepend(str(ROOT))
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()


@pytest.fixture()
def at(app, tiny_registry):
    return app.switch_page("pages/3_Attention.py").run()


def smiles(at, text=PARACETAMOL):
    return at.text_input(key="attention.smiles").input(text).run()


def test_default_render_explains_an_example_and_asks_for_a_smiles(at):
    # a worked example until the user types one: something to read, and the charts' code
    # loads in the browser meanwhile (issue 17: the first chart of a tab under 1 s)
    assert not at.exception and not at.error
    assert at.radio(key="attention.mode").value == "One SMILES"
    assert at.text_input(key="attention.smiles").value == ""  # the box stays the user's
    assert "An example below: paracetamol" in at.info[0].value
    assert "Type a SMILES above and press Enter" in at.info[0].value
    assert len(at.get("plotly_chart")) == 3
    example = [c.value for c in at.caption if "The bars add up to" in c.value]
    assert example and example == [
        c.value for c in smiles(at, PARACETAMOL).caption if "The bars add up to" in c.value
    ]
    assert not at.info or "An example below" not in at.info[0].value


def test_smiles_shows_heatmap_bars_view_and_tables(at):
    at = smiles(at)
    assert not at.exception and not at.error
    assert {m.label for m in at.metric} >= {"homo \\[eV\\]", "u0 \\[eV\\]"}
    charts = at.get("plotly_chart")
    assert len(charts) == 3  # local/global split, heat map and bars
    assert "Where each prediction comes from" in [h.value for h in at.subheader]
    labels = [d.label for d in at.get("download_button")]
    assert labels == ["Download the atom table (CSV)"]
    tables = [df.value for df in at.dataframe]
    atoms = tables[-1]
    assert len(atoms) == 20 and "u0 [eV]" in atoms.columns
    assert any("The bars add up to" in c.value for c in at.caption)


def test_atom_selection_colouring_and_target(at):
    at = smiles(at)
    at.selectbox(key=next(s.key for s in at.selectbox if s.label == "Atom")).set_value(2).run()
    at.radio(key="attention.color").set_value("attention").run()
    assert not at.exception and not at.error
    at.radio(key="attention.color").set_value("contribution").run()
    target = next(s for s in at.selectbox if s.label == "Target")
    at = target.set_value("homo").run()
    at = at.toggle(key="attention.learned").set_value(False).run()
    assert not at.exception and not at.error
    assert at.metric[-1].label.startswith("contribution")


def test_integrated_gradients(at):
    """Exactly the slider's steps first (seconds); where they miss 1%, a Refine button
    doubles them until they add up."""
    import re

    at = smiles(at, "CCO")
    at.slider(key="attention.ig_steps").set_value(10).run()
    at = next(b for b in at.button if b.label == "Compute Integrated Gradients").click().run()
    assert not at.exception and not at.error
    assert len(at.get("plotly_chart")) == 5
    assert {"IG atoms homo [eV]", "IG coords homo [eV]"} <= set(at.dataframe[-1].value.columns)
    notes = [e.value for e in [*at.caption, *at.warning] if e.value.startswith("Baseline:")]
    assert len(notes) == 2 and all("10 steps)" in n for n in notes), notes
    errors = [float(re.search(r"error ([\d.]+)%", n).group(1)) for n in notes]
    refine = [b for b in at.button if b.label.startswith("Refine")]
    assert len(refine) == (max(errors) > 1.0)
    if refine:
        at = refine[0].click().run()
        notes = [e.value for e in [*at.caption, *at.warning] if e.value.startswith("Baseline:")]
        steps = [int(re.search(r"(\d+) steps\)", n).group(1)) for n in notes]
        assert max(steps) > 10 and not [b for b in at.button if b.label.startswith("Refine")]


def test_ig_clicked_before_the_new_molecule_finished_drawing_explains_it(at):
    """A click on the IG button that the browser still shows from the previous molecule
    (the new one's page not drawn that far yet) reached the server with the old
    molecule's request and did nothing. Here the SMILES and the click arrive together:
    IG is computed for the molecule the page now shows."""
    at.slider(key="attention.ig_steps").set_value(10)
    at.text_input(key="attention.smiles").input("CCO")
    at = next(b for b in at.button if b.label == "Compute Integrated Gradients").click().run()
    assert not at.exception and not at.error
    notes = [e.value for e in [*at.caption, *at.warning] if e.value.startswith("Baseline:")]
    assert len(notes) == 2, "no IG charts after the click"
    atoms = at.dataframe[-1].value
    assert len(atoms) == 9 and "IG atoms homo [eV]" in atoms.columns  # CCO: 9 atoms


def test_integrated_gradients_work_and_fail_by_their_button(at, monkeypatch):
    """IG runs (progress, Stop, errors) inside its own section, by the button that started
    it: at the top of the page they were off-screen after a click at the bottom."""
    import ui.cache
    from pamnet.errors import PamnetError

    def fail(*args, progress=None, **kwargs):
        progress(0.5, "half way")
        raise PamnetError("IG gave up on purpose")

    monkeypatch.setattr(ui.cache, "with_gradients", fail)
    at = smiles(at, "CCO")
    at = next(b for b in at.button if b.label == "Compute Integrated Gradients").click().run()
    assert not at.exception
    section = next(e for e in at.expander if e.label.startswith("Integrated Gradients"))
    assert [e.value for e in section.error] == ["IG gave up on purpose"]
    assert len(at.error) == 1 and len(at.get("plotly_chart")) == 3  # the rest of the page stays
    at = at.run()  # the failed request is not retried on every rerun
    assert not at.error


def _load_example(app, name):
    at = app.switch_page("pages/1_Structure.py").run()
    at.selectbox(key="structure.example").set_value(name).run()
    at = next(b for b in at.button if b.label == "Load example").click().run()
    return at.switch_page("pages/3_Attention.py").run()


def test_complex_without_a_complex_checkpoint_says_what_is_needed(app, tiny_registry):
    at = _load_example(app, "complex")
    assert not at.exception
    assert at.radio(key="attention.mode").value == "Current structure"
    assert "needs a complex checkpoint" in at.info[0].value


def test_complex_with_a_complex_checkpoint(app, tiny_registry):
    from pamnet.checkpoint import save_checkpoint
    from pamnet.testing import tiny_model

    save_checkpoint(tiny_registry / "tiny_complex.pt", tiny_model("complex"), ["pK"], {"pK": ""})
    at = _load_example(app, "complex")
    assert not at.exception and not at.error
    assert "Ligand vs pocket" in [t.label for t in at.tabs]
    sides = next(
        df.value for df in at.dataframe if "side" in df.value.columns and len(df.value) == 2
    )
    assert set(sides["side"]) == {"ligand", "pocket"}


def test_rna_per_nucleotide_with_an_rna_checkpoint(app, tiny_registry):
    from pamnet.checkpoint import save_checkpoint
    from pamnet.testing import tiny_model

    save_checkpoint(tiny_registry / "tiny_rna.pt", tiny_model("rna"), ["score"], {"score": ""})
    at = _load_example(app, "rna")
    assert not at.exception and not at.error
    assert "By nucleotide" in [t.label for t in at.tabs]


def _tiled_rna(copies: int):
    """The bundled RNA example `copies` times, 40 Å apart along x (one structure)."""
    import dataclasses

    import numpy as np

    from pamnet.examples import EXAMPLES
    from pamnet.io import read

    rna = read(next(e for e in EXAMPLES if e.task == "rna").path)
    rna = rna[0] if isinstance(rna, list) else rna
    tiled = {}
    for f in dataclasses.fields(rna):
        v = getattr(rna, f.name)
        if f.name == "coords":
            v = np.concatenate([v + [40.0 * i, 0, 0] for i in range(copies)])
        elif isinstance(v, list) and f.name != "warnings":
            v = v * copies
        elif isinstance(v, np.ndarray):
            v = np.concatenate([v] * copies)
        tiled[f.name] = v
    return type(rna)(**tiled)


def test_large_structures_explain_with_progress_and_can_be_stopped(app, tiny_registry):
    """Above PROGRESS_ATOMS an explanation takes seconds: it runs outside the cache with a
    progress bar and Stop, and its result is kept; stopped, the page says so and offers
    to explain."""
    from pamnet.checkpoint import save_checkpoint
    from pamnet.testing import tiny_model
    from ui.state import KEY

    save_checkpoint(tiny_registry / "tiny_rna.pt", tiny_model("rna"), ["score"], {"score": ""})
    at = app.switch_page("pages/1_Structure.py").run()
    big = _tiled_rna(9)
    assert big.n_atoms > 2_000
    at.session_state[KEY].load([big], "test:tiled-rna", "tiled RNA")
    at = at.switch_page("pages/3_Attention.py").run()
    assert not at.exception and not at.error
    ident, exp = at.session_state["attention.large"]
    assert exp.contributions.shape[1] == exp.input.num_atoms > 1_000  # heavy atoms only
    at = at.run()  # kept: the same explanation, not a new one
    assert at.session_state["attention.large"][1] is exp

    at.session_state["attention.stopped"] = ident  # what the Stop button's click sets
    del at.session_state["attention.large"]
    at = at.run()
    assert "Stopped before the explanation of" in at.info[0].value
    at = next(b for b in at.button if b.label == "Explain").click().run()
    assert not at.exception and not at.error and "attention.large" in at.session_state


def test_a_target_from_a_specialist_says_so(app, tiny_registry):
    from pamnet.testing import specialize_tiny

    specialize_tiny(tiny_registry, "u0")
    at = smiles(app.switch_page("pages/3_Attention.py").run())
    target = next(s for s in at.selectbox if s.label == "Target")
    notes = lambda page: [c.value for c in page.caption if "comes from a specialist" in c.value]  # noqa: E731
    assert not notes(target.set_value("homo").run())
    at = target.set_value("u0").run()
    assert not at.exception and notes(at) and notes(at)[0].startswith("u0 comes from")
