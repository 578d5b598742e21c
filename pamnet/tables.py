"""Tables of molecules: CSV/TSV with a SMILES column (or file columns), SDF records.

Read as text cells (nothing is evaluated: pandas' C parser, within `pamnet.io.Limits`).
Used by batch prediction (`pamnet predict table.csv --smiles-col ...`, the Predict page)
and by fine-tuning datasets (`pamnet.finetune.data`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pamnet.errors import DataError, PamnetError
from pamnet.io._text import Limits, check_size, read_bytes

SMILES_COLUMNS = ("smiles", "smi", "canonical_smiles", "isomeric_smiles")
TABLE_SUFFIXES = (".csv", ".tsv", ".tab")
_SAMPLE = 50  # values checked when validating a SMILES column


@dataclass
class Table:
    """A dataset file as text cells: kind 'csv' or 'sdf'; SDF records are parsed once."""

    kind: str
    frame: object  # pandas.DataFrame of str cells, one row per data row / record
    name: str
    structures: list | None = None  # SDF: Structure per record, None where unreadable
    record_errors: dict[int, str] = field(default_factory=dict)  # SDF: row index -> error

    @property
    def columns(self) -> list[str]:
        return [str(c) for c in self.frame.columns]


def read_table(
    source: str | os.PathLike | bytes,
    name: str | None = None,
    limits: Limits = Limits(),  # noqa: B008 - frozen dataclass, safe as a default
) -> Table:
    """Read a CSV, TSV or SDF table (path or uploaded bytes; kind from the name's
    extension: .tsv/.tab tab-separated, .sdf/.sd/.mol SDF, else comma-separated).
    Cells stay text. `DataError`/`TooLargeError` say what is wrong with the file."""
    import io

    import pandas as pd

    from pamnet.io._text import decode

    label = name or (Path(source).name if not isinstance(source, bytes) else "upload.csv")
    if not isinstance(source, bytes):
        if not Path(source).is_file():
            raise DataError(f"no such data file: {source}")
        source = read_bytes(Path(source), limits)
    check_size(source, limits, label)
    if not source.strip():
        raise DataError(f"{label} is empty; give a header row and one row per molecule")
    try:
        text = decode(source, label)
    except PamnetError as exc:
        raise DataError(str(exc)) from None
    suffix = Path(label).suffix.lower()
    if suffix in (".sdf", ".sd", ".mol"):
        return _read_sdf_table(text, label)
    sep = "\t" if suffix in (".tsv", ".tab") else ","
    try:
        frame = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False)
    except Exception as exc:  # noqa: BLE001 - pandas raises several parser errors
        kind = "tab-separated" if sep == "\t" else "comma-separated"
        raise DataError(
            f"{label}: not a readable table ({type(exc).__name__}: {str(exc)[:200]}); "
            f"save it as {kind} text with a header row"
        ) from None
    if frame.empty or not len(frame.columns):
        raise DataError(f"{label} has no data rows; give a header row and one row per molecule")
    frame.columns = [str(c).strip() for c in frame.columns]
    return Table("csv", frame, label)


def _read_sdf_table(text: str, label: str) -> Table:
    """An SDF as a table: one row per record (its name and data fields); records that
    cannot be read keep their row, with the reason in `errors`."""
    import pandas as pd

    from pamnet.io import read_records

    try:
        records = read_records(text.encode(), fmt="sdf", name=label)
    except PamnetError as exc:
        raise DataError(str(exc)) from None
    structures, rows, errors = [], [], {}
    for k, rec in enumerate(records):
        structures.append(rec.structure)
        if rec.ok:
            props = rec.structure.properties
            rows.append({"name": rec.name, **{str(a): str(b) for a, b in props.items()}})
        else:
            rows.append({"name": rec.name})
            errors[k] = rec.message
    frame = pd.DataFrame(rows).fillna("").astype(str)
    return Table("sdf", frame, label, structures, errors)


def guess_smiles_column(columns: Sequence[str]) -> str | None:
    """The column called SMILES (any case; also smi, canonical_smiles, ...), else the first
    whose name contains 'smiles', else None."""
    lowered = [str(c).strip().lower() for c in columns]
    for want in SMILES_COLUMNS:
        if want in lowered:
            return columns[lowered.index(want)]
    return next((columns[i] for i, c in enumerate(lowered) if "smiles" in c), None)


def smiles_column(frame, column: str, max_rows: int | None = None) -> list[str]:
    """The SMILES of `column` (stripped; empty cells stay, and fail on their own row).

    `DataError` when there is no such column, when it does not hold SMILES (fewer than
    half of the first non-empty values parse) or when the table has over `max_rows`.
    """
    from rdkit import Chem, rdBase

    if column not in frame.columns:
        raise DataError(f"no column {column!r}; the table has {', '.join(map(str, frame.columns))}")
    if max_rows is not None and len(frame) > max_rows:
        raise DataError(
            f"{len(frame):,} rows is more than the {max_rows:,} predicted at once here; "
            "run `pamnet predict table.csv --smiles-col COLUMN -o predictions.csv` "
            "on the command line"
        )
    values = [str(v).strip() for v in frame[column].tolist()]
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
