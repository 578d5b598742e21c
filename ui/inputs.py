"""Turning what a user gives the app (uploads, SMILES, examples, CSV tables) into
pamnet objects. Errors are `pamnet.errors` types whose messages are for users.

Nothing uploaded is executed: structure files go through `pamnet.io.read` (which
never runs or fetches anything) and tables through `pamnet.tables`, both within
`LIMITS` (the same size cap as `.streamlit/config.toml`'s maxUploadSize).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from pamnet import io as pio
from pamnet import tables
from pamnet.structure import Structure

LIMITS = pio.Limits()
# File-name endings offered by the uploader: the readers' formats and their aliases.
_ENDINGS = ("smi", "smiles", "xyz", "sdf", "sd", "mol", "mol2", "pdb", "ent", "cif", "mmcif")
UPLOAD_TYPES = [e for e in _ENDINGS if pio.format_of(f"x.{e}") in pio.FORMATS]
MAX_BATCH_ROWS = 5000  # more than this: use the CLI (`pamnet predict`)


@st.cache_data(show_spinner="Reading the file (2D records get 3D coordinates)…", max_entries=16)
def read_records(data: bytes, name: str) -> list[pio.Record]:
    """One `pamnet.io.Record` per record of an uploaded file: its structure, or why it
    failed (the others are kept)."""
    return pio.read_records(data, name=name, limits=LIMITS)


@st.cache_data(show_spinner=False, max_entries=64)
def structure_from_smiles(smiles: str) -> Structure:
    """A 3D structure built from one SMILES string (never read as a file path)."""
    return pio.from_smiles(smiles.strip())


@st.cache_data(show_spinner=False)
def example(name: str) -> list[Structure]:
    """The structures of bundled example `name`."""
    from pamnet.examples import load_example

    return load_example(name)


def examples() -> list:
    """The bundled examples (`pamnet.examples.Example`: name, task, description)."""
    from pamnet.examples import list_examples

    return list_examples()


# --- CSV tables ---------------------------------------------------------------
@st.cache_data(show_spinner=False, max_entries=8)
def read_table(data: bytes, name: str) -> pd.DataFrame:
    """A CSV (or TSV) upload as text columns (`pamnet.tables.read_table`)."""
    return tables.read_table(data, name, LIMITS).frame


def smiles_column_index(columns: list[str]) -> int:
    """Where the SMILES column selector starts (`pamnet.tables.guess_smiles_column`)."""
    guess = tables.guess_smiles_column(columns)
    return columns.index(guess) if guess is not None else 0


def smiles_column(table: pd.DataFrame, column: str) -> list[str]:
    """The SMILES of `column`, at most `MAX_BATCH_ROWS` (`pamnet.tables.smiles_column`)."""
    return tables.smiles_column(table, column, MAX_BATCH_ROWS)
