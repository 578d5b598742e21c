"""pamnet.tables: CSV/TSV/SDF tables of molecules, SMILES columns."""

import pandas as pd
import pytest

from pamnet.errors import DataError, TooLargeError
from pamnet.io import Limits
from pamnet.tables import guess_smiles_column, read_table, smiles_column


def test_smiles_column_validation():
    table = pd.DataFrame({"id": ["a", "b"], "SMILES": ["CCO", "C1CC("], "y": ["1.5", "2"]})
    assert guess_smiles_column(list(table.columns)) == "SMILES"
    assert guess_smiles_column(["id", "canonical_smiles_rdkit"]) == "canonical_smiles_rdkit"
    assert guess_smiles_column(["id", "name"]) is None
    assert smiles_column(table, "SMILES") == ["CCO", "C1CC("]  # bad rows fail on their own
    with pytest.raises(DataError, match="does not look like SMILES"):
        smiles_column(table, "y")
    with pytest.raises(DataError, match="no column 'smile'; the table has id, SMILES, y"):
        smiles_column(table, "smile")
    with pytest.raises(DataError, match="empty"):
        smiles_column(pd.DataFrame({"s": ["", " "]}), "s")
    with pytest.raises(DataError, match="pamnet predict"):
        smiles_column(pd.DataFrame({"s": ["C"] * 11}), "s", max_rows=10)


def test_read_table_csv_tsv_and_typed_errors(tmp_path):
    t = read_table(b"smiles,name\nCCO,ethanol\n", "a.csv")
    assert t.kind == "csv" and t.columns == ["smiles", "name"]
    assert read_table(b"smiles\tname\nCCO\tethanol\n", "a.tsv").columns == ["smiles", "name"]
    with pytest.raises(DataError, match="no data rows"):
        read_table(b"smiles\n", "empty.csv")
    with pytest.raises(DataError, match="nothing.csv is empty; give a header row"):
        read_table(b"", "nothing.csv")
    with pytest.raises(DataError, match="not a readable table"):
        read_table(b'a,b\n"1,2\n', "broken.csv")
    with pytest.raises(TooLargeError):
        read_table(b"smiles\n" + b"C\n" * 100, "big.csv", Limits(max_bytes=50))
    path = tmp_path / "t.csv"
    path.write_text("smiles\nCCO\n")
    assert read_table(path).name == "t.csv"
    with pytest.raises(DataError, match="no such data file"):
        read_table(tmp_path / "missing.csv")
