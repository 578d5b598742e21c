"""Turning what a user gives the app (uploads, SMILES, examples, CSV tables) into
pamnet objects. Errors are `pamnet.errors` types whose messages are for users.

Nothing uploaded is executed: structure files go through `pamnet.io.read` (which
never runs or fetches anything) and CSVs through pandas' C parser, both within
`LIMITS` (the same size cap as `.streamlit/config.toml`'s maxUploadSize).
"""

from __future__ import annotations

import io

import pandas as pd
import streamlit as st

from pamnet import io as pio
from pamnet.errors import DataError, TooLargeError
from pamnet.structure import Structure

LIMITS = pio.Limits()
# File-name endings offered by the uploader: the readers' formats and their aliases.
_ENDINGS = ("smi", "smiles", "xyz", "sdf", "sd", "mol", "mol2", "pdb", "ent", "cif", "mmcif")
UPLOAD_TYPES = [e for e in _ENDINGS if pio.format_of(f"x.{e}") in pio.FORMATS]
MAX_BATCH_ROWS = 5000  # more than this: use the CLI (`pamnet predict`)
_SAMPLE = 50  # rows checked when validating a SMILES column


@st.cache_data(show_spinner=False, max_entries=16)
def read_structures(data: bytes, name: str) -> list[Structure]:
    """Every structure in an uploaded file (format from the name, else sniffed)."""
    return pio.read(data, name=name, limits=LIMITS)


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
    """A CSV (or TSV) upload as text columns; `DataError` with a reason if it is not one."""
    if len(data) > LIMITS.max_bytes:
        raise TooLargeError(
            f"{name} is {len(data) / 1e6:.1f} MB, over the {LIMITS.max_bytes / 1e6:.0f} MB limit; "
            "split it, or use the command line (`pamnet predict`)"
        )
    sep = "\t" if name.lower().endswith((".tsv", ".tab")) else ","
    try:
        table = pd.read_csv(io.BytesIO(data), sep=sep, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(
            f"{name} is not a readable CSV table ({type(exc).__name__}: {str(exc)[:200]}); "
            "save it as comma-separated text with a header row"
        ) from None
    if table.empty or not len(table.columns):
        raise DataError(f"{name} has no rows; give a header row and one row per molecule")
    return table


def guess_smiles_column(columns: list[str]) -> int:
    """Index of the column called SMILES (any case) or containing 'smiles', else 0."""
    lowered = [str(c).strip().lower() for c in columns]
    for want in ("smiles", "smi", "canonical_smiles"):
        if want in lowered:
            return lowered.index(want)
    return next((i for i, c in enumerate(lowered) if "smiles" in c), 0)


def smiles_column(table: pd.DataFrame, column: str) -> list[str]:
    """The SMILES of `column` (stripped; empty cells stay, and fail on their own row).

    Raises `DataError` when the column does not hold SMILES (fewer than half of the
    first non-empty values parse) or when the table has more than `MAX_BATCH_ROWS`.
    """
    from rdkit import Chem, rdBase

    if column not in table.columns:
        raise DataError(f"no column {column!r}; the table has {', '.join(map(str, table.columns))}")
    if len(table) > MAX_BATCH_ROWS:
        raise DataError(
            f"{len(table):,} rows is more than the {MAX_BATCH_ROWS:,} the app predicts at once; "
            "save the SMILES as a .smi file (one per line) and run "
            "`pamnet predict molecules.smi -o predictions.csv` on the command line"
        )
    values = [str(v).strip() for v in table[column].tolist()]
    sample = [v for v in values if v][:_SAMPLE]
    if not sample:
        raise DataError(f"column {column!r} is empty; choose the column that holds SMILES")
    with rdBase.BlockLogs():
        ok = [" " not in v and len(v) < 5000 and Chem.MolFromSmiles(v) is not None for v in sample]
    if sum(ok) * 2 < len(sample):
        bad = sample[ok.index(False)]
        raise DataError(
            f"column {column!r} does not look like SMILES: {sum(ok)} of the first {len(sample)} "
            f"values parse (e.g. {bad[:40]!r}); choose the column that holds SMILES"
        )
    return values
