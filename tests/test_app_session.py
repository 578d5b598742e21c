"""The app's plain-Python parts: `pamnet.session.Session` and the ui helpers."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pamnet.errors import ConfigError, DataError, UnknownNameError
from pamnet.io import from_smiles, read
from pamnet.session import Session, input_key

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _root_on_path(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))


def test_session_load_select_and_task_defaults():
    sess = Session()
    assert sess.structure is None and sess.summary() == {}
    drugs = read(ROOT / "pamnet" / "examples" / "drugs.sdf")
    sess.load(drugs, input_key("upload", b"x", "drugs.sdf"), "drugs.sdf")
    assert sess.structure is drugs[0] and sess.task == "molecule"
    assert sess.summary()["record"] == "1 of 4"
    sess.set_task("complex")
    assert (sess.cutoff_l, sess.cutoff_g) == (2.0, 6.0)
    assert set(sess.featurize_kw()) == {"ligand_resname", "pocket_cutoff"}
    sess.cutoff_g = 9.0
    sess.set_task("complex")  # same task: the user's cutoffs stay
    assert sess.cutoff_g == 9.0
    sess.select(2)  # a new record: task re-guessed, its defaults back
    assert sess.task == "molecule" and sess.cutoff_g == 5.0 and sess.featurize_kw() == {}
    assert sess.structure_key.endswith("#2")
    with pytest.raises(UnknownNameError, match="no record 5"):
        sess.select(4)
    with pytest.raises(ConfigError, match="unknown task"):
        sess.set_task("protein")


def test_session_keeps_structure_when_input_is_rejected():
    sess = Session()
    ethanol = from_smiles("CCO")
    sess.load([ethanol], input_key("smiles", "CCO"), "SMILES CCO")
    bad = input_key("upload", b"junk", "x.sdf")
    sess.reject(bad, "x.sdf: line 4: bad counts line")
    assert sess.structure is ethanol and sess.rejected[bad].startswith("x.sdf")
    with pytest.raises(ValueError):
        sess.load([], bad, "nothing")
    assert input_key("smiles", "CCO") != input_key("smiles", "CCN")
    assert input_key("upload", b"a", "x.sdf") != input_key("upload", b"a", "y.sdf")


def test_md_makes_user_text_inert():
    from ui.text import md

    evil = "![x](http://evil.example/a.png) [link](javascript:alert(1)) <b>hi</b> **bold**"
    out = md(evil)
    for raw in ("![", "](", "<b>", "**"):
        assert raw not in out
    assert md("C1=CC=CC=C1") == "C1\\=CC\\=CC\\=C1"


def test_the_apps_table_helpers_use_the_package():
    from ui.inputs import MAX_BATCH_ROWS, read_table, smiles_column, smiles_column_index

    table = read_table(b"id,SMILES\na,CCO\n", "a.csv")
    assert list(table.columns) == ["id", "SMILES"] and smiles_column_index(["id", "SMILES"]) == 1
    assert smiles_column_index(["id", "name"]) == 0
    with pytest.raises(DataError, match="pamnet predict"):
        smiles_column(pd.DataFrame({"s": ["C"] * (MAX_BATCH_ROWS + 1)}), "s")


def test_upload_types_cover_every_readable_format():
    from pamnet.io import FORMATS, format_of
    from ui.inputs import UPLOAD_TYPES

    assert {format_of(f"x.{e}") for e in UPLOAD_TYPES} == set(FORMATS)
