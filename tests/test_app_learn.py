"""AppTest: the Learn page (default molecule, another SMILES, cutoffs, complex-mode local graph)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Small graphs: intra-op threads only add overhead (and stall on a busy CPU)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture()
def at(monkeypatch, tiny_registry):
    from streamlit.testing.v1 import AppTest

    monkeypatch.syspath_prepend(str(ROOT))
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    return app.switch_page("pages/5_Learn.py").run()


def test_default_lesson(at):
    assert not at.exception and not at.error
    assert [h.value for h in at.header] == [
        "1 · Local and non-local interactions",
        "2 · Why angles only on the local graph",
        "3 · Local or global? Ask the model",
    ]
    mm = at.dataframe[0].value
    assert list(mm["term"])[:2] == ["bond stretching", "angle bending"]
    metrics = {m.label: m.value for m in at.metric}
    assert int(metrics["PAMNet angle terms"].replace(",", "")) < int(
        metrics["DimeNet-style angle terms"].replace(",", "")
    )
    timing = at.dataframe[1].value
    assert list(timing["model"]) == ["PAMNet", "DimeNet-style"]
    assert (timing["one block (ms, median)"] > 0).all()
    assert any("as long as PAMNet's (half the runs between" in c.value for c in at.caption)
    assert "untrained" in at.info[0].value  # only the tiny test checkpoint is installed
    assert len(at.get("plotly_chart")) == 3  # cost sweep, local/global split, heat map
    assert "through the local layers" in " ".join(m.value for m in at.markdown)


def test_another_molecule_and_cutoffs(at):
    at.text_input(key="learn.smiles").input("c1ccccc1O")
    at.slider(key="learn.cutoff_g").set_value(8.0).run()
    assert not at.exception and not at.error
    assert at.caption[0].value.startswith("C6H6O")
    at.radio(key="learn.local_mode").set_value("complex").run()  # enables the local cutoff
    at.slider(key="learn.cutoff_l").set_value(3.0).run()
    assert not at.exception and not at.error
    assert len(at.get("plotly_chart")) == 4  # global and local sweeps, split, heat map
    at.selectbox(key="learn.target").set_value("u0").run()
    assert not at.exception and "**u0** =" in " ".join(m.value for m in at.markdown)


def test_a_target_from_a_specialist_says_so(at, tiny_registry):
    from pamnet.testing import specialize_tiny

    specialize_tiny(tiny_registry, "u0")
    at = at.text_input(key="learn.smiles").input("CCO").run()  # the explanation anew
    note = "u0 comes from a specialist"
    assert not any(note in c.value for c in at.caption)  # homo, the first target
    at = at.selectbox(key="learn.target").set_value("u0").run()
    assert not at.exception and any(c.value.startswith(note) for c in at.caption)


def test_bad_smiles_is_explained(at):
    at.text_input(key="learn.smiles").input("C1CC(").run()
    assert not at.exception
    assert "SMILES" in at.error[0].value
