"""Fine-tuning datasets: CSV of SMILES, SDF with property fields, CSV of complexes.

* CSV of SMILES and target columns: 3D from RDKit (ETKDGv3 + MMFF94, seeded).
* SDF whose property fields hold the targets (the file's 3D coordinates).
* CSV of complexes: a protein-file column, a ligand column (a file, a HETATM residue
  name, or empty to pick the ligand automatically) and affinity columns. Relative
  paths are resolved against `root` (default: the table's folder).

Every unusable row becomes a `RowError` (row = 1-based data row, header not counted;
SDF: record number). Empty target cells are missing values (NaN, masked in the loss).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

import torch

from pamnet.data import GraphInput
from pamnet.errors import DataError, EncodingError, PamnetError, ParseError
from pamnet.finetune.split import split_indices, split_roles  # noqa: F401 - re-exported
from pamnet.tables import SMILES_COLUMNS, Table, read_table

PROTEIN_COLUMNS = ("protein", "protein_file", "receptor", "pdb")
LIGAND_COLUMNS = ("ligand", "ligand_file", "ligand_resname", "resname")
MISSING = {"", "nan", "na", "n/a", "none", "null", "-"}


class Cancelled(PamnetError):
    """A run (or its data loading) was asked to stop; its training state, if any, is saved."""


# --- column mapping ---------------------------------------------------------------
@dataclass
class RowError:
    """One unusable row: 1-based data row (SDF: record), the column at fault, why."""

    row: int
    column: str
    message: str


@dataclass(frozen=True)
class ColumnMap:
    """Which columns hold what. task: 'complex' with a protein column, else 'molecule'."""

    targets: tuple[str, ...]
    smiles: str | None = None
    protein: str | None = None
    ligand: str | None = None

    @property
    def task(self) -> str:
        return "complex" if self.protein else "molecule"


def _find(columns: Sequence[str], wanted: Sequence[str]) -> str | None:
    lower = {c.lower(): c for c in columns}
    return next((lower[w] for w in wanted if w in lower), None)


def guess_columns(table: Table) -> ColumnMap:
    """A first guess: SMILES/protein/ligand columns by name, targets = numeric columns."""
    cols = table.columns
    smiles = _find(cols, SMILES_COLUMNS) if table.kind == "csv" else None
    protein = _find(cols, PROTEIN_COLUMNS) if table.kind == "csv" else None
    ligand = _find(cols, LIGAND_COLUMNS) if protein else None
    taken = {smiles, protein, ligand, "name"}
    targets = []
    for c in cols:
        if c in taken:
            continue
        cells = [v for v in table.frame[c].tolist() if v.strip().lower() not in MISSING]
        if cells and all(_is_number(v) for v in cells):
            targets.append(c)
    return ColumnMap(
        tuple(targets), smiles=None if protein else smiles, protein=protein, ligand=ligand
    )


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


# --- datasets ---------------------------------------------------------------------
@dataclass
class FinetuneData:
    """Usable structures and their targets. y: [n, T] physical units, NaN = missing.

    rows: the 1-based data row of each structure; errors: the rows left out and why.
    """

    graphs: list[GraphInput]
    y: torch.Tensor
    targets: list[str]
    rows: list[int]
    names: list[str]
    errors: list[RowError]
    task: str
    n_rows: int
    source: str
    geometry: str  # 'mmff' (from SMILES), 'file' (SDF/complex files)
    split: list[str] | None = None  # 'train' or 'val' per structure (a split column)
    held_out: int = 0  # rows the split column marks 'test': not read at all

    def report(self):
        """The row errors as a DataFrame (row, column, message)."""
        import pandas as pd

        return pd.DataFrame([asdict(e) for e in self.errors], columns=["row", "column", "message"])


def _column(table: Table, name: str | None, what: str) -> str:
    if name in table.columns:
        return name
    stripped = {c.strip().lower(): c for c in table.columns}
    if name is not None and name.strip().lower() in stripped:
        return stripped[name.strip().lower()]
    hint = f"no {what} column {name!r}" if name else f"no {what} column found"
    raise DataError(
        f"{table.name}: {hint}; available columns: {', '.join(table.columns)}"
        + (" (name it with --smiles-col)" if what == "SMILES" and not name else "")
    )


def resolve_columns(
    table: Table,
    targets: Sequence[str],
    smiles: str | None = None,
    protein: str | None = None,
    ligand: str | None = None,
) -> ColumnMap:
    """Check the asked-for columns exist (DataError lists the available ones)."""
    if not targets:
        raise DataError(
            f"{table.name}: give at least one target column; available columns: "
            f"{', '.join(table.columns)}"
        )
    names = tuple(_column(table, t, "target") for t in targets)
    guess = guess_columns(table)
    if table.kind == "sdf":
        return ColumnMap(names)
    protein = _column(table, protein, "protein") if protein else guess.protein
    if protein:
        ligand = _column(table, ligand, "ligand") if ligand else guess.ligand
        return ColumnMap(names, protein=protein, ligand=ligand)
    return ColumnMap(names, smiles=_column(table, smiles or guess.smiles, "SMILES"))


def load_dataset(
    source: str | os.PathLike | bytes | Table,
    targets: Sequence[str],
    smiles_col: str | None = None,
    protein_col: str | None = None,
    ligand_col: str | None = None,
    *,
    name: str | None = None,
    root: str | os.PathLike | None = None,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    stop: Callable[[], bool] | None = None,
    split_col: str | None = None,
    workers: int = 1,
) -> FinetuneData:
    """Featurize every usable row; bad rows go to `errors`. All rows bad -> DataError.
    split_col: a column saying train, val (validation) or test per row; test rows are
    skipped unread, so that a benchmark's test set never reaches the fine-tune.
    workers > 1: SMILES are embedded in that many processes (the same geometries)."""
    from pamnet.io.smiles import from_smiles_many

    table = source if isinstance(source, Table) else read_table(source, name)
    cmap = resolve_columns(table, targets, smiles_col, protein_col, ligand_col)
    roles = split_roles(table, split_col) if split_col else None
    split, held_out = ([] if roles else None), 0
    if root is None and not isinstance(source, (bytes, Table)):
        root = Path(source).resolve().parent
    graphs, ys, rows, names, errors = [], [], [], [], []
    frame, n = table.frame, len(table.frame)
    checked = {}  # row index -> (target values, bad cells), for rows to featurize
    for i in range(n):
        if roles is not None and roles[i] != "train" and roles[i] != "val":
            continue
        if i in table.record_errors:  # an unreadable SDF record has no fields to check
            checked[i] = [], [("structure", table.record_errors[i])]
        else:
            checked[i] = _targets(frame, i, cmap.targets)
    smiles = (
        [str(frame.at[i, cmap.smiles]).strip() for i, (_, b) in checked.items() if not b]
        if cmap.smiles
        else []
    )
    with closing(from_smiles_many(smiles, seed, workers)) as embedded:
        for i in range(n):
            if stop is not None and stop():
                raise Cancelled("stopped while reading the data")
            row, g = i + 1, None
            if roles is not None and roles[i] == "test":
                held_out += 1
                continue
            if roles is not None and roles[i] not in ("train", "val"):
                errors.append(RowError(row, split_col, roles[i]))
                continue
            values, bad = checked[i]
            errors.extend(RowError(row, c, m) for c, m in bad)
            try:
                g = None if bad else _graph(table, cmap, i, root, embedded)
            except _RowProblem as exc:
                errors.append(RowError(row, exc.column, str(exc)))
            if g is not None:
                graphs.append(g)
                ys.append(values)
                rows.append(row)
                names.append(g.name)
                if split is not None:
                    split.append(roles[i])
            if progress is not None:
                progress(i + 1, n)
    if not graphs:
        shown = "; ".join(f"row {e.row} [{e.column}]: {e.message}" for e in errors[:5])
        more = "; ..." if len(errors) > 5 else ""
        raise DataError(
            f"{table.name}: none of its {n} rows is usable ({shown}{more}). "
            f"Available columns: {', '.join(table.columns)}"
        )
    return FinetuneData(
        graphs=graphs,
        y=torch.tensor(ys, dtype=torch.float64),
        targets=list(cmap.targets),
        rows=rows,
        names=names,
        errors=errors,
        task=cmap.task,
        n_rows=n,
        source=table.name,
        geometry="mmff" if cmap.smiles else "file",
        split=split,
        held_out=held_out,
    )


def check_rows(
    table: Table, cmap: ColumnMap, root: str | os.PathLike | None = None
) -> list[RowError]:
    """Fast checks of every row without building 3D structures (for previews).

    Targets must be numbers; SMILES must parse with RDKit and hold only elements a
    molecule model can take (`featurize.ORGANIC`); SDF records must be readable with
    those elements; complex files must exist.
    `load_dataset` repeats these and also reports rows whose 3D embedding fails.
    """
    errors = []
    for i in range(len(table.frame)):
        if i in table.record_errors:
            errors.append(RowError(i + 1, "structure", table.record_errors[i]))
            continue
        _, bad = _targets(table.frame, i, cmap.targets)
        errors.extend(RowError(i + 1, c, m) for c, m in bad)
        try:
            _quick(table, cmap, i, root)
        except _RowProblem as exc:
            errors.append(RowError(i + 1, exc.column, str(exc)))
    return errors


def _quick(table: Table, cmap: ColumnMap, i: int, root) -> None:
    from pamnet.featurize import ORGANIC

    if table.kind == "sdf":
        elements = set(table.structures[i].elements)
        column = "structure"
    elif cmap.smiles:
        from rdkit import Chem

        from pamnet.io._rdkit import quiet

        text = str(table.frame.at[i, cmap.smiles]).strip()
        with quiet():
            mol = Chem.MolFromSmiles(text) if text and " " not in text else None
        if mol is None or mol.GetNumAtoms() == 0:
            raise _RowProblem(cmap.smiles, f"RDKit cannot parse the SMILES {text[:60]!r}")
        elements, column = {a.GetSymbol() for a in mol.GetAtoms()}, cmap.smiles
    else:
        _path(table.frame.at[i, cmap.protein], root, cmap.protein)
        lig = str(table.frame.at[i, cmap.ligand]).strip() if cmap.ligand else ""
        if lig and Path(lig).suffix:
            _path(lig, root, cmap.ligand)
        return
    unknown = sorted(elements - set(ORGANIC))
    if unknown:
        raise _RowProblem(
            column,
            f"elements {', '.join(unknown)}: molecule models here take {', '.join(ORGANIC)}; "
            "leave this row out (metal complexes need complex mode)",
        )


class _RowProblem(Exception):
    def __init__(self, column: str, message: str):
        super().__init__(message)
        self.column = column


def _targets(frame, i: int, targets: Sequence[str]) -> tuple[list[float], list[tuple[str, str]]]:
    values, bad = [], []
    for t in targets:
        cell = str(frame.at[i, t]).strip()
        if cell.lower() in MISSING:
            values.append(math.nan)
        elif _is_number(cell):
            values.append(float(cell))
        else:
            values.append(math.nan)
            bad.append((t, f"{cell[:40]!r} is not a number"))
    if not bad and all(math.isnan(v) for v in values):
        bad.append((targets[0] if len(targets) == 1 else ",".join(targets), "no target value"))
    return values, bad


def _graph(table: Table, cmap: ColumnMap, i: int, root, embedded: Iterator) -> GraphInput:
    """Molecules are featurized with atom types indexed in `ORGANIC` (QM9's five first);
    `pamnet.finetune.elements` maps them onto the model's own element table.
    embedded: the structures of the SMILES rows, this one next (`from_smiles_many`)."""
    from pamnet.featurize import ORGANIC, complex_input, molecule_input
    from pamnet.io import read_one

    try:
        if table.kind == "sdf":
            return molecule_input(table.structures[i], elements=ORGANIC)
        if cmap.smiles:
            column = cmap.smiles
            built = next(embedded)
            if isinstance(built, str):
                raise _RowProblem(column, built)
            return molecule_input(built, elements=ORGANIC)
        column = cmap.protein
        protein = read_one(_path(table.frame.at[i, cmap.protein], root, cmap.protein))
        lig = str(table.frame.at[i, cmap.ligand]).strip() if cmap.ligand else ""
        column = cmap.ligand or cmap.protein
        if lig and Path(lig).suffix:
            return complex_input(protein, read_one(_path(lig, root, cmap.ligand)))
        return complex_input(protein, ligand_resname=lig or None)
    except _RowProblem:
        raise
    except PamnetError as exc:
        where = column if table.kind == "csv" else "structure"
        if cmap.smiles or table.kind == "sdf":
            raise _RowProblem(where, str(exc)) from None
        if isinstance(exc, (ParseError, EncodingError)):
            # a file the table names: which, and where, but never its text
            line = f" (line {exc.line})" if getattr(exc, "line", None) else ""
            named = str(table.frame.at[i, column]).strip()[:120]
            message = f"{named}: not a readable structure file{line}; open it to check"
            raise _RowProblem(where, message) from None
        raise _RowProblem(where, str(exc)) from None


def _path(cell: str, root, column: str) -> Path:
    """The file a table cell names, only ever inside `root` (the table's folder or the
    one given): absolute paths, `~`, `..` and symlinks that lead out are refused. The
    messages name the path as written, never the root or any file's content."""
    text = str(cell).strip()
    if not text:
        raise _RowProblem(column, "empty file path")
    shown = text[:120]
    if root is None:
        raise _RowProblem(
            column, f"{shown!r} names a file, but the table came without its folder; "
            "give root= (CLI: --root) the folder that holds the structure files"
        )  # fmt: skip
    rel = PurePosixPath(text.replace("\\", "/"))
    if rel.is_absolute() or text.startswith("~") or PureWindowsPath(text).drive:
        raise _RowProblem(column, f"{shown!r} is not a relative path; paths in a table "
                                  "are relative to the table's folder (or --root)")  # fmt: skip
    base = Path(root).resolve()
    path = (base / rel).resolve()
    if not path.is_relative_to(base):
        raise _RowProblem(column, f"{shown!r} points outside the table's folder (or --root); "
                                  "move the file inside it")  # fmt: skip
    if not path.is_file():
        raise _RowProblem(column, f"missing file {shown}")
    return path
