"""Hostile user text: the escaping rules of `pamnet.text` and the exports built on them."""

import io
import re

import pandas as pd
import pytest

from pamnet.io import read, write_sdf
from pamnet.io.smiles import from_smiles
from pamnet.text import csv_safe, md, sdf_key, sdf_line

# Text a hostile file could carry in a name, a title, a column or a SMILES cell.
PAYLOADS = [
    "![t](http://evil.example/x.png)",
    "[click](javascript:alert(1))",
    "<img src=x onerror=alert(1)>",
    "<script>alert(1)</script>",
    "http://evil.example/a",
    "HTTPS://evil.example/a",
    "see www.evil.example now",
    "mail me: bob@evil.example",
    ":material/warning: **bold** `code` $x^2$",
    '=HYPERLINK("http://evil.example","x")',
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "line one\r\n$$$$\r\nline three",
    "> <fake>\nvalue",
]


def _markdown_would_link(escaped: str) -> bool:
    """What GitHub-flavoured Markdown's autolink-literal step matches, after CommonMark
    resolves backslash escapes (remark-gfm's regexes, which Streamlit uses)."""
    text = re.sub(r"\\(.)", r"\1", escaped)
    return bool(
        re.search(r"(?i)(https?://|www\.)[-.\w]+", text)
        or re.search(r"[-.\w+]+@[-\w]+(\.[-\w]+)+", text)
    )


@pytest.mark.parametrize("payload", PAYLOADS)
def test_md_leaves_no_markup_and_no_autolink(payload):
    out = md(payload)
    assert "\n" not in out and "\r" not in out
    # every punctuation mark is escaped: no markup, HTML or directive is left
    unescaped = re.sub(r"\\[!-/:-@\[-`{-~]", "", out)
    assert not re.search(r"[!-/:-@\[-`{-~]", unescaped), unescaped
    assert not _markdown_would_link(out)
    # what the reader sees is what the file said (escapes and joiners are invisible)
    shown = out.replace("\\", "").replace("\u2060", "")
    assert shown == " ".join(payload.replace("\\", "").split())


def test_md_keeps_chemistry_readable():
    assert md("C1=CC=CC=C1") == "C1\\=CC\\=CC\\=C1"
    assert md("[NH4+]") == "\\[NH4\\+\\]" and "\u2060" not in md("c1ccc:c1")


def test_csv_exports_neutralise_formulas():
    frame = pd.DataFrame(
        {"name": ["=1+1", "+A1", "-cmd", "@SUM(A1)", "\tx", "ok", "-"], "gap": [1.0] * 7}
    )
    frame['=HYPERLINK("x")'] = ["a"] * 7
    out = csv_safe(frame)
    assert out["name"].tolist() == ["'=1+1", "'+A1", "'-cmd", "'@SUM(A1)", "'\tx", "ok", "'-"]
    assert out["gap"].tolist() == [1.0] * 7  # numbers stay numbers (negative too)
    assert list(out.columns)[-1].startswith("'=") and frame["name"][0] == "=1+1"  # a copy
    back = pd.read_csv(io.StringIO(out.to_csv(index=False)))
    assert not any(str(v).startswith(("=", "+", "-", "@")) for v in back["name"])


@pytest.mark.parametrize("payload", PAYLOADS)
def test_sdf_records_round_trip_whatever_the_name_and_values(payload):
    from rdkit import Chem

    mols = [from_smiles("CCO"), from_smiles("c1ccccc1")]
    mols[0].name = payload
    props = [{payload: payload, "note": "a\n\nb"}, {"x": 1.5}]
    text = write_sdf(mols, predictions=props)
    back = read(text.encode(), fmt="sdf")
    assert [s.n_atoms for s in back] == [9, 12]  # neither record split nor lost
    assert back[0].name == sdf_line(payload, limit=80)
    supplier = Chem.SDMolSupplier()
    supplier.SetData(text, removeHs=False)
    rd = [m for m in supplier]
    assert len(rd) == 2 and all(m is not None for m in rd)
    assert rd[0].GetProp(sdf_key(payload)) == sdf_line(payload)
    assert rd[1].GetProp("x") == "1.5"
